import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';

/**
 * Which addresses are this machine's. Three checks ask: where Berth may
 * listen at start (server/exposure.ts), which host a CLI command may look at
 * (instance/local-address.ts), and where Settings may move the server
 * (lifecycle/address-check.ts). They take their answers from here, so a host
 * one of them accepts is not refused by another at the next start.
 */

export type Interfaces = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

/** Name resolution: every address a name stands for. */
export type Lookup = (host: string) => Promise<string[]>;

/** A host without URL brackets, spaces or capitals, and an IPv6 address without its zone id: "[FE80::1%eth0]" is "fe80::1". */
export function bare(host: string): string {
  const h = host.trim().replace(/^\[|\]$/g, '').toLowerCase();
  // Only IPv6 has zones; "127.0.0.1%x" stays as written and is no address at all.
  return h.includes(':') ? h.replace(/%.*$/, '') : h;
}

/**
 * One spelling per address, so that fd00:0:0:0:0:0:0:2 is fd00::2 and an
 * IPv4 address written the IPv6 way (::ffff:192.0.2.2) is that IPv4 address.
 * Anything that is not an IP address comes back bare.
 */
function canonical(host: string): string {
  const a = bare(host);
  // Not net.isIPv6: its first call compiles a large regular expression, about
  // 9 ms that every `berth serve` would pay at start for 127.0.0.1.
  if (!a.includes(':')) return a;
  let v6: string;
  try {
    v6 = new net.SocketAddress({ address: a, family: 'ipv6' }).address;
  } catch {
    return a; // not an IPv6 address
  }
  return v6.startsWith('::ffff:') && net.isIPv4(v6.slice(7)) ? v6.slice(7) : v6;
}

/** A host that means every address of this machine ('' is listen() without a host). */
export function isWildcard(host: string): boolean {
  const a = canonical(host);
  return a === '' || a === '0.0.0.0' || a === '::';
}

/** An address only this machine can reach: all of 127/8, and ::1. */
export function isLoopback(address: string): boolean {
  const a = canonical(address);
  return a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
}

/** A host only this machine can reach: a loopback address, or the name localhost. */
export function isLoopbackHost(host: string): boolean {
  return bare(host) === 'localhost' || isLoopback(host);
}

/** This machine's addresses, loopback first, in the form a message can list them. */
export function ownAddresses(interfaces: Interfaces = os.networkInterfaces()): string[] {
  const out = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(interfaces)) for (const i of list ?? []) out.add(bare(i.address));
  return [...out];
}

/** Whether Berth can listen on `address` here: a wildcard, loopback, or one of `own` (see ownAddresses). */
export function isOwnAddress(address: string, own: readonly string[]): boolean {
  const a = canonical(address);
  return isWildcard(a) || isLoopback(a) || own.some((o) => canonical(o) === a);
}

/**
 * The addresses a name resolves to that are not this machine's. A name must
 * stand only for this machine: the Host allowlist trusts it, and a browser
 * given the name may go to any of its addresses. A wildcard is not an address
 * a name can stand for: listen() on the name would take every address, and
 * no browser reaches Berth at 0.0.0.0.
 */
export function addressesElsewhere(resolved: readonly string[], own: readonly string[]): string[] {
  return resolved.filter((a) => isWildcard(a) || !isOwnAddress(a, own));
}

const LOOKUP_TIMEOUT_MS = 5000;

/**
 * The system resolver, as listen() uses it (getaddrinfo, /etc/hosts
 * included), in the order it gives. It gives up after 5 s (code ETIMEOUT) so
 * that an unreachable DNS server makes a clear error instead of a hang.
 */
export const systemLookup: Lookup = async (host) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('lookup timed out'), { code: 'ETIMEOUT' })), LOOKUP_TIMEOUT_MS);
  });
  try {
    const found = await Promise.race([dns.lookup(host, { all: true, order: 'verbatim' }), timeout]);
    return found.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
};
