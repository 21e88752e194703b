/**
 * Restart and relaunch answer with their outcome: the request stays open
 * until the work is done, and its answer is the history entry (or what
 * failed). `berth restart [--app]` sends that one request and polls nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, health, rawRequest, readToken, runBerth, startedWaits, startServe, tempDataDir, waitFor } from '../helpers';
import { endedAfterEach, resettingProxy } from './cli-fixtures';

const { extraPids, cleanups, guarded, track } = endedAfterEach();

async function post(port: number, dir: string, urlPath: string): Promise<{ status: number; body: Record<string, any> }> {
  const res = await rawRequest(`http://127.0.0.1:${port}${urlPath}`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dir)}` } });
  return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as Record<string, any> };
}

describe('restart and relaunch answer with their outcome', () => {
  it('POST /api/restart answers with the restart as the history holds it', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = track(await startServe(port, dir));
    const res = await post(port, dir, '/api/restart');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ restarted: 'server', instance: first.info.instance, entry: { kind: 'restart', downtimeMs: 0 } });
    const status = await rawRequest(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dir)}` } });
    const history = (JSON.parse(status.body.toString('utf8')) as { history: unknown[] }).history;
    expect(history.at(-1)).toEqual(res.body.entry);
  });

  it.each([
    ['the socket handed over', {}, 'socket handed over'],
    // The predecessor closes before its successor binds, and drains with a deadline shorter than the handover: the answer is held through it.
    ['close and rebind, a 100 ms drain deadline', { BERTH_HANDOVER: 'probe' }, 'port closed and bound again'],
  ] as const)('POST /api/relaunch (%s) answers once the new process serves, with the relaunch and who took over', async (_name, env, how) => {
    const port = await freePort();
    const dir = tempDataDir();
    guarded.push(dir);
    const first = track(await startServe(port, dir, ['--drain-timeout', '100'], env));
    const res = await post(port, dir, '/api/relaunch');
    if (typeof res.body.successor?.pid === 'number') extraPids.push(res.body.successor.pid);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ restarted: 'app', instance: first.info.instance, entry: { kind: 'relaunch' }, successor: { pid: expect.any(Number), instance: expect.any(String) } });
    expect(res.body.entry.detail).toContain(how);
    // Done when answered: the new process serves the port now, and the started one has let go and waits on it.
    const h = await health(port);
    expect({ pid: h?.pid, instance: h?.instance, state: h?.state }).toEqual({ pid: res.body.successor.pid, instance: res.body.successor.instance, state: 'serving' });
    await waitFor(() => startedWaits(dir, first.info.pid), 'the started process to hand over and wait');
  });

  it('a relaunch whose new process exits answers 500 with what failed, and this Berth serves on', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const preload = path.join(dir, 'fail-successor.cjs');
    fs.writeFileSync(preload, "if (process.argv.some((a) => a.startsWith('--handoff'))) process.exit(1);\n");
    const first = track(await startServe(port, dir, [], { NODE_OPTIONS: `--require ${preload}` }));
    const res = await post(port, dir, '/api/relaunch');
    expect(res.status).toBe(500);
    expect(res.body).toMatchObject({ error: 'relaunch-failed', state: 'serving', entry: { kind: 'relaunch' } });
    expect(res.body.failed).toMatch(/exited with code 1/);
    expect(res.body.entry.failed).toBe(res.body.failed);
    expect((await health(port))?.instance).toBe(first.info.instance);
  });

  it('berth restart and restart --app send one request each, and read no status', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = track(await startServe(port, dir));
    const proxy = await resettingProxy(port, () => 'pass');
    cleanups.push(() => proxy.close());
    const args = ['--json', '--port', String(proxy.port), '--data-dir', dir];

    const restart = runBerth(['restart', ...args]);
    expect({ code: await restart.exited, stderr: restart.stderr() }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(restart.stdout())).toMatchObject({ restarted: 'server', downtimeMs: 0 });
    const restartLines = proxy.seen.splice(0).map((s) => s.line);
    // One probe to find Berth, one request: no /api/status before or after, no polling.
    expect(restartLines.filter((l) => !l.startsWith('GET /health'))).toEqual(['POST /api/restart']);
    expect(restartLines.filter((l) => l.startsWith('GET /health')).length).toBeLessThanOrEqual(1);

    const relaunch = runBerth(['restart', '--app', ...args]);
    const code = await relaunch.exited;
    expect(code, `${relaunch.stdout()}${relaunch.stderr()}`).toBe(0);
    const after = JSON.parse(relaunch.stdout()) as { restarted: string; pid: number; instance: string };
    extraPids.push(after.pid);
    expect(after.restarted).toBe('app');
    expect(after.instance).not.toBe(first.info.instance);
    expect((await health(port))?.instance).toBe(after.instance);
    const relaunchLines = proxy.seen.map((s) => s.line);
    expect(relaunchLines.filter((l) => !l.startsWith('GET /health'))).toEqual(['POST /api/relaunch']);
    expect(relaunchLines.filter((l) => l.startsWith('GET /health')).length).toBeLessThanOrEqual(1);
  });
});
