import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { probePort } from '../../app/instance/probe';
import { freePort, sleep } from '../helpers';
import { makeHost } from './fixtures';
import type { ServerHost } from '../../app/lifecycle/host';

const hosts: ServerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

/** A host with a route that takes `ms` to answer, to have requests in flight during a drain. */
async function hostWithSlowRoute(port: number, drainDeadline = 1000): Promise<ServerHost> {
  const host = makeHost(port, { drainDeadline });
  host.addRoutes((api) => {
    api.get('/test/slow', async (req) => {
      await sleep(Number((req.query as { ms?: string }).ms ?? 200));
      return { done: true };
    });
  });
  await host.start();
  hosts.push(host);
  return host;
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

describe('stop(): drain', () => {
  it('frees the port at once while an in-flight request finishes with Connection: close', async () => {
    const port = await freePort();
    const host = await hostWithSlowRoute(port);
    const agent = new http.Agent({ keepAlive: true });
    const inflight = get(port, '/api/test/slow?ms=300', agent);
    await sleep(50);
    const stopped = host.stop();
    await sleep(1); // lifecycle operations run one at a time, from the next tick
    expect(host.state).toBe('draining');
    expect((await probePort('127.0.0.1', port, { timeout: 200 })).verdict).toBe('free');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('close');
    await stopped;
    expect(host.state).toBe('stopped');
    agent.destroy();
  });

  it('closes idle keep-alive connections immediately', async () => {
    const port = await freePort();
    const host = await hostWithSlowRoute(port);
    const agent = new http.Agent({ keepAlive: true });
    await get(port, '/health', agent);
    const t0 = performance.now();
    await host.stop();
    // Nothing was in flight, so the stop did not wait for the drain deadline (1 s).
    expect(performance.now() - t0).toBeLessThan(900);
    agent.destroy();
  });

  it('destroys what is left at the drain deadline', async () => {
    const port = await freePort();
    const host = await hostWithSlowRoute(port, 200);
    const inflight = get(port, '/api/test/slow?ms=5000').then(
      () => 'answered',
      (err: NodeJS.ErrnoException) => err.code,
    );
    await sleep(50);
    const t0 = performance.now();
    await host.stop();
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(await inflight).toBe('ECONNRESET');
  });

  it('an in-flight /health during the drain reports draining', async () => {
    const port = await freePort();
    const host = await hostWithSlowRoute(port);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const slow = get(port, '/api/test/slow?ms=200', agent);
    await sleep(20);
    // Queued behind the slow request on the same connection: its headers arrive before the drain ends.
    const raw = await import('node:net');
    const sock = raw.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let reply = '';
    sock.on('data', (d) => (reply += d));
    sock.write(`GET /api/test/slow?ms=100 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await sleep(20);
    const stopped = host.stop();
    await slow;
    await stopped;
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply.toLowerCase()).toContain('connection: close');
    agent.destroy();
    sock.destroy();
  });
});
