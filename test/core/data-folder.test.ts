/**
 * A path that cannot be a data folder ends `berth serve` at once with exit 2,
 * naming the folder: under /proc (where Node's recursive mkdir used to spin
 * forever at full CPU), a file, a device, and a folder this user may not
 * open (checked as an unprivileged user: root may open anything).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolders } from '../../app/files/folder';
import { BERTH_BIN, berthEnv, freePort, runBerth, tempDataDir } from '../helpers';

/** Exit code and stderr of a `berth serve` that must end by itself; one that hangs is killed and reported as such. */
async function refusedStart(args: string[], asNobody = false): Promise<{ code: number | string; stderr: string }> {
  const argv = [BERTH_BIN, 'serve', '--port', String(await freePort()), ...args];
  const child = asNobody
    ? spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, ...argv], { env: berthEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, argv, { env: berthEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Generous: a start that spins never ends, one that refuses ends in well under a second.
  const hung = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | string>((resolve) => child.once('exit', (c, signal) => resolve(c ?? signal ?? -1)));
  clearTimeout(hung);
  return { code, stderr };
}

describe('a bad data folder fails fast', () => {
  it('under /proc: exit 2 naming it, instead of spinning', async () => {
    for (const dir of ['/proc/nope', '/proc/self/nope/deeper']) {
      const r = await refusedStart(['--data-dir', dir]);
      expect(r, dir).toEqual({ code: 2, stderr: expect.stringContaining(`berth: Berth cannot use ${dir} as its data folder:`) });
      expect(r.stderr).toContain('does not take new folders (ENOENT)');
    }
  });

  it('a file or a device: exit 2 naming it, and a fix that does not move someone else’s file', async () => {
    const file = path.join(tempDataDir(), 'a-file');
    fs.writeFileSync(file, 'mine');
    for (const [dir, what] of [
      [file, 'a regular file'],
      ['/dev/null', 'a device file'],
    ]) {
      const r = await refusedStart(['--data-dir', dir!]);
      expect(r.code, dir).toBe(2);
      expect(r.stderr).toContain(`The data folder ${dir} is ${what}, not a folder.`);
      expect(r.stderr).toContain('To fix it: choose a folder with --data-dir or BERTH_DATA_DIR');
      expect(r.stderr).not.toContain('mv ');
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('mine');
  });

  it('a folder this user may not open, or not even make: exit 2 naming it (as an unprivileged user)', async () => {
    const base = tempDataDir();
    fs.chmodSync(base, 0o755);
    // Its own folder, with no permission at all (a read-only one is used as it is: faults-data.test.ts).
    const shut = path.join(base, 'shut');
    fs.mkdirSync(shut, { mode: 0o000 });
    fs.chmodSync(shut, 0o000);
    fs.chownSync(shut, 65534, 65534);
    const r = await refusedStart(['--data-dir', shut], true);
    expect(r).toEqual({ code: 2, stderr: expect.stringContaining(`berth: Berth will not use its data folder ${shut}:\n  The data folder ${shut} cannot be opened by this user (EACCES).\n    To fix it: chmod 700 '${shut}', or choose another folder`) });
    const inRoots = path.join(base, 'root-only', 'berth');
    fs.mkdirSync(path.dirname(inRoots), { mode: 0o755 });
    const made = await refusedStart(['--data-dir', inRoots], true);
    expect(made).toEqual({ code: 2, stderr: expect.stringContaining(`berth: Berth cannot use ${inRoots} as its data folder: it cannot be created: permission denied (EACCES).`) });
  });

  it('BERTH_DATA_DIR is named as where the folder came from', async () => {
    const p = runBerth(['serve', '--port', String(await freePort())], { env: { BERTH_DATA_DIR: '/proc/nope' } });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain('Choose another folder with BERTH_DATA_DIR or --data-dir.');
  });
});

describe('makeFolders', () => {
  it('makes the missing folders, 0700, and names the one it could not make', () => {
    const base = tempDataDir();
    const deep = path.join(base, 'a', 'b', 'c');
    makeFolders(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(base, 'a')).mode & 0o777).toBe(0o700);
    makeFolders(deep); // already there: fine
    const file = path.join(base, 'f');
    fs.writeFileSync(file, '');
    expect(() => makeFolders(path.join(file, 'x'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => makeFolders('/proc/nope/x')).toThrow(expect.objectContaining({ code: 'ENOENT', path: '/proc/nope' }));
  });
});
