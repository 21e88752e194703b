import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import fs from 'node:fs';
import { endGuardians, freePort, health, postFresh, readToken, ROOT, startServe, tempDataDir, waitFor } from '../helpers';
import { makeHost } from './fixtures';
import { timeWaitCount } from '../support/tcp-states';
import type { ServerHost } from '../../app/lifecycle/host';

const hosts: ServerHost[] = [];
afterAll(async () => {
  for (const h of hosts) await h.stop();
});

/** The update suite's load generator in its own process, aimed at one path; resolves its summary when told to stop. */
function startLoad(port: number, urlPath: string, keepalive: number, fresh: number) {
  const args = [path.join(ROOT, 'test/update/fixtures/load.mjs'), '--port', String(port), '--path', urlPath];
  args.push('--keepalive', String(keepalive), '--keepalive-pause-ms', '0', '--fresh', String(fresh), '--fresh-pause-ms', '0');
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const ready = waitFor(() => out.includes('ready'), 'load generator ready');
  const summary = new Promise<{ requests: number; acknowledged: number; completed: number; lost: number; retries: number; failures: Record<string, number> }>((resolve) =>
    child.once('exit', () => resolve(JSON.parse(out.trim().split('\n').pop()!))),
  );
  return { ready, summary, stop: () => child.stdin.end() };
}

describe('in-place restart under keep-alive load', () => {
  it('200 restarts: the socket stays open, nothing is refused or reset, every request answered', async () => {
    const port = await freePort();
    const logs = memoryLogSink();
    const host = await makeHost(port, { logs });
    // Count requests the server received and the responses it finished, across every app generation.
    const server = { received: 0, finished: 0 };
    host.addRoutes((api) => {
      api.get('/test/count', async () => {
        server.received++;
        return { ok: true };
      });
      api.addHook('onResponse', async (req) => {
        if (req.url === '/api/test/count') server.finished++;
      });
    });
    await host.start();
    hosts.push(host);
    // Keep-alive clients, and clients that open a connection per request (those sit in the accept queue at any moment).
    const load = startLoad(port, '/api/test/count', 12, 4);
    await load.ready;
    await waitFor(() => server.finished > 200, 'load to reach the server');

    for (let i = 0; i < 200; i++) {
      const entry = await host.restart();
      expect(entry).toMatchObject({ kind: 'restart', downtimeMs: 0 });
      // Let some requests through between restarts, as a real user would.
      const before = server.finished;
      await waitFor(() => server.finished > before + 10, `requests after restart ${i}`);
    }
    load.stop();
    const client = await load.summary;

    expect(host.port).toBe(port);
    expect(host.status().history.filter((h) => h.kind === 'restart')).toHaveLength(50); // the status keeps the last 50
    // Nothing refused, nothing reset: not one attempt had to be retried.
    expect(client.failures).toEqual({});
    expect(client.retries).toBe(0);
    // Every request the server acknowledged was answered, whole, and reached the client.
    expect(server.finished).toBe(server.received);
    expect(client.lost).toBe(0);
    expect(client.acknowledged).toBe(server.finished);
    expect(client.completed).toBe(client.acknowledged);
    console.log(`200 in-place restarts: ${client.completed} requests answered, none retried`);
  }, 180_000);
});

describe('close and rebind into TIME_WAIT (the relaunch path where the socket cannot be handed over)', () => {
  it('5 relaunches by close and rebind with sockets piled up in TIME_WAIT: same port, zero EADDRINUSE, every acknowledged request answered', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = await startServe(port, dir, ['--drain-timeout', '1000'], { BERTH_HANDOVER: 'probe' });
    const pids = [first.info.pid];
    const token = readToken(dir);
    const load = startLoad(port, '/health', 4, 4);
    try {
      await load.ready;
      // Linux only: other systems have no /proc to count TIME_WAIT from, so there the pile-up is not asserted (and said so).
      const measurable = timeWaitCount(port) !== null;
      if (measurable) await waitFor(() => (timeWaitCount(port) ?? 0) >= 1000, '1000 sockets in TIME_WAIT on the port', 60_000, 100);
      else console.log('TIME_WAIT is not measured on this OS (no /proc/net/tcp): the rebind is tested, the pile-up is not asserted');
      let current = first.info.instance;
      let peak = 0;
      for (let i = 0; i < 5; i++) {
        expect(await postFresh(port, '/api/relaunch', token)).toBe(200);
        const next = await waitFor(async () => {
          const h = await health(port);
          return h && h.instance !== current && h.state === 'serving' ? h : null;
        }, `relaunch ${i}`);
        pids.push(next.pid);
        current = next.instance;
        peak = Math.max(peak, timeWaitCount(port) ?? 0);
      }
      load.stop();
      const client = await load.summary;
      const log = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8');
      expect(log).not.toContain('EADDRINUSE');
      expect(log.match(/the new process is ready; closing the listener so it can bind/g)).toHaveLength(5);
      expect(client.lost).toBe(0);
      expect(client.completed).toBe(client.acknowledged);
      if (measurable) expect(peak).toBeGreaterThan(1000);
      console.log(`5 close-and-rebind relaunches: peak TIME_WAIT ${measurable ? peak : 'not measured'}; ${client.completed} answered, ${client.retries} retried ${JSON.stringify(client.failures)}`);
    } finally {
      load.stop();
      endGuardians(dir);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }, 240_000);
});
