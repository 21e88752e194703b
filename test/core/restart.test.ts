import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import { freePort, ROOT, waitFor } from '../helpers';
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

describe('in-process restart under keep-alive load', () => {
  it('200 restarts: same port, zero EADDRINUSE, every acknowledged request answered, TIME_WAIT piling up', async () => {
    const port = await freePort();
    const logs = memoryLogSink();
    const host = makeHost(port, { logs });
    // Count requests the server received and the responses it finished, across every listener generation.
    const server = { received: 0, finished: 0 };
    host.addRoutes((api) => {
      api.get('/test/count', async (req) => {
        server.received++;
        return { ok: true };
      });
      api.addHook('onResponse', async (req) => {
        if (req.url === '/api/test/count') server.finished++;
      });
    });
    await host.start();
    hosts.push(host);
    const load = startLoad(port, '/api/test/count', 12, 4);
    await load.ready;
    await waitFor(() => server.finished > 200, 'load to reach the server');
    // Restart into a port with thousands of sockets in TIME_WAIT (how fast they pile up depends on the machine's load).
    if (timeWaitCount(port) !== null) await waitFor(() => (timeWaitCount(port) ?? 0) >= 1500, '1500 sockets in TIME_WAIT on the port', 60_000, 100);

    const downtimes: number[] = [];
    let peakTimeWait = 0;
    for (let i = 0; i < 200; i++) {
      const entry = await host.restart();
      downtimes.push(entry.downtimeMs!);
      if (i % 20 === 0) peakTimeWait = Math.max(peakTimeWait, timeWaitCount(port) ?? 0);
      // Let some requests through between restarts, as a real user would.
      const before = server.finished;
      await waitFor(() => server.finished > before + 10, `requests after restart ${i}`);
    }
    peakTimeWait = Math.max(peakTimeWait, timeWaitCount(port) ?? 0);
    load.stop();
    const client = await load.summary;

    const eaddrinuse = logs.ring.tail(1000).filter((e) => /EADDRINUSE/.test(e.msg));
    expect(eaddrinuse).toEqual([]);
    expect(host.port).toBe(port);
    expect(host.status().history.filter((h) => h.kind === 'restart')).toHaveLength(50); // the status keeps the last 50
    // Every request the server acknowledged was answered, whole, and reached the client.
    expect(server.finished).toBe(server.received);
    expect(client.lost).toBe(0);
    expect(client.acknowledged).toBe(server.finished);
    expect(client.completed).toBe(client.acknowledged);
    // The point of the exercise: many sockets sat in TIME_WAIT on the port while it was rebound 200 times.
    if (timeWaitCount(port) !== null) expect(peakTimeWait).toBeGreaterThan(1000);
    console.log(
      `200 restarts: downtime p50 ${pct(downtimes, 50)} ms, max ${Math.max(...downtimes).toFixed(2)} ms; ` +
        `${client.completed} requests answered, ${client.retries} retried before acknowledgement ${JSON.stringify(client.failures)}; peak TIME_WAIT ${peakTimeWait}`,
    );
  });
});

function pct(values: number[], p: number): string {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!.toFixed(2);
}
