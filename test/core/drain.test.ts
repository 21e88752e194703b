/**
 * stop(): the drain. Sequenced on what the server has seen (a request that
 * reached its route, a state the host announced), never on sleeps.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import { probePort } from '../../app/instance/probe';
import { freePort, waitFor } from '../helpers';
import { makeHost } from './fixtures';
import type { ServerHost } from '../../app/lifecycle/host';

const hosts: ServerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

/** A host with a route that answers only when the test says so, and counts the requests that reached it. */
async function hostWithHeldRoute(port: number, drainDeadline = 1000) {
  const logs = memoryLogSink();
  const host = await makeHost(port, { drainDeadline, logs });
  const held: (() => void)[] = [];
  host.addRoutes((api) => {
    api.get('/test/held', async () => {
      await new Promise<void>((r) => held.push(r));
      return { done: true };
    });
  });
  await host.start();
  hosts.push(host);
  return { host, held, logs, releaseAll: () => held.splice(0).forEach((r) => r()) };
}

function get(port: number, path: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const states = (host: ServerHost) => {
  const seen: string[] = [];
  host.on('state', (s) => seen.push(s));
  return seen;
};

describe('stop(): drain', () => {
  it('frees the port at once while an in-flight request finishes with Connection: close', async () => {
    const port = await freePort();
    const { host, held, releaseAll } = await hostWithHeldRoute(port);
    const agent = new http.Agent({ keepAlive: true });
    const inflight = get(port, '/api/test/held', agent);
    await waitFor(() => held.length === 1, 'the request to reach its route');
    const seen = states(host);
    const stopped = host.stop();
    await waitFor(() => seen.includes('draining'), 'the drain to begin');
    await waitFor(async () => (await probePort('127.0.0.1', port, { timeout: 200 })).verdict === 'free', 'the port to be free');
    expect(host.state).toBe('draining');
    releaseAll();
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    await stopped;
    expect(host.state).toBe('stopped');
    agent.destroy();
  });

  it('closes idle keep-alive connections without waiting for the drain deadline', async () => {
    const port = await freePort();
    const { host, logs } = await hostWithHeldRoute(port);
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.on('data', (d) => (reply += d));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await waitFor(() => reply.includes('"state":"serving"'), 'the keep-alive answer');
    await host.stop();
    await closed;
    // The server closed the idle connection itself; the deadline never had to destroy anything.
    expect(logs.ring.tail(100).some((e) => e.msg.includes('drain deadline'))).toBe(false);
  });

  it('destroys what is left at the drain deadline', async () => {
    const port = await freePort();
    const { host, held, logs } = await hostWithHeldRoute(port, 200);
    const inflight = get(port, '/api/test/held').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await waitFor(() => held.length === 1, 'the request to reach its route');
    await host.stop();
    expect(await inflight).toBe('ECONNRESET');
    expect(logs.ring.tail(100).some((e) => e.msg.includes('drain deadline (200 ms) reached; closed 1 connection(s)'))).toBe(true);
  });

  it('a request on an idle keep-alive connection, sent as the drain begins, is answered with Connection: close, not reset', async () => {
    const port = await freePort();
    const { host, held, releaseAll } = await hostWithHeldRoute(port);
    // One connection holds a request in flight, so the drain lasts; another sits idle after one answer.
    const busy = get(port, '/api/test/held');
    await waitFor(() => held.length === 1, 'the first request to reach its route');
    const idle = net.connect(port, '127.0.0.1');
    let reply = '';
    idle.on('data', (d) => (reply += d));
    idle.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await waitFor(() => reply.includes('"state":"serving"'), 'the keep-alive answer');
    reply = '';
    let error: string | null = null;
    idle.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const ended = new Promise<void>((r) => idle.once('close', () => r()));
    // The request leaves as the stop is asked for: whether the server sees it just before the drain or in its
    // grace for idle connections, it is answered and the connection then closed cleanly.
    const stopped = host.stop();
    idle.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await ended;
    expect(error).toBeNull();
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply.toLowerCase()).toContain('connection: close');
    releaseAll();
    expect((await busy).headers.connection).toBe('close');
    await stopped;
    idle.destroy();
  });
});
