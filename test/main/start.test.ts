/**
 * `npm start` (scripts/start.mjs): the desktop app through the electron
 * package's binary, or, where Electron cannot run, one line saying why and the
 * same server headless. Spawned for real; the Electron binary, which cannot
 * exist here, is stood in for by a script where a test needs one.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, freePort, health, sleep, tempDataDir, waitFor } from '../helpers';
import { canListen } from '../../main/startup';
// @ts-ignore: a plain ES module without type declarations.
import { chooseRuntime, commandFor, findElectron } from '../../scripts/start.mjs';

const START = path.join(ROOT, 'scripts', 'start.mjs');

function start(args: string[], env: NodeJS.ProcessEnv) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BERTH_') && !['DISPLAY', 'WAYLAND_DISPLAY', 'ELECTRON_OVERRIDE_DIST_PATH'].includes(k)) clean[k] = v;
  const child = spawn(process.execPath, [START, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  return { child, out: () => out, err: () => err, exited };
}

/** A stand-in for the Electron binary: records its arguments and exits 7. */
function fakeElectron(): { dir: string; marker: string } {
  const dir = tempDataDir('berth-fake-electron-');
  const marker = path.join(dir, 'args.txt');
  fs.writeFileSync(path.join(dir, 'electron'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${marker}"\nexit 7\n`, { mode: 0o755 });
  return { dir, marker };
}

describe('npm start: choosing the runtime', () => {
  const electron = { binary: '/opt/electron/electron' };
  it('runs Electron where there is a binary and a display', () => {
    expect(chooseRuntime({ electron, platform: 'linux', env: { DISPLAY: ':0' } })).toEqual({ kind: 'electron', binary: electron.binary });
    expect(chooseRuntime({ electron, platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' } })).toEqual({ kind: 'electron', binary: electron.binary });
    // Windows and macOS always have a display for a logged-in user.
    expect(chooseRuntime({ electron, platform: 'win32', env: {} }).kind).toBe('electron');
    expect(chooseRuntime({ electron, platform: 'darwin', env: {} }).kind).toBe('electron');
  });

  it('falls back to headless without a binary, or without a display on Linux, and says which', () => {
    expect(chooseRuntime({ electron: { missing: 'the Electron runtime is not installed (x)' }, platform: 'linux', env: { DISPLAY: ':0' } })).toEqual({
      kind: 'headless',
      reason: 'the Electron runtime is not installed (x)',
    });
    expect(chooseRuntime({ electron, platform: 'linux', env: {} })).toEqual({
      kind: 'headless',
      reason: 'there is no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset)',
    });
  });

  it('finds no binary when the electron package throws (its download never ran) or points at nothing', () => {
    const throwing = () => {
      throw new Error('Electron failed to install correctly, please delete node_modules/electron and try installing again');
    };
    expect(findElectron(throwing)).toEqual({ missing: 'the Electron runtime is not installed (node_modules/electron has no binary)' });
    expect(findElectron(() => '/nonexistent/electron').missing).toMatch(/no binary at \/nonexistent\/electron/);
  });

  it('passes the arguments on: to Electron after the app folder, to berth serve after the command', () => {
    expect(commandFor({ kind: 'electron', binary: '/e' }, ['--port', '9000'])).toEqual({ file: '/e', args: [ROOT, '--port', '9000'] });
    expect(commandFor({ kind: 'headless', reason: 'r' }, ['--port', '9000'], '/node')).toEqual({ file: '/node', args: [path.join(ROOT, 'bin', 'berth.js'), 'serve', '--port', '9000'] });
  });
});

describe('npm start: spawned', () => {
  it('without Electron here: one line says why, then the headless server serves, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const p = start(['--port', String(port), '--data-dir', dataDir, '--json'], {});
    const info = await Promise.race([
      waitFor(() => {
        const line = p.out().split('\n').find((l) => l.includes('"event":"serving"'));
        return line ? (JSON.parse(line) as { url: string; pid: number }) : null;
      }, 'the headless server to serve'),
      p.exited.then((c) => {
        throw new Error(`npm start exited ${c}: ${p.err()}`);
      }),
    ]);
    expect(info.url).toBe(`http://127.0.0.1:${port}`);
    expect(await health(port), p.err()).toMatchObject({ app: 'berth', pid: info.pid });
    const notice = p.err().split('\n').filter((l) => l.startsWith('berth: '));
    expect(notice, p.err()).toEqual([`berth: the Electron runtime is not installed (node_modules/electron has no binary); running the server headless instead (berth serve --port ${port} --data-dir ${dataDir} --json).`]);
    // SIGTERM to npm start reaches the server once: it drains and exits 0, and the port is free.
    p.child.kill('SIGTERM');
    expect(await p.exited, p.err()).toBe(0);
    expect(await canListen('127.0.0.1', port)).toBe(true);
    expect(p.err()).toContain('SIGTERM: draining and stopping');
    expect(p.err()).not.toContain('again: exiting now');
  });

  it('passes the headless exit code on (a port held by another program: 4)', async () => {
    const port = await freePort();
    const http = await import('node:http');
    const srv = http.createServer((_q, s) => s.end('not berth'));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    try {
      const p = start(['--port', String(port), '--data-dir', tempDataDir()], {});
      expect(await p.exited).toBe(4);
      expect(p.err()).toMatch(/Port \d+ is in use by another web server/);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it.skipIf(process.platform === 'win32')('with an Electron binary and a display: runs it on the app folder with the arguments, and passes its exit code on', async () => {
    const fake = fakeElectron();
    const p = start(['--port', '9123', '--hidden'], { ELECTRON_OVERRIDE_DIST_PATH: fake.dir, DISPLAY: ':99' });
    expect(await p.exited).toBe(7);
    expect(fs.readFileSync(fake.marker, 'utf8').trim().split('\n')).toEqual([ROOT, '--port', '9123', '--hidden']);
    expect(p.err()).toBe('');
  });

  it.skipIf(process.platform !== 'linux')('with an Electron binary but no display (Linux): headless, and says so', async () => {
    const fake = fakeElectron();
    const port = await freePort();
    const p = start(['--port', String(port), '--data-dir', tempDataDir(), '--json'], { ELECTRON_OVERRIDE_DIST_PATH: fake.dir });
    await waitFor(() => p.out().includes('"event":"serving"') || p.child.exitCode !== null, 'serving');
    expect(fs.existsSync(fake.marker)).toBe(false);
    expect(p.err().split('\n')[0]).toMatch(/^berth: there is no display to open the desktop app on \(DISPLAY and WAYLAND_DISPLAY are unset\); running the server headless instead/);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    await sleep(0);
  });
});
