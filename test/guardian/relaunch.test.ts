/**
 * The close-and-rebind relaunch (Windows' only relaunch; BERTH_HANDOVER=probe
 * forces it elsewhere) with real `berth serve` processes: the predecessor
 * exits once its successor serves, so a successor that dies then leaves
 * nothing on the port, unless the guardian the predecessor started watches
 * on. On Windows this runs the PowerShell guardian, on Linux and macOS /bin/sh.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { guardianFolder } from '../../app/guardian/guardian';
import { alive, freePort, health, postFresh, readToken, startedWaits, startServe, tempDataDir, waitFor, type Health } from '../helpers';
import { gone, records } from './support';

const ends: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (ends.length) await ends.pop()!();
});

/** At the end: call off the guardians first (a Berth killed in their window would be started again), then stop every Berth. */
function cleanUp(dataDir: string, pids: () => number[]): void {
  ends.push(async () => {
    fs.rmSync(guardianFolder(dataDir), { recursive: true, force: true });
    for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await waitFor(() => pids().every((pid) => !alive(pid)), 'every Berth of the test to stop');
  });
}

async function status(port: number, token: string): Promise<{ history: { kind: string; detail?: string }[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
  return (await res.json()) as { history: { kind: string; detail?: string }[] };
}

function serving(port: number, not: (h: Health) => boolean, what: string, ms = 30_000): Promise<Health> {
  return waitFor(async () => {
    const h = await health(port);
    return h && h.state === 'serving' && !not(h) ? h : null;
  }, what, ms);
}

/** The guardian the predecessor started, as its log names it. */
function guardianOf(dataDir: string): { id: string; pid: number } {
  const m = /guardian ([0-9a-f]{12}) \(pid (\d+)\) waits for a Berth to serve port/.exec(fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8'));
  expect(m, 'the predecessor started a guardian before it let go of the port').not.toBeNull();
  return { id: m![1]!, pid: Number(m![2]) };
}

describe('the guardian on the close-and-rebind relaunch (real berth serve processes)', () => {
  it('the successor serves, its predecessor exits, then the successor dies: the guardian starts Berth once, and it says what happened', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-gtest-');
    const pids: number[] = [];
    cleanUp(dataDir, () => pids);
    // A 30 s handoff deadline: the guardian watches the successor as long, so the kill below lands inside its window.
    const first = await startServe(port, dataDir, ['--handoff-timeout', '30000'], { BERTH_HANDOVER: 'probe' });
    pids.push(first.info.pid);
    const token = readToken(dataDir);
    expect(await postFresh(port, '/api/relaunch', token)).toBe(200);
    const successor = await serving(port, (h) => h.instance === first.info.instance, 'the successor to serve');
    pids.push(successor.pid);
    // The started `berth serve` stays on as a waiter (app/cli/foreground.ts); the Berth in it has let go.
    await waitFor(() => startedWaits(dataDir, first.info.pid), 'the started process to hand over and wait');

    // The predecessor has let go; now the successor dies. Nothing of Berth serves; the guardian watches.
    process.kill(successor.pid, 'SIGKILL');
    const again = await serving(port, (h) => h.pid === successor.pid, 'a Berth to serve the port again', 60_000);
    pids.push(again.pid);
    expect([first.info.pid, successor.pid]).not.toContain(again.pid);

    // The Berth the guardian started says what happened: a history row (which the console's banner reads).
    const rows = (await status(port, readToken(dataDir))).history.filter((e) => e.kind === 'recovered');
    expect(rows.map((e) => e.detail)).toEqual([`The relaunch failed (the Berth that took over (pid ${successor.pid}) stopped within 30 s of serving); Berth 1.0.0 is running.`]);
    // Started once, and gone: no record, no process, and no second start refused in the log.
    await waitFor(() => gone(guardianOf(dataDir).pid), 'the guardian to end');
    expect(records(dataDir)).toEqual([]);
    const log = fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8');
    expect(log.match(/"msg":"serving on /g)).toHaveLength(3);
    expect(log).not.toContain('already running');
  }, 120_000);

  it('the successor serves and stays: it cancels the guardian, which starts nothing and leaves nothing', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-gtest-');
    const pids: number[] = [];
    cleanUp(dataDir, () => pids);
    const first = await startServe(port, dataDir, [], { BERTH_HANDOVER: 'probe' });
    pids.push(first.info.pid);
    expect(await postFresh(port, '/api/relaunch', readToken(dataDir))).toBe(200);
    const successor = await serving(port, (h) => h.instance === first.info.instance, 'the successor to serve');
    pids.push(successor.pid);
    // The started `berth serve` stays on as a waiter (app/cli/foreground.ts); the Berth in it has let go.
    await waitFor(() => startedWaits(dataDir, first.info.pid), 'the started process to hand over and wait');
    const guardian = guardianOf(dataDir);

    await waitFor(() => gone(guardian.pid), 'the guardian to end');
    expect(records(dataDir)).toEqual([]);
    expect((await health(port))?.pid).toBe(successor.pid);
    expect((await status(port, readToken(dataDir))).history.filter((e) => e.kind === 'recovered')).toEqual([]);
    const log = fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8');
    expect(log.match(/"msg":"serving on /g)).toHaveLength(2);
    expect(log).not.toContain('already running');
  }, 120_000);
});
