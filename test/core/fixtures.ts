import http from 'node:http';
import net from 'node:net';
import { memoryLogSink } from '../../app/log';
import { ServerHost, type HostOptions } from '../../app/lifecycle/host';
import { coreApi } from '../../app/routes';
import { ensureToken } from '../../app/server/token';
import { rendererDir } from '../../app/paths';
import { tempDataDir } from '../helpers';

/** A real ServerHost in this process, on a real port, with a fresh data dir. */
export function makeHost(port: number, opts: Partial<HostOptions> = {}): ServerHost {
  const dataDir = opts.dataDir ?? tempDataDir();
  const logs = opts.logs ?? memoryLogSink();
  const host = new ServerHost({
    host: '127.0.0.1',
    port,
    dataDir,
    version: '9.9.9-test',
    token: ensureToken(dataDir).token,
    logs,
    rendererDir: rendererDir(),
    probeTimeout: 500,
    handoffDeadline: 3000,
    ...opts,
  });
  host.addRoutes(coreApi({ host, logs, dataDir }));
  return host;
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
