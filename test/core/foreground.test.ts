/**
 * `berth serve` keeps the contract of a foreground program: the process a
 * person started is Berth until Berth stops, however many times it relaunched.
 * Ctrl+C and a closed terminal reach the Berth serving now and stop it with a
 * drain; a terminal or pipe that has gone away never takes a server down, and
 * every line still reaches the log file. Real terminals (a pty), real
 * processes, real signals.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probePort } from '../../app/instance/probe';
import { alive, BERTH_BIN, freePort, health, killBerth, postFresh, readToken, runBerth, startedWaits, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';
import { ptySession, type PtySession } from '../support/pty';

const posix = process.platform !== 'win32';
const sessions: PtySession[] = [];
const procs: BerthProcess[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const p of procs.splice(0)) await killBerth(p);
  for (const s of sessions.splice(0)) await s.end();
});

/** A clean environment, as runBerth uses (no BERTH_* from the developer's shell). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
}

/** `berth serve` in a terminal window, as a person starts it; resolves once it says it serves. */
async function serveInTerminal(port: number, dir: string): Promise<{ term: PtySession; pid: number }> {
  const term = ptySession([process.execPath, BERTH_BIN, 'serve', '--port', String(port), '--data-dir', dir], { env: cleanEnv() });
  sessions.push(term);
  const pid = await term.pid;
  pids.push(pid);
  await Promise.race([
    waitFor(async () => term.output().includes(' is serving on ') && (await health(port))?.pid === pid, 'berth serve in the terminal to serve'),
    term.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${term.output()}`);
    }),
  ]);
  return { term, pid };
}

/** `berth restart --app`, as a person runs it from another terminal; returns the new process's pid once the old one has let go. */
async function relaunch(port: number, dir: string): Promise<number> {
  const before = (await health(port))!.pid;
  const cmd = runBerth(['restart', '--app', '--json', '--port', String(port), '--data-dir', dir]);
  const code = await cmd.exited;
  expect(code, `restart --app: ${cmd.stdout()}${cmd.stderr()}`).toBe(0);
  const next = JSON.parse(cmd.stdout()) as { pid: number };
  pids.push(next.pid);
  // The relaunched-away process finishes its drain: it exits, or it is the one that was started and waits.
  await waitFor(() => !alive(before) || startedWaits(dir, before), `pid ${before} to let go of the port`);
  return next.pid;
}

/** The log lines one process wrote. */
function logOf(dir: string, pid: number): string[] {
  let text = '';
  for (const f of fs.readdirSync(path.join(dir, 'logs'))) text += fs.readFileSync(path.join(dir, 'logs', f), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { pid: number; msg: string })
    .filter((e) => e.pid === pid)
    .map((e) => e.msg);
}

/** Linux: the live processes whose command line names `dir` (every Berth started for a test names its data folder). */
function berthsWith(dir: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(dir) && alive(Number(name))) found.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return found;
}

const nothingServes = async (port: number) => (await probePort('127.0.0.1', port, { timeout: 2000 })).verdict === 'free';

describe.skipIf(!posix)('berth serve in a terminal', () => {
  it('closing the terminal stops Berth cleanly: drained, exit 0', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const { term, pid } = await serveInTerminal(port, dir);
    term.hangUp();
    expect(await term.exited).toBe(0);
    expect(await nothingServes(port)).toBe(true);
    const said = logOf(dir, pid);
    expect(said).toContain('SIGHUP: draining and stopping');
    expect(said).toContain('stopped');
  });

  it('Ctrl+C after two relaunches stops the Berth serving now, with a drain, and the prompt returns only then', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const { term } = await serveInTerminal(port, dir);
    await relaunch(port, dir);
    const serving = await relaunch(port, dir);
    // Still the terminal's program: the prompt has not come back.
    expect(term.done(), `the terminal's berth serve exited after the relaunches:\n${term.output()}`).toBe(false);

    term.type('\x03');
    await waitFor(() => term.done(), `the terminal's berth serve to exit after Ctrl+C; it shows:\n${term.output()}`);
    const code = await term.exited;
    // The prompt is back only once the Berth that was serving has drained and gone.
    expect(alive(serving)).toBe(false);
    expect(code).toBe(0);
    expect(await nothingServes(port)).toBe(true);
    const said = logOf(dir, serving);
    expect(said).toContain('SIGINT: draining and stopping (send it again to exit at once)');
    expect(said).toContain('stopped');
  });

  it('closing the terminal after a relaunch stops Berth cleanly: drained, exit 0', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const { term } = await serveInTerminal(port, dir);
    const serving = await relaunch(port, dir);
    expect(term.done(), `the terminal's berth serve exited after the relaunch:\n${term.output()}`).toBe(false);

    term.hangUp();
    await waitFor(() => term.done(), 'the terminal\'s berth serve to exit after the hang-up');
    expect(await term.exited).toBe(0);
    expect(alive(serving)).toBe(false);
    expect(await nothingServes(port)).toBe(true);
    const said = logOf(dir, serving);
    expect(said).toContain('SIGHUP: draining and stopping');
    expect(said).toContain('stopped');
  });

  it('a terminal gone for good (its process killed, then the window closed): the Berth serving keeps serving and logging', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const { term, pid } = await serveInTerminal(port, dir);
    const serving = await relaunch(port, dir);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    await term.exited;
    term.hangUp();
    // Each in-place restart writes a line meant for the console, which is no longer there (EIO).
    const token = readToken(dir);
    for (let i = 0; i < 3; i++) {
      expect(await postFresh(port, '/api/restart', token)).toBe(200);
      await waitFor(() => logOf(dir, serving).filter((m) => m.startsWith('restarted in place')).length === i + 1, `restart ${i + 1} to be logged`);
    }
    expect((await health(port))?.pid).toBe(serving);
    expect(alive(serving)).toBe(true);
  });
});

describe('berth serve with nothing to read its output', () => {
  it('its stderr pipe closed (EPIPE): keeps serving, and every line still reaches the log file', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await startServe(port, dir);
    procs.push(p);
    p.child.stderr!.destroy();
    const token = readToken(dir);
    for (let i = 0; i < 3; i++) {
      expect(await postFresh(port, '/api/restart', token)).toBe(200);
      await waitFor(() => logOf(dir, p.info.pid).filter((m) => m.startsWith('restarted in place')).length === i + 1, `restart ${i + 1} to be logged`);
    }
    expect((await health(port))?.pid).toBe(p.info.pid);
    expect(p.child.exitCode).toBeNull();
  });
});

describe.skipIf(!posix)('signals to a headless berth serve', () => {
  it('SIGHUP (the terminal hung up) drains and exits 0; the second SIGHUP that a closing shell sends does not cut the drain short', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await startServe(port, dir, ['--drain-timeout', '3000']);
    procs.push(p);
    p.child.kill('SIGHUP');
    await waitFor(() => logOf(dir, p.info.pid).includes('SIGHUP: draining and stopping'), 'the SIGHUP to be taken');
    p.child.kill('SIGHUP');
    expect(await p.exited).toBe(0);
    expect(logOf(dir, p.info.pid)).toContain('stopped');
    expect(await nothingServes(port)).toBe(true);
  });

  it('the process that was started is Berth until Berth stops: SIGTERM to it after two relaunches stops the one serving, then it exits 0', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await startServe(port, dir);
    procs.push(p);
    await relaunch(port, dir);
    const serving = await relaunch(port, dir);
    expect(p.child.exitCode, 'the started process exited after the relaunches').toBeNull();
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(alive(serving)).toBe(false);
    expect(await nothingServes(port)).toBe(true);
    expect(logOf(dir, serving)).toContain('SIGTERM: draining and stopping (send it again to exit at once)');
  });

  it('SIGTERM while a relaunch is under way stops the new process too: nothing is left serving', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await startServe(port, dir);
    procs.push(p);
    // The relaunch answers only once it is done: the stop comes while it is under way.
    const asked = postFresh(port, '/api/relaunch', readToken(dir)).catch(() => null);
    await waitFor(() => logOf(dir, p.info.pid).some((m) => m.startsWith('relaunching')), 'the relaunch to be under way');
    p.child.kill('SIGTERM');
    await asked;
    expect(await p.exited).toBe(0);
    // Whatever the new process had reached, it is gone with the Berth it was to replace.
    expect(await nothingServes(port)).toBe(true);
    if (process.platform === 'linux') expect(berthsWith(dir)).toEqual([]);
  });

  it('the Berth serving is killed: the process that was started says so and exits 1', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = runBerth(['serve', '--port', String(port), '--data-dir', dir]);
    procs.push(p);
    await waitFor(() => p.stdout().includes(' is serving on '), 'berth serve to serve');
    const serving = await relaunch(port, dir);
    expect(p.child.exitCode, 'the started process exited after the relaunch').toBeNull();
    process.kill(serving, 'SIGKILL');
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain(`Berth pid ${serving} ended without stopping`);
  });
});
