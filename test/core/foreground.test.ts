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
import { alive, BERTH_BIN, freePort, health, killBerth, postFresh, readToken, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';
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
      expect(await postFresh(port, '/api/restart', token)).toBe(202);
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
});
