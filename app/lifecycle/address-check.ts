/**
 * Can Berth take this address? Asked before a settings save moves the
 * server, so that settings.json never holds an address that fails at the next
 * start. In order: is the host an address of this computer (no packet leaves
 * the machine before that is known), what does the probe find on the port,
 * and does a bind really succeed. The wording is for the settings field.
 */
import net from 'node:net';
import { addressesElsewhere, bare, isWildcard, ownAddresses, systemLookup, type Lookup } from '../addresses';
import { errorCode } from '../errors';
import { probePort, type ProbeResult } from '../instance/probe';

export type AddressCheck =
  /** Free, and a bind succeeded (and was let go again). */
  | { kind: 'ok'; probe: ProbeResult }
  /** This very Berth answers there (127.0.0.1 -> 0.0.0.0 on the port it holds): only a fresh start can switch. */
  | { kind: 'ours'; probe: ProbeResult }
  | { kind: 'problem'; field: 'host' | 'port'; message: string; probe: ProbeResult | null; code?: string; freePort?: number };

export interface AddressCheckOptions {
  /** This process's instance id: finding ourselves on the port is not a conflict. */
  instance: string;
  probeTimeout?: number;
  /** The addresses of this computer (default: its interfaces' and loopback). */
  localAddresses?: () => string[];
  /** Name resolution (default: the system resolver, like listen() itself). */
  lookup?: Lookup;
}

/**
 * Why `host` is not an address of this computer, or null when it is. A name
 * must resolve, and every address it resolves to must be local: listen()
 * takes the first one, and a name that also points elsewhere would send
 * the person's browser there.
 */
export function hostProblem(host: string, resolved: { addresses: string[] } | { error: string }, local: string[]): string | null {
  if ('error' in resolved) return `${host} is not a name of this computer: it does not resolve (${resolved.error}).`;
  const elsewhere = addressesElsewhere(resolved.addresses, local);
  if (net.isIP(bare(host))) return elsewhere.length ? `This computer has no address ${bare(host)}.` : null;
  if (resolved.addresses.length === 0) return `${host} is not a name of this computer: it does not resolve.`;
  return elsewhere.length ? `${host} resolves to ${elsewhere.join(', ')}, which is not an address of this computer.` : null;
}

/** What is on the port, in the words the port field shows: "Port 9000 is used by nginx/1.25." */
export function portProblem(probe: ProbeResult, instance: string): string | null {
  const port = probe.port;
  switch (probe.verdict) {
    case 'free':
      return null;
    case 'duplicate':
    case 'predecessor':
      if (probe.running.instance === instance) return null;
      return `Port ${port} is used by another Berth (version ${probe.running.version}, pid ${probe.running.pid}).`;
    case 'foreign':
      // The Server header names the program ("nginx/1.25.3"); otherwise the probe's own description.
      return `Port ${port} is used by ${probe.server ? probe.server : probe.what}.`;
    case 'silent':
      return `Port ${port} is held by a program that does not answer (${probe.what}).`;
  }
}

/** Words for a bind that failed after the probe found nothing. */
export function bindProblem(code: string | undefined, host: string, port: number): { field: 'host' | 'port'; message: string } {
  switch (code) {
    case 'EADDRINUSE':
      return { field: 'port', message: `Port ${port} is in use by another program (it did not answer the probe).` };
    case 'EADDRNOTAVAIL':
      return { field: 'host', message: `This computer has no address ${bare(host)}.` };
    case 'EACCES':
      return { field: 'port', message: `Port ${port} needs administrator rights (ports below 1024 do); choose a port above 1024.` };
    default:
      return { field: 'port', message: `Berth could not listen on ${host} port ${port} (${code ?? 'unknown error'}).` };
  }
}

/** Bind host:port and let go at once; resolves with the error code, or null when the bind worked. */
export function tryBind(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err) => resolve(errorCode(err) ?? 'unknown'));
    server.listen({ host, port }, () => server.close(() => resolve(null)));
  });
}

/** The next port after `port` that the probe finds free and a bind confirms, within a few tries. */
export async function nextFreePort(host: string, port: number, opts: { probeTimeout?: number; tries?: number } = {}): Promise<number | undefined> {
  for (let p = port + 1, n = 0; p <= 65535 && n < (opts.tries ?? 20); p++, n++) {
    const seen = await probePort(host, p, { timeout: opts.probeTimeout ?? 500 });
    if (seen.verdict === 'free' && (await tryBind(host, p)) === null) return p;
  }
  return undefined;
}

export async function checkAddress(host: string, port: number, opts: AddressCheckOptions): Promise<AddressCheck> {
  const local = (opts.localAddresses ?? ownAddresses)();
  if (!isWildcard(host)) {
    let resolved: { addresses: string[] } | { error: string };
    if (net.isIP(bare(host))) resolved = { addresses: [bare(host)] };
    else {
      try {
        resolved = { addresses: await (opts.lookup ?? systemLookup)(host) };
      } catch (err) {
        resolved = { error: errorCode(err) ?? (err as Error).message };
      }
    }
    const problem = hostProblem(host, resolved, local);
    if (problem) return { kind: 'problem', field: 'host', message: problem, probe: null, code: 'error' in resolved ? resolved.error : 'EADDRNOTAVAIL' };
  }
  const probe = await probePort(host, port, { timeout: opts.probeTimeout });
  if ((probe.verdict === 'duplicate' || probe.verdict === 'predecessor') && probe.running.instance === opts.instance) return { kind: 'ours', probe };
  const taken = portProblem(probe, opts.instance);
  if (taken) return { kind: 'problem', field: 'port', message: taken, probe, freePort: await nextFreePort(host, port, { probeTimeout: opts.probeTimeout }) };
  const code = await tryBind(host, port);
  if (code === null) return { kind: 'ok', probe };
  const failed = bindProblem(code, host, port);
  return {
    kind: 'problem',
    ...failed,
    probe,
    code,
    freePort: failed.field === 'port' && code !== 'EACCES' ? await nextFreePort(host, port, { probeTimeout: opts.probeTimeout }) : undefined,
  };
}
