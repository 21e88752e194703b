import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, killBerth, readToken, ROOT, runBerth, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';

const procs: BerthProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
});

const RESTARTS = 200;

describe('berth restart, again and again, under load', () => {
  it(`${RESTARTS} restarts in a row against a server under keep-alive load from another process all succeed`, async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const server = await startServe(port, dir);
    procs.push(server);
    // Browsers' worth of keep-alive clients and clients on fresh connections, in their own process.
    const load = spawn(process.execPath, [path.join(ROOT, 'test/update/fixtures/load.mjs'), '--port', String(port), `--token=${readToken(dir)}`, '--keepalive', '4', '--fresh', '1'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let loadOut = '';
    load.stdout!.on('data', (d) => (loadOut += d));
    const loadDone = new Promise<void>((r) => load.once('exit', () => r()));
    await waitFor(() => loadOut.includes('ready'), 'the load generator');

    const failures: string[] = [];
    try {
      for (let i = 0; i < RESTARTS; i++) {
        const p = runBerth(['restart', '--json', '--port', String(port), '--data-dir', dir]);
        const code = await p.exited;
        const ok = code === 0 && p.stdout().includes('"restarted":"server"') && !/\n\s+at |TypeError|fetch failed/.test(p.stderr());
        if (!ok) failures.push(`#${i}: exit ${code}: ${p.stdout().trim()} ${p.stderr().trim()}`);
      }
    } finally {
      load.stdin!.end();
      await loadDone;
    }
    const stats = JSON.parse(loadOut.trim().split('\n').at(-1)!) as { requests: number; lost: number; retries: number };

    expect(failures).toEqual([]);
    // One restart per command: a request reset before any answer was sent again only when it had not taken effect.
    const log = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8');
    expect(log.match(/restarted in place; the listening socket stayed open/g)).toHaveLength(RESTARTS);
    expect(stats.requests).toBeGreaterThan(RESTARTS);
    // The server stayed the same process throughout.
    expect(server.child.exitCode).toBeNull();
  }, 900_000);
});
