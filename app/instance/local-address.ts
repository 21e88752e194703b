import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';

/**
 * Whether Berth can listen on a host at all: it must be an address of this
 * computer (one of its interfaces, loopback, or a wildcard). Asked before
 * anything binds, so `--host evil.com` is a clear usage error instead of a
 * raw getaddrinfo or EADDRNOTAVAIL failure after the server has loaded.
 */

type Interfaces = ReturnType<typeof os.networkInterfaces>;
export type Lookup = (host: string) => Promise<string>;

/** True for an IP address (v4 or v6, brackets allowed) that this computer has. */
export function isOwnAddress(ip: string, interfaces: Interfaces = os.networkInterfaces()): boolean {
  const a = normalise(ip);
  if (ALWAYS_OWN.has(a) || /^127\.\d+\.\d+\.\d+$/.test(a)) return true;
  for (const list of Object.values(interfaces)) {
    for (const i of list ?? []) if (normalise(i.address) === a) return true;
  }
  return false;
}

function normalise(ip: string): string {
  const a = ip.trim().replace(/^\[|\]$/g, '').toLowerCase();
  // An IPv4 address written the IPv6 way (::ffff:192.0.2.2) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  const plain = mapped ? mapped[1]! : a.replace(/%.*$/, '');
  return net.isIPv6(plain) ? expand(plain) : plain;
}

/** One spelling per IPv6 address, so fd00::2 matches fd00:0:0:0:0:0:0:2. */
function expand(ip: string): string {
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

// The wildcards (every address) and loopback, which every computer has.
const ALWAYS_OWN = new Set(['', '0.0.0.0', normalise('::'), normalise('::1')]);

/** Resolve a name the way a listen() on it would: the first address getaddrinfo gives. */
const systemLookup: Lookup = (host) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEOUT' })), 5000);
    dns.lookup(host, (err, address) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(address);
    });
  });

/**
 * Why Berth cannot listen on `host`, as the end of a sentence ("is not an
 * address of this computer ..."), or null when it can.
 */
export async function notOwnHost(host: string, opts: { lookup?: Lookup; interfaces?: Interfaces } = {}): Promise<string | null> {
  const h = host.trim();
  if (h.toLowerCase() === 'localhost') return null;
  if (net.isIP(h.replace(/^\[|\]$/g, ''))) return isOwnAddress(h, opts.interfaces) ? null : 'is not an address of this computer';
  let address: string;
  try {
    address = await (opts.lookup ?? systemLookup)(h);
  } catch {
    return 'is not an address of this computer (the name does not resolve here)';
  }
  return isOwnAddress(address, opts.interfaces) ? null : `is not an address of this computer (it resolves to ${address})`;
}
