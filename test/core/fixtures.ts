import http from 'node:http';
import net from 'node:net';
import { createBerth, type Berth, type BerthOptions } from '../../app/berth';
import { BerthError, ExitCode } from '../../app/errors';
import type { ServerHost } from '../../app/lifecycle/host';
import { memoryLogSink } from '../../app/log';
import { rendererDir } from '../../app/paths';
import { headlessUpdates } from '../../app/update/headless';
import { tempDataDir } from '../helpers';

/**
 * Berth as shipped (createBerth, as `berth serve` composes it) in this
 * process, on a real port, with a fresh data dir, its log in memory and the
 * headless update service with no feed. Nothing ends the process: the test
 * watches the host's 'exit' itself.
 */
export function makeBerth(port: number, opts: Partial<BerthOptions> = {}): Promise<Berth> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const logs = opts.logs ?? memoryLogSink();
  const version = opts.version ?? '9.9.9-test';
  return createBerth({
    host: '127.0.0.1',
    port,
    version,
    rendererDir: rendererDir(),
    probeTimeout: 500,
    handoffDeadline: 3000,
    updates: headlessUpdates({ dataDir, version, logs, env: {} }),
    relaunchPlan: () => {
      throw new BerthError('This Berth cannot relaunch itself (no relaunch plan configured).', ExitCode.unexpected);
    },
    exit: () => undefined,
    exitOnConflict: false,
    ...opts,
    dataDir,
    logs,
  });
}

/**
 * The host of makeBerth's Berth, for the tests of the host's own behaviour
 * (claim, drain, restart, relaunch): they start and stop it themselves
 * (host.start(), which is berth.start() without a hosted app, guardian
 * reports or update checks, none of which they have).
 */
export async function makeHost(port: number, opts: Partial<BerthOptions> = {}): Promise<ServerHost> {
  return (await makeBerth(port, opts)).host;
}

/** Something that is not Berth: a plain web server. */
export async function foreignHttp(port: number): Promise<http.Server> {
  const srv = http.createServer((_req, res) => {
    res.setHeader('Server', 'NotBerth/1.0');
    res.end('hello');
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return srv;
}

/** A TCP listener that accepts and never says a word (a stuck or dying process). */
export async function silentTcp(port: number, greeting?: string): Promise<net.Server & { sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (greeting) s.write(greeting);
  }) as net.Server & { sockets: Set<net.Socket> };
  srv.sockets = sockets;
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return srv;
}

export function closeServer(srv: net.Server & { sockets?: Set<net.Socket> }): Promise<void> {
  for (const s of srv.sockets ?? []) s.destroy();
  return new Promise((r) => srv.close(() => r()));
}
