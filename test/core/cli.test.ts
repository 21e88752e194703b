import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { holdsPort } from '../../app/instance/holder';
import { probePort } from '../../app/instance/probe';
import { alive, BERTH_BIN, berthProgram, freePort, health, killBerth, postFresh, readToken, runBerth, startedWaits, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';
import { closeServer, foreignHttp, silentTcp } from './fixtures';
import { endedAfterEach, resettingProxy } from './cli-fixtures';

/** The environment without the developer's BERTH_* settings, as runBerth uses. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
}

const { extraPids, cleanups, guarded, track } = endedAfterEach();

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

  it('a TCP listener that never answers: exit 4 once the handoff deadline passes; the wait it announces, the one it reports and the real one agree', async () => {
    const port = await freePort();
    const srv = await silentTcp(port);
    cleanups.push(() => closeServer(srv));
    const dir = tempDataDir();
    const started = performance.now();
    const p = track(runBerth(['serve', '--port', String(port), '--data-dir', dir, '--probe-timeout', '300', '--handoff-timeout', '1000']));
    expect(await p.exited).toBe(4);
    const took = (performance.now() - started) / 1000;
    // The deadline counts from serve's first probe, not from after the server loaded and probed again.
    const announced = new RegExp(`waiting up to (\\d+\\.\\d) s for 127\\.0\\.0\\.1:${port} to free`).exec(p.stderr());
    const reported = new RegExp(`Port ${port} on 127\\.0\\.0\\.1 did not free within (\\d+\\.\\d) s`).exec(p.stderr());
    expect(announced?.[1]).toBe('1.0');
    expect(Number(reported?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(reported?.[1])).toBeLessThanOrEqual(took + 0.05);
    const log = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8');
    expect(log).toContain(`did not free within ${reported?.[1]} s`);
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

/** Windows has no waiting started process (cli/foreground.ts): there it exits once it has handed over, as every other predecessor. */
const waits = process.platform !== 'win32';

/** Whether systemd's own tool for socket activation is here (Debian: the systemd package). */
const socketActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0;

/**
 * `berth serve` started the way systemd starts a socket-activated service: systemd-socket-activate
 * listens, and on the first connection execs Berth with the socket as descriptor 3 (LISTEN_FDS). No
 * --port: Berth serves where the socket listens.
 */
async function serveActivated(port: number, dir: string): Promise<BerthProcess & { info: { pid: number; instance: string } }> {
  const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, process.execPath, BERTH_BIN, 'serve', '--json', '--data-dir', dir], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const p: BerthProcess = { child, stdout: () => out, stderr: () => err, exited };
  track(p);
  await waitFor(() => err.includes('Listening on'), 'systemd-socket-activate to listen');
  // The first connection starts Berth; it waits in the socket's queue and is answered once Berth serves.
  const first = await Promise.race([
    waitFor(() => health(port), 'the activated Berth to answer its first connection', 30_000),
    exited.then((code) => {
      throw new Error(`socket-activated berth serve exited ${code}:\n${out}\n${err}`);
    }),
  ]);
  return { ...p, info: { pid: first.pid, instance: first.instance } };
}

describe('berth relaunch', () => {
  for (const start of ['socket', 'probe', 'systemd'] as const) {
    const how = { socket: 'the socket handed over', probe: 'close and rebind', systemd: 'started by systemd socket activation, the socket handed over' }[start];
    it.skipIf(start === 'systemd' && !socketActivate)(`20 relaunches (${how}): same port, a new instance each time, each old process gone but the started one, which waits without the port and ends with Berth`, async () => {
      const port = await freePort();
      const dir = tempDataDir();
      guarded.push(dir);
      const handover = start === 'probe' ? 'probe' : 'socket';
      const first = start === 'systemd' ? await serveActivated(port, dir) : track(await startServe(port, dir, [], { BERTH_HANDOVER: handover }));
      // Socket activation is the same exec: systemd's pid is Berth's.
      expect(first.info.pid).toBe(first.child.pid);
      let current = { pid: first.info.pid, instance: first.info.instance };
      const seen = new Set([current.instance]);
      for (let i = 0; i < 20; i++) {
        // As a user would: `berth restart --app` waits until the new process serves and names it. While the
        // socket is handed over both processes accept on it, so the command's requests reach either one.
        const cmd = runBerth(['restart', '--app', '--json', '--port', String(port), '--data-dir', dir]);
        const code = await cmd.exited;
        expect(code, `relaunch ${i}: ${cmd.stdout()}${cmd.stderr()}`).toBe(0);
        const next = JSON.parse(cmd.stdout()) as { pid: number; instance: string; state: string };
        extraPids.push(next.pid);
        expect(next).toMatchObject({ state: 'serving' });
        expect(next.instance).not.toBe(current.instance);
        // The process that was started stays as long as Berth serves (a foreground program), without the port.
        if (current.pid === first.info.pid && waits) await waitFor(() => startedWaits(dir, current.pid), `started pid ${current.pid} to hand over and wait`);
        else await waitFor(() => !alive(current.pid), `old pid ${current.pid} to exit`);
        expect(seen.has(next.instance)).toBe(false);
        seen.add(next.instance);
        current = { pid: next.pid, instance: next.instance };
      }
      expect(seen.size).toBe(21);
      if (waits) {
        // Stopping the started process stops the Berth serving now, and it exits after it.
        expect(first.child.exitCode).toBeNull();
        if (process.platform === 'linux') expect(holdsPort(first.info.pid, port)).toBe(false);
        first.child.kill('SIGTERM');
        expect(await first.exited).toBe(0);
        expect(alive(current.pid)).toBe(false);
      }
      const log = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8');
      expect(log).not.toContain('EADDRINUSE');
      if (start === 'systemd') {
        // The socket systemd passed is served without a probe (a probe would only reach its own queue).
        expect(log).toContain('serving on the socket systemd passed (descriptor 3), without a probe');
        expect(log).not.toMatch(new RegExp(`"pid":${first.info.pid},[^\\n]*"msg":"probe `));
      }
      if (handover === 'socket') {
        expect(log.match(/the new process \(pid \d+\) serves on the socket; confirming for 2 s/g)).toHaveLength(20);
        // Each successor names its predecessor with its version (the port checks on the Status page show this line).
        expect(log.match(/predecessor \(Berth \d+\.\d+\.\d+\S* pid \d+ \(serving\)\) -> serve on the socket it handed over/g)).toHaveLength(20);
      } else {
        expect(log.match(/the new process is ready; closing the listener so it can bind/g)).toHaveLength(20);
        // Each successor found its predecessor still serving when it probed, ready to bind: the predecessor
        // let go of the port only then, not while the successor was still loading.
        expect(log.match(/probe 127\.0\.0\.1:\d+: predecessor \(Berth [^)]* \(serving\)\) -> wait for the port/g)).toHaveLength(20);
      }
      // Each old process stays until its successor has served through the confirmation window: a long loop.
    }, 300_000);
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
    expect({ code: await restart.exited, stderr: restart.stderr() }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(restart.stdout())).toMatchObject({ restarted: 'server' });
    expect((await health(port))?.instance).toBe(first.info.instance);

    const relaunch = runBerth(['restart', '--app', ...args]);
    const relaunchCode = await relaunch.exited;
    expect(relaunchCode, `${relaunch.stdout()}${relaunch.stderr()}`).toBe(0);
    const after = JSON.parse(relaunch.stdout()) as { pid: number; instance: string };
    extraPids.push(after.pid);
    expect(after.instance).not.toBe(first.info.instance);

    const stop = runBerth(['stop', ...args]);
    expect(await stop.exited).toBe(0);
    expect(JSON.parse(stop.stdout())).toMatchObject({ stopped: true, pid: after.pid });
    // Asked on a new connection: a pooled keep-alive one to the relaunched-away process may still get its last answer.
    expect((await probePort('127.0.0.1', port, { timeout: 2000 })).verdict).toBe('free');

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
      [['launch'], undefined, /Unknown command 'launch'/],
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

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the CLI tells the truth in one sentence', () => {
  it('--port "" and other empty values are usage errors, not the default', async () => {
    const dir = tempDataDir();
    for (const [args, message] of [
      [['status', '--port', '', '--data-dir', dir], /Port from --port must be a whole number: ""/],
      [['serve', '--port=', '--data-dir', dir], /Port from --port must be a whole number: ""/],
      [['status', '--host', '', '--data-dir', dir], /Host from --host must be an address/],
      [['status', '--data-dir', ''], /--data-dir needs a folder/],
      [['serve', '--probe-timeout', '', '--data-dir', dir], /--probe-timeout must be a number of milliseconds/],
    ] as [string[], RegExp][]) {
      const p = runBerth(args);
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(p.stderr()).toMatch(message);
      expect(lines(p.stderr()), args.join(' ')).toHaveLength(1);
    }
  });

  it('--host that is not an address of this computer: exit 2 before anything loads, no raw resolver error', async () => {
    const port = await freePort();
    for (const host of ['10.9.8.7', '192.0.2.250', '2001:db8::7']) {
      const p = track(runBerth(['serve', '--host', host, '--port', String(port), '--data-dir', tempDataDir()]));
      expect(await p.exited, host).toBe(2);
      expect(p.stderr()).toContain(`berth: Host ${host} (from --host) is not an address of this computer; use 127.0.0.1, 0.0.0.0 or one of this computer's own addresses.`);
      expect(lines(p.stderr())).toHaveLength(1);
      expect(p.stderr()).not.toMatch(/EADDRNOTAVAIL|getaddrinfo|EAI_|ENOTFOUND/);
    }
    // An address this computer has is fine.
    const own = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address ?? '127.0.0.2';
    const ok = runBerth(['status', '--host', own, '--port', String(port), '--data-dir', tempDataDir()]);
    expect(await ok.exited).toBe(1);
    expect(ok.stdout()).toContain(`Berth is not running on ${own}:${port}`);
  });

  it('status changes nothing on disk: a corrupt settings.json stays as it is, with a warning', async () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'settings.json'), '{"port": 12');
    const before = fs.readdirSync(dir).sort();
    for (const command of ['status', 'stop', 'restart', 'open']) {
      const p = runBerth([command, '--port', String(await freePort()), '--data-dir', dir]);
      await p.exited;
      expect(p.stderr(), command).toMatch(/berth: warning: .*settings\.json is not valid JSON; default settings are in use, and the file is left as it is\./);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(before);
    expect(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).toBe('{"port": 12');
    // A missing data directory is not created either.
    const missing = path.join(dir, 'not-there');
    expect(await runBerth(['status', '--data-dir', missing, '--port', String(await freePort())]).exited).toBe(1);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('"Start it with" names the address and data folder that differ from the defaults, however they were given', async () => {
    const port = await freePort();
    const dir = path.join(tempDataDir(), 'my data');
    const prog = berthProgram();
    for (const command of ['status', 'restart', 'open']) {
      const p = runBerth([command, '--host', '127.0.0.1', '--port', String(port), '--data-dir', dir]);
      expect(await p.exited, command).toBe(1);
      // 127.0.0.1 is the default host: nothing to repeat.
      expect(p.stdout() + p.stderr(), command).toContain(`Berth is not running on 127.0.0.1:${port}. Start it with: ${prog} serve --port ${port} --data-dir "${dir}"`);
    }
    // From the environment too: the next terminal may not have it.
    const env = runBerth(['status'], { env: { BERTH_PORT: String(port), BERTH_DATA_DIR: dir } });
    expect(await env.exited).toBe(1);
    expect(env.stdout()).toContain(`Start it with: ${prog} serve --port ${port} --data-dir "${dir}"\n`);
  });

  it('a duplicate start suggests commands that reach that same Berth, one to a line', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    track(await startServe(port, dir));
    const p = runBerth(['serve', '--port', String(port), '--data-dir', dir]);
    expect(await p.exited).toBe(3);
    const prog = berthProgram();
    expect(lines(p.stderr())).toEqual([
      expect.stringMatching(new RegExp(`^berth: Berth \\S+ is already running at http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\)\\.$`)),
      `  Open it:       ${prog} open --port ${port} --data-dir ${dir}`,
      `  Stop it:       ${prog} stop --port ${port} --data-dir ${dir}`,
      `  Take it over:  ${prog} serve --replace --port ${port} --data-dir ${dir}`,
    ]);
  });

  it('no INFO line before an error: a refused start prints its error alone', async () => {
    const port = await freePort();
    const srv = await foreignHttp(port);
    cleanups.push(() => closeServer(srv));
    const p = track(runBerth(['serve', '--port', String(port), '--data-dir', tempDataDir()]));
    expect(await p.exited).toBe(4);
    // The error, and the command that serves on a free port instead.
    expect(lines(p.stderr())).toEqual([expect.stringMatching(/^berth: Port \d+ is in use by another web server/), expect.stringMatching(/^ {2}Port \d+ is free: {2}\S.* serve --port \d+ --data-dir /)]);
  });

  it('no INFO line before an error: a bind refused after the server loaded (EACCES as an unprivileged user)', async () => {
    const dir = tempDataDir();
    // The data folder belongs to the user Berth runs as (a folder of someone else's is refused before anything loads).
    spawnSync('chown', ['nobody:nogroup', dir]);
    fs.chmodSync(dir, 0o700);
    // Port 1 is free and privileged: the probe says free, the server loads, and the bind is refused.
    const asNobody = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BERTH_BIN, 'serve', '--port', '1', '--data-dir', dir], { encoding: 'utf8', env: cleanEnv() });
    expect(asNobody.status).toBe(2);
    expect(lines(asNobody.stderr)).toEqual([expect.stringMatching(/^berth: Not allowed to listen on 127\.0\.0\.1:1 \(EACCES\)/)]);
    // It is all in the log file, for whoever looks later.
    expect(fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8')).toMatch(/probe 127\.0\.0\.1:1: free/);
  });

  it('a successful start prints its one line; progress goes to the log file', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = track(runBerth(['serve', '--port', String(port), '--data-dir', dir]));
    await waitFor(() => p.stdout().includes('is serving on'), 'serving');
    expect(lines(p.stdout())).toEqual([expect.stringMatching(new RegExp(`^Berth \\S+ is serving on http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\)\\. Open it signed in with: ${berthProgram()} open --port ${port} --data-dir ${dir}$`))]);
    expect(p.stderr()).toBe('');
    await waitFor(() => fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8').includes('serving on'), 'the log file to have the start');
  });

  it('a typo prints one line and where to look, not the whole usage', async () => {
    const prog = berthProgram();
    for (const [args, message] of [
      [['stauts'], `berth: Unknown command 'stauts' (did you mean 'status'?). Run '${prog} --help' for the commands.`],
      [['launch'], `berth: Unknown command 'launch'. Run '${prog} --help' for the commands.`],
      [['serve', '--prot', '9000'], `berth: Unknown option '--prot' (did you mean '--port'?). Run '${prog} serve --help' for its options.`],
      [['status', '--replace'], `berth: 'berth status' has no option --replace (only 'berth serve' takes it). Run '${prog} status --help' for its options.`],
      [['serve', '--port'], `berth: Option --port needs a value. Run '${prog} serve --help' for its options.`],
      [['stop', 'now'], `berth: Unexpected argument 'now'. Run '${prog} stop --help' for its options.`],
      // A negative number is the option's value, and what is wrong with it is said.
      [['serve', '--probe-timeout', '-5'], `berth: --probe-timeout must be a number of milliseconds of at least 1, not "-5".`],
    ] as [string[], string][]) {
      const p = runBerth(args);
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(lines(p.stderr()), args.join(' ')).toEqual([message]);
      expect(p.stdout()).toBe('');
    }
  });

  it('per-command help lists every option the command takes, the timeouts included', async () => {
    const serve = runBerth(['serve', '--help']);
    expect(await serve.exited).toBe(0);
    for (const option of ['--host <addr>', '--port <n>', '--data-dir <dir>', '--replace', '--json', '--probe-timeout <ms>', '--handoff-timeout <ms>', '--drain-timeout <ms>']) {
      expect(serve.stdout()).toContain(option);
    }
    expect(serve.stdout()).not.toContain('--handoff-pid');
    const status = runBerth(['help', 'status']);
    expect(await status.exited).toBe(0);
    expect(status.stdout()).toContain(`Usage: ${berthProgram()} status`);
    expect(status.stdout()).toContain('--probe-timeout <ms>');
    expect(status.stdout()).not.toContain('--replace');
    const restart = runBerth(['restart', '-h']);
    expect(await restart.exited).toBe(0);
    expect(restart.stdout()).toContain('--app');
    const general = runBerth(['--help']);
    expect(await general.exited).toBe(0);
    expect(general.stdout()).toContain(`Run '${berthProgram()} <command> --help'`);
  });

  it('every error and warning reads the same way: "berth: " and a capital', async () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'settings.json'), '{');
    const port = await freePort();
    const outputs: string[] = [];
    for (const args of [['status', '--port', 'x'], ['bogus'], ['serve', '--drain-timeout', '-5'], ['restart', '--port', String(port), '--data-dir', dir], ['stop', '--host', '10.9.8.7']]) {
      const p = runBerth(args);
      await p.exited;
      outputs.push(...lines(p.stderr()));
    }
    expect(outputs.length).toBeGreaterThanOrEqual(6);
    // A capital, or a quoted command or option, or a path.
    for (const line of outputs) expect(line).toMatch(/^berth: (warning: )?[A-Z'/-]/);
  });
});

describe('the CLI never prints a stack trace, and retries what was reset', () => {
  it('restart whose request is reset before it reaches Berth: sent again, and done once', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    track(await startServe(port, dir));
    const proxy = await resettingProxy(port, (line, seen) => (line === 'POST /api/restart' && !seen.some((s) => s.line === line) ? 'before' : 'pass'));
    cleanups.push(() => proxy.close());
    const p = runBerth(['restart', '--json', '--port', String(proxy.port), '--data-dir', dir]);
    expect(await p.exited).toBe(0);
    expect(JSON.parse(p.stdout())).toMatchObject({ restarted: 'server' });
    expect(proxy.seen.filter((s) => s.line === 'POST /api/restart').map((s) => s.plan)).toEqual(['before', 'pass']);
    const history = (await (await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dir)}` } })).json()) as { history: { kind: string }[] };
    expect(history.history.filter((h) => h.kind === 'restart')).toHaveLength(1);
  });

  it('restart whose answer is reset after Berth acted: not sent twice, and reported done', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    track(await startServe(port, dir));
    const proxy = await resettingProxy(port, (line) => (line === 'POST /api/restart' ? 'after' : 'pass'));
    cleanups.push(() => proxy.close());
    const p = runBerth(['restart', '--json', '--port', String(proxy.port), '--data-dir', dir]);
    expect(await p.exited).toBe(0);
    expect(JSON.parse(p.stdout())).toMatchObject({ restarted: 'server' });
    expect(proxy.seen.filter((s) => s.line === 'POST /api/restart')).toHaveLength(1);
  });

  it('stop and status through resets: the same outcome as without them', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const server = track(await startServe(port, dir));
    // Every first connection of a kind is reset before Berth sees it: the probe's, the stop's.
    const proxy = await resettingProxy(port, (line, seen) => (seen.some((s) => s.line === line) ? 'pass' : 'before'), { closeWhenTargetStops: true });
    cleanups.push(() => proxy.close());
    const status = runBerth(['status', '--json', '--port', String(proxy.port), '--data-dir', dir]);
    expect(await status.exited).toBe(0);
    expect(JSON.parse(status.stdout())).toMatchObject({ running: true, pid: server.info.pid });
    const stop = runBerth(['stop', '--json', '--port', String(proxy.port), '--data-dir', dir]);
    expect(await server.exited).toBe(0);
    expect(await stop.exited).toBe(0);
    expect(JSON.parse(stop.stdout())).toMatchObject({ stopped: true, pid: server.info.pid });
    expect(proxy.seen.filter((s) => s.line === 'POST /api/stop').map((s) => s.plan)).toEqual(['before', 'pass']);
  });

  it('restart --app whose new process dies: says so at once, and the running Berth keeps serving', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    // Every successor (it carries --handoff) exits 1 at once; the first process is unaffected.
    const preload = path.join(dir, 'fail-successor.cjs');
    fs.writeFileSync(preload, "if (process.argv.some((a) => a.startsWith('--handoff'))) process.exit(1);\n");
    const first = track(await startServe(port, dir, [], { NODE_OPTIONS: `--require ${preload}` }));
    const p = runBerth(['restart', '--app', '--port', String(port), '--data-dir', dir]);
    expect(await p.exited).toBe(1);
    expect(lines(p.stderr())).toEqual([`berth: The new process exited with code 1; Berth pid ${first.info.pid} keeps serving on http://127.0.0.1:${port}.`]);
    expect((await health(port))?.instance).toBe(first.info.instance);
  });

  it('an unexpected failure is one sentence with what to do, never a stack trace', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    track(await startServe(port, dir));
    // A proxy of another program in front of Berth resets every restart request before it reaches Berth.
    const proxy = await resettingProxy(port, (line) => (line.startsWith('POST /api/restart') ? 'before' : 'pass'));
    cleanups.push(() => proxy.close());
    const p = runBerth(['restart', '--port', String(proxy.port), '--data-dir', dir]);
    expect(await p.exited).toBe(1);
    expect(lines(p.stderr())).toEqual([expect.stringMatching(/^berth: Berth on 127\.0\.0\.1:\d+ closed the connection 6 times before answering \(ECONNRESET\); try again in a moment, or see its log\.$/)]);
  });
});
