/**
 * How the CLI finds its Berth: the runtime file in the data folder, and this
 * user's list of running Berths (`berth list`), each in a list folder of the
 * test's own (BERTH_RUNTIME_DIR) so that no other test sees them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registryDir } from '../../app/runtime/record';
import { alive, freePort, killBerth, readToken, runBerth, startServe, tempDataDir, waitFor, type BerthProcess } from '../helpers';

const procs: BerthProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
});

async function serve(port: number, dataDir: string, env: NodeJS.ProcessEnv) {
  const p = await startServe(port, dataDir, [], env);
  procs.push(p);
  return p;
}

async function list(env: NodeJS.ProcessEnv) {
  const p = runBerth(['list', '--json'], { env });
  expect(await p.exited, p.stderr()).toBe(0);
  return JSON.parse(p.stdout()) as { berths: { url: string; pid: number; version: string; dataDir: string; state: string; port: number }[]; registry: string };
}

describe('berth list', () => {
  it('shows every running Berth of this user with its address, pid, version and data folder, and forgets the ones that are gone', async () => {
    const env = { BERTH_RUNTIME_DIR: path.join(tempDataDir('berth-list-'), 'running') };
    const [portA, portB] = [await freePort(), await freePort()];
    const [dirA, dirB] = [tempDataDir(), tempDataDir()];
    const a = await serve(portA, dirA, env);
    const b = await serve(portB, dirB, env);
    const seen = await list(env);
    expect(seen.registry).toBe(env.BERTH_RUNTIME_DIR);
    expect(seen.berths.map((x) => ({ url: x.url, pid: x.pid, dataDir: x.dataDir, state: x.state })).sort((x, y) => x.pid - y.pid)).toEqual(
      [
        { url: `http://127.0.0.1:${portA}`, pid: a.info.pid, dataDir: dirA, state: 'serving' },
        { url: `http://127.0.0.1:${portB}`, pid: b.info.pid, dataDir: dirB, state: 'serving' },
      ].sort((x, y) => x.pid - y.pid),
    );
    expect(seen.berths.every((x) => x.version === a.info.version)).toBe(true);
    // The list folder is this user's alone, and so is every entry; none holds the token.
    expect(fs.statSync(env.BERTH_RUNTIME_DIR).mode & 0o777).toBe(0o700);
    for (const name of fs.readdirSync(env.BERTH_RUNTIME_DIR)) {
      const file = path.join(env.BERTH_RUNTIME_DIR, name);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(file, 'utf8')).not.toContain(readToken(dirA));
    }

    // The human form: one line a Berth, under a header.
    const human = runBerth(['list'], { env });
    expect(await human.exited).toBe(0);
    expect(human.stdout().split('\n')[0]).toMatch(/^ADDRESS\s+PID\s+VERSION\s+STATE\s+DATA FOLDER$/);
    expect(human.stdout()).toContain(`http://127.0.0.1:${portA}`);

    // Killed (no chance to clean up): not listed, and its entry is removed by the next reader.
    a.child.kill('SIGKILL');
    await a.exited;
    expect((await list(env)).berths.map((x) => x.pid)).toEqual([b.info.pid]);
    expect(fs.readdirSync(env.BERTH_RUNTIME_DIR)).toEqual([`${b.info.pid}.json`]);
    // Stopped: it takes itself off the list, and its runtime file with it.
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(fs.readdirSync(env.BERTH_RUNTIME_DIR)).toEqual([]);
    expect(fs.existsSync(path.join(dirB, 'runtime.json'))).toBe(false);
    const none = runBerth(['list'], { env });
    expect(await none.exited).toBe(0);
    expect(none.stdout()).toBe('No Berth is running for this user.\n');
  });

  it('a list folder another user could write in is not used, and nothing is listed from it', async () => {
    const dir = path.join(tempDataDir('berth-list-'), 'running');
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chmodSync(dir, 0o777);
    const env = { BERTH_RUNTIME_DIR: dir };
    // A planted entry that points at a Berth of someone else's choosing.
    fs.writeFileSync(path.join(dir, `${process.pid}.json`), JSON.stringify({ app: 'berth', pid: process.pid, instance: 'x', version: '9', url: 'http://127.0.0.1:1', host: '127.0.0.1', port: 1, dataDir: '/tmp/theirs', startedAt: '' }));
    const dataDir = tempDataDir();
    const p = await serve(await freePort(), dataDir, env);
    expect((await list(env)).berths).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual([`${process.pid}.json`]);
    // The Berth itself serves on, and says in its log why it is not listed.
    await waitFor(() => fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8').includes(`the list of running Berths (${dir}) is not usable`), 'the warning in the log');
    expect(alive(p.info.pid)).toBe(true);
  });

  it('the list folder defaults to a per-user place: $XDG_RUNTIME_DIR, ~/.local/state, ~/Library/Caches, %LOCALAPPDATA%', () => {
    expect(registryDir({ XDG_RUNTIME_DIR: '/run/user/1000' }, 'linux', '/home/a')).toBe('/run/user/1000/berth');
    expect(registryDir({}, 'linux', '/home/a')).toBe('/home/a/.local/state/berth/running');
    expect(registryDir({ XDG_STATE_HOME: '/s' }, 'linux', '/home/a')).toBe('/s/berth/running');
    expect(registryDir({}, 'darwin', '/Users/a')).toBe('/Users/a/Library/Caches/Berth/running');
    expect(registryDir({ LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, 'win32', 'C:\\Users\\a')).toBe('C:\\Users\\a\\AppData\\Local\\Berth\\running');
    expect(registryDir({ BERTH_RUNTIME_DIR: '/t/r', XDG_RUNTIME_DIR: '/run/user/1000' }, 'linux', '/home/a')).toBe('/t/r');
  });

  it('takes no address: it lists them all', async () => {
    const p = runBerth(['list', '--port', '9000']);
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain("'berth list' shows every Berth of this user; it takes no --port.");
  });
});

describe('the runtime file', () => {
  it('names where the Berth of a data folder serves, and status, stop and restart use it when given only --data-dir', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await serve(port, dir, {});
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'runtime.json'), 'utf8')) as Record<string, unknown>;
    expect(rec).toMatchObject({ app: 'berth', pid: p.info.pid, instance: p.info.instance, url: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, dataDir: dir, desktop: false });
    expect(fs.statSync(path.join(dir, 'runtime.json')).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(rec)).not.toContain(readToken(dir));
    const status = runBerth(['status', '--data-dir', dir]);
    expect(await status.exited).toBe(0);
    expect(status.stdout()).toContain(`is serving on http://127.0.0.1:${port} (pid ${p.info.pid}`);
    // A runtime file left by a process that is gone is not believed.
    p.child.kill('SIGKILL');
    await p.exited;
    const after = runBerth(['status', '--data-dir', dir]);
    expect(await after.exited).toBe(1);
    expect(after.stdout()).toContain('Berth is not running on 127.0.0.1:8787');
  });

  it('follows a move from Settings', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    const p = await serve(port, dir, {});
    const next = await freePort();
    const res = await fetch(`http://127.0.0.1:${port}/api/settings`, { method: 'PUT', headers: { Authorization: `Bearer ${readToken(dir)}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ port: next }) });
    expect(res.status).toBe(200);
    await waitFor(() => (JSON.parse(fs.readFileSync(path.join(dir, 'runtime.json'), 'utf8')) as { port: number }).port === next, 'the runtime file to follow the move');
    const status = runBerth(['status', '--data-dir', dir]);
    expect(await status.exited).toBe(0);
    expect(status.stdout()).toContain(`on http://127.0.0.1:${next} (pid ${p.info.pid}`);
  });
});

describe('times on the terminal', () => {
  it('status says when the Berth started in local time, with the offset', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    await serve(port, dir, {});
    const tz = runBerth(['status', '--port', String(port), '--data-dir', dir], { env: { TZ: 'Asia/Kolkata' } });
    expect(await tz.exited).toBe(0);
    expect(tz.stdout()).toMatch(/, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30\)\.$/m);
  });
});


describe('a Berth that does not answer in time', () => {
  it('is named as the Berth of this data folder, busy or stopped, not as another program (exit 1, not 4)', async () => {
    const env = { BERTH_RUNTIME_DIR: path.join(tempDataDir('berth-list-'), 'running') };
    const port = await freePort();
    const dir = tempDataDir();
    const b = await serve(port, dir, env);
    // Stopped: the kernel still accepts connections for it, and nothing answers.
    process.kill(b.info.pid, 'SIGSTOP');
    try {
      const p = runBerth(['status', '--port', String(port), '--data-dir', dir, '--probe-timeout', '300'], { env });
      const code = await p.exited;
      const said = p.stdout() + p.stderr();
      expect(said).toContain(`Berth pid ${b.info.pid}`);
      expect(said).toMatch(/did not answer within 0\.3 s/);
      expect(said).not.toContain('not by Berth');
      expect(code).toBe(1);
    } finally {
      process.kill(b.info.pid, 'SIGCONT');
    }
  });
});
