/**
 * The edges of a handover (issue 17's table), each on real `berth serve`
 * processes under keep-alive and new-connection load from another process,
 * with the fault put in at that exact step. Each ends with exactly one
 * Berth serving the port, and no request lost.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, health, waitFor } from '../helpers';
import { alive, berthsOf, childrenOf, hasStrace, nthServing, procState, runBerth, startLoad, startRig, stopBetweenForkAndExec, type LoadSummary, type Rig } from './handover-rig';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});

async function rig(opts: Parameters<typeof startRig>[1] = {}): Promise<Rig> {
  const r = await startRig(await freePort(), opts);
  cleanups.push(() => r.cleanup());
  return r;
}

async function loaded(r: Rig) {
  const load = startLoad(r.port, r.token);
  cleanups.push(() => load.child.kill('SIGKILL'));
  await load.ready;
  return load;
}

/** Nothing refused (the port never closed) and nothing acknowledged then broken off. */
function nothingLost(s: LoadSummary): void {
  expect(s.lostDetail).toEqual([]);
  expect(s.lost).toBe(0);
  expect(s.failures.ECONNREFUSED ?? 0).toBe(0);
  expect(s.completed).toBe(s.acknowledged);
  expect(s.acknowledged).toBeGreaterThan(0);
}

describe('the successor says serving, then dies while the predecessor drains: the predecessor serves again', () => {
  for (const fault of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`${fault} to the successor right after it says it serves`, async () => {
      const r = await rig();
      const load = await loaded(r);
      const answer = r.post('/api/relaunch');
      const s = await nthServing(r, 1);
      process.kill(s.pid, fault);
      const h = await r.oneServer();
      const summary = await load.stop();
      expect(h.pid).toBe(r.first.info.pid);
      expect(alive(s.pid)).toBe(false);
      const status = await r.status();
      expect(status.history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.stringMatching(fault === 'SIGKILL' ? /ended by SIGKILL within 2 s of serving/ : /stopped answering/) });
      expect(await answer).toMatchObject({ status: expect.any(Number) });
      nothingLost(summary);
    });
  }

  it('the successor crashes in its first second of serving', async () => {
    const r = await rig({ preload: 'crash-after-serving' });
    const load = await loaded(r);
    void r.post('/api/relaunch');
    const s = await nthServing(r, 1);
    await waitFor(() => !alive(s.pid), 'the successor to crash');
    const h = await r.oneServer();
    const summary = await load.stop();
    expect(h.pid).toBe(r.first.info.pid);
    expect((await r.status()).history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.stringMatching(/exited with code 1/) });
    nothingLost(summary);
  });
});

describe('a bystander `berth serve` during a relaunch', () => {
  it('short and default timeouts: exits 3 saying a relaunch is in progress, and signals no one; the relaunch then finishes', async () => {
    // The successor stops itself before it loads, holding the socket it inherited: a hung successor.
    const r = await rig({ preload: 'stop-at-start', args: ['--handoff-timeout', '60000'] });
    const load = await loaded(r);
    const pidFile = path.join(r.dataDir, 'successor.pid');
    void r.post('/api/relaunch');
    const successor = await waitFor(() => (fs.existsSync(pidFile) && procState(Number(fs.readFileSync(pidFile, 'utf8'))) === 'T' ? Number(fs.readFileSync(pidFile, 'utf8')) : null), 'the successor to stop itself');
    r.others.add(successor);
    for (const timeouts of [['--handoff-timeout', '1000', '--probe-timeout', '300'], []]) {
      const bystander = runBerth(['serve', '--json', '--port', String(r.port), '--data-dir', r.dataDir, ...timeouts]);
      cleanups.push(() => bystander.child.kill('SIGKILL'));
      const code = await bystander.exited;
      expect({ code, said: bystander.stdout() + bystander.stderr() }).toMatchObject({ code: 3, said: expect.stringMatching(/relaunch .*in progress/i) });
      // No one was signalled: the predecessor serves, the successor is still stopped.
      expect(alive(r.first.info.pid)).toBe(true);
      expect(procState(successor)).toBe('T');
      expect(await health(r.port)).toMatchObject({ instance: r.first.info.instance });
    }
    // The hung successor comes back: the relaunch finishes, and one Berth serves.
    process.kill(successor, 'SIGCONT');
    const h = await r.oneServer();
    expect(h.pid).toBe(successor);
    nothingLost(await load.stop());
  }, 90_000);

  it('a hung successor is killed by its own predecessor, which keeps serving', async () => {
    const r = await rig({ preload: 'stop-at-start', args: ['--handoff-timeout', '5000'] });
    const load = await loaded(r);
    void r.post('/api/relaunch');
    await waitFor(async () => (await r.status()).history.at(-1)?.kind === 'relaunch', 'the relaunch to end', 30_000);
    const h = await r.oneServer();
    expect(h.pid).toBe(r.first.info.pid);
    // On a busy machine the successor may not even get as far as stopping itself: either way it never served, and it is gone.
    expect((await r.status()).history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.stringMatching(/did not (start|serve) within 5 s/) });
    expect(berthsOf(r.dataDir).filter((p) => p !== r.first.info.pid)).toEqual([]);
    nothingLost(await load.stop());
  });
});

describe.skipIf(!hasStrace || process.platform !== 'linux')('the successor stopped between fork and exec', () => {
  it('the predecessor answers all along, kills that fork at its deadline, and serves; the next relaunch works', async () => {
    // The default handoff deadline (10 s): the next relaunch must have time to serve on a busy machine.
    const r = await rig();
    const load = await loaded(r);
    const trace = await stopBetweenForkAndExec(r.first.info.pid);
    cleanups.push(() => trace.detach());
    void r.post('/api/relaunch');
    // A fork of the predecessor, stopped before its exec.
    const fork = await waitFor(() => childrenOf(r.first.info.pid).find((p) => procState(p) === 't' || procState(p) === 'T'), 'a fork stopped before its exec');
    r.others.add(fork);
    // While it is stopped there, the predecessor answers.
    for (let i = 0; i < 5; i++) expect(await health(r.port)).toMatchObject({ instance: r.first.info.instance });
    await waitFor(() => !alive(fork), 'the predecessor to end the stopped fork');
    await trace.detach();
    expect((await r.oneServer()).pid).toBe(r.first.info.pid);
    expect((await r.status()).history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.any(String) });
    // Nothing is left half-done: the next relaunch hands over.
    void r.post('/api/relaunch');
    const s = await nthServing(r, 1);
    expect((await r.oneServer()).pid).toBe(s.pid);
    nothingLost(await load.stop());
  });
});

describe('a storm of restarts: 50 `berth restart` and 50 `berth restart --app` at once, under load', () => {
  it('ends with exactly one Berth serving; every command answers; no request is lost, refused or reset', async () => {
    // A relaunch refused because another is in flight is an answer too; the deadline is for a busy machine.
    const r = await rig({ args: ['--handoff-timeout', '60000'] });
    const load = await loaded(r);
    const commands = Array.from({ length: 50 }, () => [['restart'], ['restart', '--app']]).flat();
    // 100 CLIs starting at once on a small machine: the probe before each request may wait long for its turn.
    const runs = commands.map((args) => runBerth([...args, '--json', '--probe-timeout', '30000', '--port', String(r.port), '--data-dir', r.dataDir]));
    const codes = await Promise.all(runs.map((p) => p.exited));
    const h = await r.oneServer(60_000);
    const summary = await load.stop();
    const byCode = codes.reduce<Record<string, number>>((m, c) => ({ ...m, [String(c)]: (m[String(c)] ?? 0) + 1 }), {});
    const relaunched = r.serving().length - 1;
    console.log(`restart storm: exit codes ${JSON.stringify(byCode)}, ${relaunched} relaunches, ${summary.acknowledged} requests, failures ${JSON.stringify(summary.failures)}, lost ${summary.lost}`);
    // Every command ends with a sentence, never a crash or a hang: done, or told that a relaunch is in flight.
    for (const [i, p] of runs.entries()) {
      if (codes[i] !== 0) expect(p.stderr() + p.stdout(), `berth ${commands[i]!.join(' ')} exited ${codes[i]}`).toMatch(/relaunch|restart/i);
    }
    expect(byCode['0'] ?? 0).toBeGreaterThan(0);
    expect(h.state).toBe('serving');
    nothingLost(summary);
    expect(summary.failures.ECONNRESET ?? 0).toBe(0);
  }, 300_000);
});

describe('the predecessor killed while its successor loads', () => {
  it('after a first relaunch (its parent, the waiting started process, reaps it late): the successor it started serves', async () => {
    const r = await rig({ args: ['--handoff-timeout', '60000'] });
    expect(await r.post('/api/relaunch')).toMatchObject({ status: 200 });
    const predecessor = (await nthServing(r, 1)).pid;
    await r.oneServer();
    const load = await loaded(r);
    const before = new Set(childrenOf(predecessor));
    void r.post('/api/relaunch');
    const successor = await waitFor(() => childrenOf(predecessor).find((p) => !before.has(p)), 'the successor process', 30_000, 1);
    r.others.add(successor);
    process.kill(predecessor, 'SIGKILL');
    const h = await r.oneServer();
    expect(h.pid).toBe(successor);
    nothingLost(await load.stop());
  });
});
