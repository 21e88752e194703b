import net from 'node:net';
import { addressesElsewhere, bare, isOwnAddress, ownAddresses, systemLookup, type Interfaces, type Lookup } from '../addresses';

/**
 * Whether Berth can listen on a host at all: it must be an address of this
 * computer (one of its interfaces, loopback, or a wildcard), or a name that
 * stands only for such addresses. Asked before anything binds, so
 * `--host evil.com` is a clear usage error instead of a raw getaddrinfo or
 * EADDRNOTAVAIL failure after the server has loaded.
 */

/**
 * Why Berth cannot listen on `host`, as the end of a sentence ("is not an
 * address of this computer ..."), or null when it can.
 */
export async function notOwnHost(host: string, opts: { lookup?: Lookup; interfaces?: Interfaces } = {}): Promise<string | null> {
  const h = bare(host);
  if (h === 'localhost') return null;
  const own = ownAddresses(opts.interfaces);
  if (net.isIP(h)) return isOwnAddress(h, own) ? null : 'is not an address of this computer';
  let resolved: string[];
  try {
    resolved = await (opts.lookup ?? systemLookup)(h);
  } catch {
    resolved = [];
  }
  if (resolved.length === 0) return 'is not an address of this computer (the name does not resolve here)';
  const elsewhere = addressesElsewhere(resolved, own);
  return elsewhere.length ? `is not an address of this computer (it resolves to ${elsewhere.join(', ')})` : null;
}
