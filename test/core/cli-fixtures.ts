import net from 'node:net';
import { afterEach } from 'vitest';
import { alive, endGuardians, killBerth, type BerthProcess } from '../helpers';
import { listenClosable } from '../listen.mjs';

/**
 * What a test file's tests start, ended after each test in this order: the
 * guardians of the `guarded` data folders first (close and rebind starts one,
 * which would start Berth again once the successor is killed), the Berths in
 * `procs` (`track` adds one and returns it), the `extraPids`, then the
 * `cleanups`, last first.
 */
export function endedAfterEach() {
  const procs: BerthProcess[] = [];
  const extraPids: number[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const guarded: string[] = [];
  afterEach(async () => {
    for (const dir of guarded.splice(0)) endGuardians(dir);
    for (const p of procs.splice(0)) await killBerth(p);
    for (const pid of extraPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    while (cleanups.length) await cleanups.pop()!();
  });
  const track = <T extends BerthProcess>(p: T) => (procs.push(p), p);
  return { procs, extraPids, cleanups, guarded, track };
}

/**
 * A TCP proxy in front of a real Berth that resets chosen requests, the way a
 * server closing a listener with connections in its accept queue does: the
 * client's connection is reset before any answer. `reset(head)` sees each
 * request's first bytes and says what to do with that connection:
 *   'before' - reset it at once; the request never reaches Berth
 *   'after'  - pass the request to Berth, then reset the client instead of answering
 *   'pass'   - proxy it
 */
export type ResetPlan = 'before' | 'after' | 'pass';

export interface ResettingProxy {
  port: number;
  /** Request lines (e.g. "POST /api/restart") of every connection, with what was done. */
  seen: { line: string; plan: ResetPlan }[];
  close(): Promise<void>;
}

export async function resettingProxy(
  target: number,
  reset: (line: string, seen: ResettingProxy['seen']) => ResetPlan,
  opts: { closeWhenTargetStops?: boolean } = {},
): Promise<ResettingProxy> {
  const sockets = new Set<net.Socket>();
  const seen: ResettingProxy['seen'] = [];
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n');
      if (end < 0) return;
      client.off('data', onData);
      client.pause();
      const line = head.subarray(0, end).toString('latin1').replace(/ HTTP\/1\.\d$/, '');
      const plan = reset(line, seen);
      seen.push({ line, plan });
      if (plan === 'before') {
        client.resetAndDestroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: target });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        // Refused: Berth is between two listeners (a restart) or gone. The client sees a reset either way.
        client.resetAndDestroy();
        // For a test of stop: once Berth has stopped, the port it was reached through closes too.
        if (err.code === 'ECONNREFUSED' && opts.closeWhenTargetStops) server.close();
      });
      upstream.write(head);
      client.pipe(upstream);
      client.resume();
      if (plan === 'after') {
        // Berth gets the whole request and acts on it; the client hears nothing but a reset.
        upstream.once('data', () => {
          client.resetAndDestroy();
          upstream.destroy();
        });
      } else {
        upstream.pipe(client);
      }
    };
    client.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => (server.listening ? server.close(() => r()) : r()));
    },
  };
}

/**
 * A stand-in Berth made of a bare TCP server: answers /health as a serving
 * Berth, resets the first `resets` connections that ask for anything else,
 * and answers the rest with `reply`.
 */
export async function flakyBerth(opts: { resets: number; reply: { status: number; body: unknown } }): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  let resets = opts.resets;
  const send = (s: net.Socket, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    s.end(`HTTP/1.1 ${status} X\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  };
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    let head = '';
    s.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const line = head.slice(0, head.indexOf('\r\n')).replace(/ HTTP\/1\.\d$/, '');
      requests.push(line);
      if (line === 'GET /health') {
        send(s, 200, { app: 'berth', version: '0.0.0-flaky', pid: process.pid, instance: 'flaky', state: 'serving', startedAt: new Date().toISOString() });
      } else if (resets > 0) {
        resets--;
        s.resetAndDestroy();
      } else {
        send(s, opts.reply.status, opts.reply.body);
      }
    });
  });
  const close = await listenClosable(server, { host: '127.0.0.1', port: 0 });
  return { port: (server.address() as net.AddressInfo).port, requests, close };
}
