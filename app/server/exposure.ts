import dns from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
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
  lookup?: (host: string) => Promise<string[]>;
  interfaces?: () => NodeJS.Dict<os.NetworkInterfaceInfo[]>;
}

const defaultLookup = async (host: string) => (await dns.lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const bare = (a: string) => a.replace(/^\[|\]$/g, '').toLowerCase();

export function isWildcard(host: string): boolean {
  const h = bare(host);
  return h === '0.0.0.0' || h === '::' || h === '';
}

export function isLoopbackAddress(address: string): boolean {
  const a = bare(address).replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** Every address of this machine (loopback included), lower-case, without zone ids. */
export function localAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(interfaces)) for (const i of list ?? []) out.add(i.address.toLowerCase().replace(/%.*$/, ''));
  return out;
}

function isLocal(address: string, local: Set<string>): boolean {
  const a = bare(address).replace(/%.*$/, '');
  return isLoopbackAddress(a) || local.has(a) || local.has(a.replace(/^::ffff:/, ''));
}

/**
 * Check the host Berth is about to listen on: an address must be one of this
 * machine's, and a name must resolve only to this machine's addresses (the
 * Host allowlist trusts that name). Throws BerthError (exit 2) otherwise.
 */
export async function checkListenHost(host: string, deps: ExposureDeps = {}): Promise<Exposure> {
  const interfaces = (deps.interfaces ?? os.networkInterfaces)();
  const local = localAddresses(interfaces);
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
    if (!isLocal(h, local)) {
      throw new BerthError(`Host ${host} is not an address of this machine, so Berth cannot listen there. Use 127.0.0.1, or one of: ${[...local].join(', ')}.`, ExitCode.usage, { host });
    }
    return { exposed: !isLoopbackAddress(h), addresses: [h] };
  }
  let resolved: string[];
  try {
    resolved = await (deps.lookup ?? defaultLookup)(h);
  } catch (err) {
    throw new BerthError(`Host ${host} could not be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)}); use an address such as 127.0.0.1.`, ExitCode.usage, { host });
  }
  const elsewhere = resolved.filter((a) => !isLocal(a, local));
  if (resolved.length === 0 || elsewhere.length) {
    throw new BerthError(
      `Host ${host} resolves to ${resolved.length ? elsewhere.map((a) => visible(a, 64)).join(', ') : 'nothing'}, which ${elsewhere.length === 1 ? 'is not an address' : 'are not addresses'} of this machine. ` +
        `Berth answers to a host name only when every address it stands for is this machine's; use 127.0.0.1 or this machine's own address.`,
      ExitCode.usage,
      { host, resolved },
    );
  }
  return { exposed: resolved.some((a) => !isLoopbackAddress(a)), addresses: resolved };
}

const hostPort = (address: string, port: number) => `${address.includes(':') ? `[${address}]` : address}:${port}`;

/** What a listening server really holds: its address and whether other machines can reach it. */
export function listenerOf(server: net.Server | null, host: string, port: number): { exposed: boolean; listenAddress: string } {
  const a = server?.listening ? server.address() : null;
  if (a && typeof a === 'object') return { exposed: !isLoopbackAddress(a.address), listenAddress: hostPort(a.address, a.port) };
  const h = bare(host);
  return { exposed: !(h === 'localhost' || isLoopbackAddress(h)), listenAddress: hostPort(h, port) };
}

/** The start-up warning for a listener beyond loopback: where it listens, who chose it, and what still protects it. */
export function exposureWarning(opts: { host: string; port: number; hostFrom: string; remoteAllowedBy: string | null }, exposure: Exposure): string {
  const where = isWildcard(opts.host) ? `every address of this machine (${opts.host})` : opts.host;
  const reach = exposure.addresses.filter((a) => !isLoopbackAddress(a)).map((a) => `http://${hostPort(a, opts.port)}`);
  const why = opts.remoteAllowedBy ? `from ${opts.hostFrom}, allowed by ${opts.remoteAllowedBy}` : `from ${opts.hostFrom}`;
  return (
    `Berth listens on ${where} port ${opts.port} (${why}): other machines on your network can reach it` +
    (reach.length ? ` at ${reach.slice(0, 4).join(', ')}${reach.length > 4 ? ', ...' : ''}` : '') +
    '. Every change still needs the sign-in token.'
  );
}
