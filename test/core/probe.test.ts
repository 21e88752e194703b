import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probePort } from '../../app/instance/probe';
import { freePort } from '../helpers';
import { closeServer, foreignHttp, makeHost, silentTcp } from './fixtures';
import type { ServerHost } from '../../app/lifecycle/host';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function serving(port: number): Promise<ServerHost> {
  const host = await makeHost(port);
  await host.start();
  cleanups.push(() => host.stop());
  return host;
}

describe('probePort against real listeners of each kind', () => {
  it('free: nothing listens', async () => {
    const port = await freePort();
    const r = await probePort('127.0.0.1', port);
    expect(r.verdict).toBe('free');
    expect(r.observation.kind).toBe('refused');
  });

  it('duplicate: a serving Berth, with its URL, pid and version', async () => {
    const port = await freePort();
    const host = await serving(port);
    const r = await probePort('127.0.0.1', port);
    expect(r.verdict).toBe('duplicate');
    if (r.verdict !== 'duplicate') return;
    expect(r.running).toMatchObject({ pid: process.pid, version: '9.9.9-test', instance: host.instance, url: `http://127.0.0.1:${port}` });
  });

  it('predecessor: the Berth named by --handoff, even though it still serves', async () => {
    const port = await freePort();
    const host = await serving(port);
    const r = await probePort('127.0.0.1', port, { handoffFrom: host.instance });
    expect(r).toMatchObject({ verdict: 'predecessor', reason: 'handoff' });
  });

  it('predecessor: a draining Berth answers /health on an open connection while it drains', async () => {
    const port = await freePort();
    const host = await serving(port);
    // Hold a keep-alive request open so the server has an in-flight request while draining.
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await new Promise((r) => sock.once('data', r));
    const stopped = host.stop();
    // The listener is closed at once: a new probe is refused...
    expect((await probePort('127.0.0.1', port)).verdict).toBe('free');
    await stopped;
    sock.destroy();
  });

  it('foreign: another HTTP server, named by its status line and Server header', async () => {
    const port = await freePort();
    const srv = await foreignHttp(port);
    cleanups.push(() => closeServer(srv));
    const r = await probePort('127.0.0.1', port);
    expect(r).toMatchObject({ verdict: 'foreign', statusLine: 'HTTP/1.1 200 OK', server: 'NotBerth/1.0' });
  });

  it('foreign: a program that does not speak HTTP', async () => {
    const port = await freePort();
    const srv = await silentTcp(port, 'SSH-2.0-OpenSSH_9.2\r\n');
    cleanups.push(() => closeServer(srv));
    const r = await probePort('127.0.0.1', port);
    expect(r.verdict).toBe('foreign');
    expect(r.verdict === 'foreign' && r.what).toContain('SSH-2.0-OpenSSH_9.2');
  });

  it('silent: accepts the connection and says nothing before the timeout', async () => {
    const port = await freePort();
    const srv = await silentTcp(port);
    cleanups.push(() => closeServer(srv));
    const r = await probePort('127.0.0.1', port, { timeout: 300 });
    expect(r.verdict).toBe('silent');
    expect(r.ms).toBeGreaterThanOrEqual(250);
  });

  it('wildcard hosts are probed on loopback', async () => {
    const port = await freePort();
    const host = await serving(port);
    const r = await probePort('0.0.0.0', port);
    expect(r).toMatchObject({ verdict: 'duplicate', address: '127.0.0.1' });
    // '::' tries ::1 first and falls back to 127.0.0.1 where nothing answers on ::1.
    const r6 = await probePort('::', port);
    expect(r6).toMatchObject({ verdict: 'duplicate', address: '127.0.0.1' });
    expect(r6.verdict === 'duplicate' && r6.running.instance).toBe(host.instance);
  });
});
