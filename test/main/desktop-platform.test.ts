/**
 * The desktop shell against what each operating system really does, through
 * the faithful stand-in Electron (fake-electron.ts): an AppImage's mount that
 * goes away, relaunch arguments under Playwright, Windows logoff, a Linux
 * shutdown, the macOS menu, Dock and login item, Task Manager's switch,
 * permissions, and an error box before Electron is ready on Linux.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOGIN_AGENT } from '../../main/login-item';
import { canListen } from '../../main/startup';
import { ROOT, alive, freePort, health, tempDataDir, waitFor } from '../helpers';
import { LockRegistry, loginLaunchArgs } from './fake-electron';
import { desktopChildScript } from './desktop-process';
import { launch, statusItem, uiWindow, useLaunches } from './launch';

useLaunches();
const strays = new Set<number>();
afterEach(async () => {
  for (const pid of strays) {
    if (alive(pid)) process.kill(pid, 'SIGTERM');
    await waitFor(() => !alive(pid), `pid ${pid} to exit`).catch(() => undefined);
  }
  strays.clear();
});

const logOf = (dataDir: string) => fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8');

/** Whether the port can be bound right now, asked of another process while this one is blocked: what the OS sees at the moment it ends us. */
function portFreeNow(port: number): boolean {
  const script = `const s=require('net').createServer();s.once('error',()=>process.exit(1));s.listen({host:'127.0.0.1',port:${port}},()=>s.close(()=>process.exit(0)))`;
  return spawnSync(process.execPath, ['-e', script]).status === 0;
}

describe('Restart app in an AppImage', () => {
  it('starts the image file again from outside its mount, and the new process serves the same port', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-appimage-');
    const home = tempDataDir('berth-appimage-home-');
    // A stand-in AppImage: it writes down how it was started, then runs the desktop shell as the image's runtime would.
    const image = path.join(home, 'Berth-1.0.0-linux-x86_64.AppImage');
    const script = await desktopChildScript();
    fs.writeFileSync(
      image,
      [
        '#!/bin/sh',
        'dir=$(dirname "$0")',
        'pwd > "$dir/started-cwd"',
        'env > "$dir/started-env"',
        'printf "%s\\n" "$@" > "$dir/started-args"',
        'APPDIR="$dir/.mount_BerthNext" APPIMAGE="$0" BERTH_TEST_QUIT_ON_SIGTERM=1 BERTH_TEST_PLATFORM=linux \\',
        `  exec '${process.execPath}' '${script}' "$APPDIR/berth" "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const mount = '/tmp/.mount_BerthAbc123';
    const env = {
      APPIMAGE: image,
      APPDIR: mount,
      ARGV0: image,
      OWD: home,
      PATH: `${mount}:${mount}/usr/sbin:${process.env.PATH}`,
      LD_LIBRARY_PATH: `${mount}/usr/lib`,
      BERTH_TEST_APP_PATH: ROOT,
      XDG_CONFIG_HOME: tempDataDir('berth-xdg-'),
    };
    // A packaged app: no app folder on its command line.
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, platform: 'linux', env, execPath: `${mount}/berth`, argv: [`${mount}/berth`], isPackaged: true });
    await started;
    const before = (await health(port))!;
    fe.appMenu()!.click('restart-app');
    await waitFor(() => fe.app.ended, 'the first app to end');
    expect(fe.app.relaunches.filter((r) => r.lost).map((r) => r.lost)).toEqual([]);
    const after = await waitFor(async () => {
      const h = await health(port);
      return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
    }, 'the image started again to serve the same port');
    strays.add(after.pid);
    expect(after.pid).not.toBe(process.pid);
    // Started from outside the mount: its folder, and nothing of the old mount on its paths.
    expect(fs.readFileSync(path.join(home, 'started-cwd'), 'utf8').trim()).toBe(home);
    const startedEnv = fs.readFileSync(path.join(home, 'started-env'), 'utf8');
    expect(startedEnv.split('\n').filter((l) => l.includes(mount))).toEqual([]);
    const args = fs.readFileSync(path.join(home, 'started-args'), 'utf8').trim().split('\n');
    expect(args).toEqual(['--host=127.0.0.1', `--port=${port}`, `--handoff=${before.instance}`, `--handoff-pid=${process.pid}`]);
  });
});

describe('relaunch arguments', () => {
  it('a successor gets only Berth\'s own flags: no Chromium or Playwright switches, no --updated, and no --hidden once the window was opened', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-args-');
    // What Playwright's _electron.launch and an NSIS update hand the app, around Berth's own flags.
    const argv = ['/usr/lib/electron/electron', '--inspect=0', '--remote-debugging-port=0', '--no-sandbox', ROOT, '--data-dir', dataDir, '--port', String(port), '--enable-features=SharedArrayBuffer', '--js-flags=--expose-gc', '--updated', '--hidden'];
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, argv });
    await started;
    expect(fe.windows).toHaveLength(0);
    fe.trays[0]!.leftClick();
    await waitFor(() => fe.windows[0]?.isVisible(), 'the window to open from the tray');
    const before = (await health(port))!;
    fe.appMenu()!.click('restart-app');
    await waitFor(() => fe.app.ended, 'the app to end');
    expect(fe.app.relaunches.map((r) => r.args)).toEqual([[ROOT, '--data-dir', dataDir, '--host=127.0.0.1', `--port=${port}`, `--handoff=${before.instance}`, `--handoff-pid=${process.pid}`]]);
  });

  it('a Berth still hidden in the tray comes back hidden', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-args-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, args: ['--hidden', '--updated'] });
    await started;
    fe.appMenu()!.click('restart-app');
    await waitFor(() => fe.app.ended, 'the app to end');
    expect(fe.app.relaunches[0]!.args.filter((a) => !a.startsWith('--handoff'))).toEqual([ROOT, '--hidden', '--host=127.0.0.1', `--port=${port}`]);
  });
});

describe('Windows logoff and shutdown', () => {
  it('a Berth started hidden at login, with no window open, still stops accepting and writes its log before Windows ends it', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-session-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, args: ['--hidden'] });
    await started;
    expect(fe.windows).toHaveLength(0);
    fe.endWindowsSession(['logoff']);
    // Nothing asynchronous has run since the handlers returned: this is what the OS leaves behind.
    expect(logOf(dataDir)).toMatch(/Windows is ending the session \(logoff\)/);
    expect(portFreeNow(port)).toBe(true);
    // The window that hears it is never shown.
    expect(fe.baseWindows.every((w) => !w.isVisible())).toBe(true);
  });

  it('with the window open, the same', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-session-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port });
    await started;
    await uiWindow(fe);
    fe.endWindowsSession(['shutdown']);
    expect(logOf(dataDir)).toMatch(/Windows is ending the session \(shutdown\)/);
    expect(portFreeNow(port)).toBe(true);
  });
});

describe('Linux and macOS shutdown', () => {
  it('asks the system to wait (powerMonitor shutdown, preventDefault), drains, frees the port and quits', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-shutdown-'), port, platform: 'linux', env: { XDG_CONFIG_HOME: tempDataDir('berth-xdg-') } });
    await started;
    expect(fe.systemShutdown()).toBe(true);
    await waitFor(() => fe.app.ended, 'the app to quit');
    expect(fe.app.ended).toBe('quit');
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });
});

describe('macOS', () => {
  it('Cmd+Q quits (draining first) and Cmd+H hides; a packaged build has no Reload or DevTools', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-mac-'), port, platform: 'darwin', isPackaged: true });
    await started;
    const menu = fe.appMenu()!;
    expect(menu.roles().filter((r) => ['reload', 'forcereload', 'toggledevtools'].includes(r))).toEqual([]);
    expect(menu.press('Command+H')).toBe(true);
    expect(fe.app.names()).toContain('hide');
    expect(menu.press('Command+Q')).toBe(true);
    await waitFor(() => fe.app.ended, 'Cmd+Q to quit the app');
    expect(fe.app.ended).toBe('quit');
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });

  it('the Dock icon shows only while the window is open', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-mac-'), port, platform: 'darwin', args: ['--hidden'] });
    await started;
    const dock = fe.app.dock!;
    expect(dock.isVisible()).toBe(false);
    fe.appMenu()!.click('open-window');
    await waitFor(() => fe.windows[0]?.isVisible(), 'the window to open');
    await waitFor(() => dock.isVisible(), 'the Dock icon to show');
    fe.windows[0]!.userClose();
    expect(fe.windows[0]!.isVisible()).toBe(false);
    expect(dock.isVisible()).toBe(false);
  });

  it('a launch by the login item starts hidden: the login item passes --hidden, since macOS 13+ cannot say it was opened at login', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-mac-');
    const locks = new LockRegistry();
    // Berth.app/Contents as electron-builder packs it: the login agent in Library/LaunchAgents (mac.extraFiles).
    const contents = tempDataDir('berth-mac-bundle-');
    fs.mkdirSync(path.join(contents, 'Library', 'LaunchAgents'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'build', 'LaunchAgents', LOGIN_AGENT), path.join(contents, 'Library', 'LaunchAgents', LOGIN_AGENT));
    const first = launch({ locks, dataDir, port, platform: 'darwin', macBundleContents: contents });
    await first.started;
    first.fe.appMenu()!.click('launch-at-login');
    expect(first.fe.appMenu()!.item('launch-at-login')!.checked).toBe(true);
    first.fe.appMenu()!.click('quit');
    await waitFor(() => first.fe.app.ended, 'the first app to quit');
    // At the next login, the registered item starts Berth (its plist lives in Berth.app/Contents/Library/LaunchAgents).
    const args = loginLaunchArgs(first.fe.app, path.join(contents, 'Library', 'LaunchAgents'));
    expect(args).toEqual(['--hidden']);
    const atLogin = launch({ locks, dataDir, port, platform: 'darwin', args, macBundleContents: contents });
    await atLogin.started;
    expect(atLogin.fe.windows.filter((w) => w.isVisible())).toHaveLength(0);
    expect(atLogin.fe.app.dock!.isVisible()).toBe(false);
  });
});

describe('Windows login item', () => {
  it('disabled in Task Manager: the menu shows it off, settings follow, and Berth does not switch it back on', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-login-');
    fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ launchAtLogin: true }));
    fs.chmodSync(dataDir, 0o700);
    const { fe, started } = launch({
      locks: new LockRegistry(),
      dataDir,
      port,
      // Registered earlier, then switched off by the person in Task Manager (StartupApproved\Run).
      onWhenReady: (f) => (f.app.runValue = { name: 'dev.berth.app', path: f.app.execPath, args: ['--hidden'], approved: false }),
    });
    await started;
    expect(fe.appMenu()!.item('launch-at-login')!.checked).toBe(false);
    expect(fe.app.calls.filter((c) => c.call === 'setLoginItemSettings')).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8')).launchAtLogin).toBe(false);
    // Switching it on from the menu turns it back on in Task Manager too.
    fe.appMenu()!.click('launch-at-login');
    expect(fe.app.runValue).toMatchObject({ args: ['--hidden'], approved: true });
    expect(fe.appMenu()!.item('launch-at-login')!.checked).toBe(true);
  });
});

describe('browser permissions in the window', () => {
  it("Copy works: clipboard-sanitized-write is allowed for Berth's own page, in the request and the check; everything else is refused", async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-perm-'), port });
    await started;
    const win = await uiWindow(fe);
    expect(await fe.pageWritesClipboard(win, `http://127.0.0.1:${port}`)).toBe(true);
    expect(fe.clipboard).toEqual([`http://127.0.0.1:${port}`]);
    expect(fe.pageQueriesPermission(win, 'clipboard-sanitized-write')).toBe(true);
    // Another origin (a frame, a page navigated elsewhere) gets nothing, and neither does any other permission.
    expect(await fe.pageWritesClipboard(win, 'x', 'https://example.com/frame')).toBe(false);
    expect(fe.pageQueriesPermission(win, 'clipboard-sanitized-write', 'https://example.com/frame')).toBe(false);
    for (const p of ['clipboard-read', 'notifications', 'media', 'geolocation', 'openExternal']) {
      expect(await fe.pageRequestsPermission(win, p), p).toBe(false);
      expect(fe.pageQueriesPermission(win, p), p).toBe(false);
    }
  });
});

describe('start-up errors on Linux', () => {
  it('a refused data folder is shown in a dialog, not only on standard error (showErrorBox before ready goes to stderr there)', async () => {
    const dataDir = tempDataDir('berth-refused-');
    fs.chmodSync(dataDir, 0o777);
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port: await freePort(), platform: 'linux', env: { XDG_CONFIG_HOME: tempDataDir('berth-xdg-') } });
    await started;
    await waitFor(() => fe.app.ended, 'the app to exit');
    expect(fe.errorBoxes).toHaveLength(1);
    expect(fe.errorBoxes[0]).toMatch(/^Berth cannot use its data folder: .*can be changed by other users/s);
    expect(fe.app.exitCode).toBe(2);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe('the tray in the whole shell', () => {
  it('Linux (KDE, XFCE): a left click, which is an activation, opens the window', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-kde-'), port, platform: 'linux', args: ['--hidden'], trayHost: 'kde', env: { XDG_CONFIG_HOME: tempDataDir('berth-xdg-'), DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' } });
    await started;
    expect(statusItem(fe)).toBe(`Serving on :${port}`);
    fe.trays[0]!.leftClick();
    await waitFor(() => fe.windows[0]?.isVisible(), 'the window to open');
  });
});
