import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, freePort, health, killBerth, postFresh, readToken, runBerth, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';
import { closeServer, foreignHttp, silentTcp } from './fixtures';

const procs: BerthProcess[] = [];
const extraPids: number[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
  for (const pid of extraPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  while (cleanups.length) await cleanups.pop()!();
});
const track = <T extends BerthProcess>(p: T) => (procs.push(p), p);

describe('berth serve: one instance per port', () => {
  it('a second serve exits 3 naming the running URL, pid and version; the first keeps serving as the same instance', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = track(await startServe(port, dir));
    const second = track(runBerth(['serve', '--port', String(port), '--data-dir', dir]));
    expect(await second.exited).toBe(3);
    expect(second.stderr()).toContain(`already running at http://127.0.0.1:${port}`);
    expect(second.stderr()).toContain(`pid ${first.info.pid}`);
    expect(second.stderr()).toContain(first.info.version);
    expect((await health(port))?.instance).toBe(first.info.instance);
  });

  it('a foreign HTTP server on the port: exit 4 naming the port, what answered, and how to choose another', async () => {
    const port = await freePort();
    const srv = await foreignHttp(port);
    cleanups.push(() => closeServer(srv));
    const p = track(runBerth(['serve', '--port', String(port), '--data-dir', tempDataDir()]));
    expect(await p.exited).toBe(4);
    expect(p.stderr()).toContain(`Port ${port} is in use by another web server`);
    expect(p.stderr()).toContain('NotBerth/1.0');
    expect(p.stderr()).toContain('--port');
  });

  it('a TCP listener that never answers: exit 4 once the handoff deadline passes', async () => {
    const port = await freePort();
    const srv = await silentTcp(port);
    cleanups.push(() => closeServer(srv));
    const p = track(runBerth(['serve', '--port', String(port), '--data-dir', tempDataDir(), '--probe-timeout', '300', '--handoff-timeout', '1000']));
    expect(await p.exited).toBe(4);
    expect(p.stderr()).toMatch(new RegExp(`Port ${port} on 127\\.0\\.0\\.1 did not free within 1 s`));
  });

  it('a silent listener that goes away mid-wait: Berth binds as soon as it is gone, long before the deadline', async () => {
    const port = await freePort();
    const srv = await silentTcp(port);
    const p = runBerth(['serve', '--json', '--port', String(port), '--data-dir', tempDataDir(), '--probe-timeout', '300', '--handoff-timeout', '20000']);
    track(p);
    await waitFor(() => p.stderr().includes('waiting up to'), 'berth to start waiting for the port');
    await closeServer(srv);
    const closedAt = Date.now();
    await waitFor(() => p.stdout().includes('"event":"serving"'), 'berth to serve after the port freed', 15_000, 5);
    // Far inside the 20 s deadline: it bound when the port freed, not after a fixed sleep.
    expect(Date.now() - closedAt).toBeLessThan(10_000);
    expect((await health(port))?.pid).toBe(p.child.pid);
  });

  it('eight simultaneous starts leave exactly one server and seven clear exits 3', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const starters = Array.from({ length: 8 }, () => track(runBerth(['serve', '--json', '--port', String(port), '--data-dir', dir])));
    const serving = await waitFor(async () => {
      const h = await health(port);
      const exited = starters.filter((s) => s.child.exitCode !== null);
      return h && exited.length === 7 ? h : null;
    }, 'one server and seven exits', 30_000, 50);
    const codes = await Promise.all(starters.filter((s) => s.child.exitCode !== null).map((s) => s.exited));
    expect(codes).toEqual([3, 3, 3, 3, 3, 3, 3]);
    const winners = starters.filter((s) => s.child.exitCode === null);
    expect(winners.map((w) => w.child.pid)).toEqual([serving.pid]);
    for (const s of starters.filter((x) => x.child.exitCode !== null)) expect(s.stdout()).toContain(`"pid":${serving.pid}`);
  });

  it('serve --replace asks the running Berth to hand over the port, and takes it', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = track(await startServe(port, dir));
    const second = track(await startServe(port, dir, ['--replace']));
    expect(await first.exited).toBe(0);
    const h = await health(port);
    expect(h?.pid).toBe(second.info.pid);
    expect(h?.instance).not.toBe(first.info.instance);
    expect(first.stderr() + second.stderr()).not.toContain('EADDRINUSE');
  });

  it('APPIMAGE_EXIT_AFTER_INSTALL=true exits at once without touching the port', async () => {
    const port = await freePort();
    const p = runBerth(['serve', '--port', String(port), '--data-dir', tempDataDir()], { env: { APPIMAGE_EXIT_AFTER_INSTALL: 'true' } });
    expect(await p.exited).toBe(0);
    expect(await health(port)).toBeNull();
  });
});

describe('berth relaunch', () => {
  for (const handover of ['socket', 'probe'] as const) {
    it(`20 relaunches (${handover === 'socket' ? 'the socket handed over' : 'close and rebind'}): same port, a new instance each time, the old process gone`, async () => {
      const port = await freePort();
      const dir = tempDataDir();
      const first = track(await startServe(port, dir, [], { BERTH_HANDOVER: handover }));
      const token = readToken(dir);
      let current = { pid: first.info.pid, instance: first.info.instance };
      const seen = new Set([current.instance]);
      for (let i = 0; i < 20; i++) {
        expect(await postFresh(port, '/api/relaunch', token)).toBe(202);
        const next = await waitFor(async () => {
          const h = await health(port);
          return h && h.instance !== current.instance && h.state === 'serving' ? h : null;
        }, `relaunch ${i} to serve`);
        extraPids.push(next.pid);
        await waitFor(() => !alive(current.pid), `old pid ${current.pid} to exit`);
        expect(seen.has(next.instance)).toBe(false);
        seen.add(next.instance);
        current = { pid: next.pid, instance: next.instance };
      }
      expect(seen.size).toBe(21);
      const log = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8');
      expect(log).not.toContain('EADDRINUSE');
      if (handover === 'socket') {
        expect(log.match(/the new process serves on the socket; draining/g)).toHaveLength(20);
        expect(log.match(/-> serve on the socket it handed over/g)).toHaveLength(20);
      } else {
        expect(log.match(/the new process is ready; closing the listener so it can bind/g)).toHaveLength(20);
        // Each successor found its predecessor still serving when it probed, ready to bind: the predecessor
        // let go of the port only then, not while the successor was still loading.
        expect(log.match(/probe 127\.0\.0\.1:\d+: predecessor \(Berth [^)]* \(serving\)\) -> wait for the port/g)).toHaveLength(20);
      }
    });
  }
});

describe('berth commands', () => {
  it('status, restart, restart --app and stop talk to the running server', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const first = track(await startServe(port, dir));
    const args = ['--port', String(port), '--data-dir', dir, '--json'];

    const status = runBerth(['status', ...args]);
    expect(await status.exited).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ running: true, pid: first.info.pid, state: 'serving' });

    const restart = runBerth(['restart', ...args]);
    expect(await restart.exited).toBe(0);
    expect(JSON.parse(restart.stdout())).toMatchObject({ restarted: 'server' });
    expect((await health(port))?.instance).toBe(first.info.instance);

    const relaunch = runBerth(['restart', '--app', ...args]);
    expect(await relaunch.exited).toBe(0);
    const after = JSON.parse(relaunch.stdout()) as { pid: number; instance: string };
    extraPids.push(after.pid);
    expect(after.instance).not.toBe(first.info.instance);

    const stop = runBerth(['stop', ...args]);
    expect(await stop.exited).toBe(0);
    expect(JSON.parse(stop.stdout())).toMatchObject({ stopped: true, pid: after.pid });
    expect(await health(port)).toBeNull();

    const statusAfter = runBerth(['status', ...args]);
    expect(await statusAfter.exited).toBe(1);
    expect(JSON.parse(statusAfter.stdout())).toMatchObject({ running: false });
  });

  it('SIGTERM drains and exits 0', async () => {
    const port = await freePort();
    const p = track(await startServe(port, tempDataDir()));
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(await health(port)).toBeNull();
  });

  it('bad usage and bad config exit 2 with a clear message', async () => {
    const dir = tempDataDir();
    const cases: [string[], NodeJS.ProcessEnv | undefined, RegExp][] = [
      [['serve', '--port', 'abc', '--data-dir', dir], undefined, /Port from --port must be a whole number/],
      [['serve', '--data-dir', dir], { BERTH_PORT: '99999' }, /Port from BERTH_PORT must be between 1 and 65535/],
      [['serve', '--host', 'not a host', '--data-dir', dir], undefined, /Host from --host is not a valid host name/],
      [['launch'], undefined, /unknown command 'launch'/],
      [['serve', '--bogus'], undefined, /Unknown option '--bogus'/],
    ];
    for (const [args, env, message] of cases) {
      const p = runBerth(args, { env });
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(p.stderr()).toMatch(message);
    }
  });
});

describe('configuration precedence: flags > environment > settings file > defaults', () => {
  it('uses the settings file, then BERTH_PORT over it, then --port over both', async () => {
    const dir = tempDataDir();
    const [fromFile, fromEnv, fromFlag] = [await freePort(), await freePort(), await freePort()];
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ port: fromFile }));
    for (const [args, env, expected] of [
      [[], {}, fromFile],
      [[], { BERTH_PORT: String(fromEnv) }, fromEnv],
      [['--port', String(fromFlag)], { BERTH_PORT: String(fromEnv) }, fromFlag],
    ] as [string[], NodeJS.ProcessEnv, number][]) {
      const p = track(runBerth(['serve', '--json', '--data-dir', dir, ...args], { env }));
      await waitFor(() => p.stdout().includes('"event":"serving"'), 'serving');
      expect(JSON.parse(p.stdout().trim()).url).toBe(`http://127.0.0.1:${expected}`);
      await killBerth(p);
    }
  });

  it('a corrupt settings file is set aside with a warning and defaults are used', async () => {
    const dir = tempDataDir();
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'settings.json'), '{"port": 12');
    const p = track(await startServe(port, dir));
    expect(p.stderr()).toMatch(/settings\.json was not valid JSON; it was kept as .*settings\.json\.corrupt-/);
    const aside = fs.readdirSync(dir).filter((f) => f.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(dir, aside[0]!), 'utf8')).toBe('{"port": 12');
  });

  it('creates the token 0600 on first start', async () => {
    const dir = tempDataDir();
    track(await startServe(await freePort(), dir));
    const st = fs.statSync(path.join(dir, 'auth-token'));
    if (process.platform !== 'win32') expect(st.mode & 0o777).toBe(0o600);
    expect(readToken(dir)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
