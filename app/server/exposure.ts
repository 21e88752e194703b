import net from 'node:net';
import os from 'node:os';
import { addressesElsewhere, bare, isLoopback, isLoopbackHost, isOwnAddress, isWildcard, ownAddresses, systemLookup, type Interfaces, type Lookup } from '../addresses';
import { BerthError, ExitCode } from '../errors';
import { visible } from '../terminal-text';

/**
 * Whether Berth listens where other machines can reach it. Loopback is the
 * default and needs nothing; anything else is a visible choice: warned about
 * at start, printed with its real address, and shown on the Status page
 * (`exposed` and `listenAddress` in the host's status).
 */
export interface Exposure {
  exposed: boolean;
  /** The addresses the host stands for: what a name resolves to, or this machine's addresses for a wildcard. */
  addresses: string[];
}

export interface ExposureDeps {
  /** Resolve a host name the way listen() will (getaddrinfo, /etc/hosts included). */
  lookup?: Lookup;
  interfaces?: () => Interfaces;
}

/**
 * Check the host Berth is about to listen on: an address must be one of this
 * machine's, and a name must resolve only to this machine's addresses (the
 * Host allowlist trusts that name). Throws BerthError (exit 2) otherwise.
 */
export async function checkListenHost(host: string, deps: ExposureDeps = {}): Promise<Exposure> {
  const interfaces = (deps.interfaces ?? os.networkInterfaces)();
  const own = ownAddresses(interfaces);
  const h = bare(host);
  if (isWildcard(h)) {
    const v4only = h === '0.0.0.0';
    const addresses: string[] = [];
    for (const list of Object.values(interfaces)) {
      for (const i of list ?? []) if (!i.internal && (!v4only || i.family === 'IPv4')) addresses.push(i.address);
    }
    return { exposed: true, addresses };
  }
  if (h === 'localhost') return { exposed: false, addresses: ['127.0.0.1', '::1'] };
  if (net.isIP(h)) {
    if (!isOwnAddress(h, own)) {
      throw new BerthError(`Host ${host} is not an address of this machine, so Berth cannot listen there. Use 127.0.0.1, or one of: ${own.join(', ')}.`, ExitCode.usage, { host });
    }
    return { exposed: !isLoopback(h), addresses: [h] };
  }
  let resolved: string[];
  try {
    resolved = await (deps.lookup ?? systemLookup)(h);
  } catch (err) {
    throw new BerthError(`Host ${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)}); use an address such as 127.0.0.1.`, ExitCode.usage, { host });
  }
  const elsewhere = addressesElsewhere(resolved, own);
  if (resolved.length === 0 || elsewhere.length) {
    throw new BerthError(
      `Host ${host} resolves to ${resolved.length ? elsewhere.map((a) => visible(a, 64)).join(', ') : 'nothing'}, which ${elsewhere.length === 1 ? 'is not an address' : 'are not addresses'} of this machine. ` +
        `Berth answers to a host name only when every address it stands for is this machine's; use 127.0.0.1 or this machine's own address.`,
      ExitCode.usage,
      { host, resolved },
    );
  }
  return { exposed: resolved.some((a) => !isLoopback(a)), addresses: resolved };
}

const hostPort = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;

/** What a listening server really holds: its address and whether other machines can reach it. */
export function listenerOf(server: net.Server | null, host: string, port: number): { exposed: boolean; listenAddress: string } {
  const a = server?.listening ? server.address() : null;
  if (a && typeof a === 'object') return { exposed: !isLoopback(a.address), listenAddress: hostPort(a.address, a.port) };
  const h = bare(host);
  return { exposed: !isLoopbackHost(h), listenAddress: hostPort(h, port) };
}

/** The start-up warning for a listener beyond loopback: where it listens, who chose it, and what still protects it. */
export function exposureWarning(opts: { host: string; port: number; hostFrom: string; remoteAllowedBy: string | null }, exposure: Exposure): string {
  const where = isWildcard(opts.host) ? `every address of this machine (${opts.host})` : opts.host;
  const reach = exposure.addresses.filter((a) => !isLoopback(a)).map((a) => `http://${hostPort(a, opts.port)}`);
  const why = opts.remoteAllowedBy ? `from ${opts.hostFrom}, allowed by ${opts.remoteAllowedBy}` : `from ${opts.hostFrom}`;
  return (
    `Berth listens on ${where} port ${opts.port} (${why}): other machines on your network can reach it` +
    (reach.length ? ` at ${reach.slice(0, 4).join(', ')}${reach.length > 4 ? ', ...' : ''}` : '') +
    '. Every change still needs the sign-in token.'
  );
}
