/**
 * startDesktop, the whole shell, with the Electron objects stood in for
 * (fake-electron.ts) and everything else real: the server on a real port, the
 * data directory, the settings file, the token, HTTP from outside.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type http from 'node:http';
import type { ServerHost } from '../../app/lifecycle/host';
import { canListen } from '../../main/startup';
import { closeServer, foreignHttp, makeHost } from '../core/fixtures';
import { ROOT, freePort, health, readToken, tempDataDir, waitFor } from '../helpers';
import { LockRegistry } from './fake-electron';
import { desktopChild } from './desktop-process';
import { launch, statusItem, useLaunches } from './launch';

const others: { stop(): Promise<void> }[] = [];
const servers: http.Server[] = [];

useLaunches();
afterEach(async () => {
  for (const o of others.splice(0)) await o.stop().catch(() => undefined);
  for (const s of servers.splice(0)) await closeServer(s);
});

describe('the desktop shell, started for real with stand-in Electron objects', () => {
  it('takes the lock first, then serves, opens the signed-in window, and shows the tray', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const t0 = performance.now();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port });
    await started;
    console.log(`desktop shell start to serving (stand-in Electron): ${(performance.now() - t0).toFixed(0)} ms`);
    const names = fe.app.names();
    expect(names.indexOf('requestSingleInstanceLock')).toBeLessThan(names.indexOf('whenReady'));
    expect(fe.app.calls[0]).toEqual({ call: 'setPath', arg: `userData=${dataDir}` });
    expect(names).toContain('setAppUserModelId');
    const h = await health(port);
    expect(h).toMatchObject({ app: 'berth', state: 'serving', pid: process.pid });
    const url = `http://127.0.0.1:${port}`;
    expect(fe.cookies).toEqual([{ url: `${url}/`, name: `berth_token_${port}`, value: readToken(dataDir), path: '/', httpOnly: true, sameSite: 'strict' }]);
    expect(fe.windows).toHaveLength(1);
    expect(fe.windows[0]!.loaded).toEqual([url]);
    await waitFor(() => fe.windows[0]!.isVisible(), 'the window to show once its page painted');
    expect(fe.windows[0]!.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(fe.trays).toHaveLength(1);
    expect(fe.trays[0]!.tooltip).toBe(`Berth 1.0.0: Serving — ${url}`);
    expect(fe.trays[0]!.image).toBe(path.join(ROOT, 'build', 'tray', 'tray-dark.ico'));
    expect(statusItem(fe)).toBe(`Serving on :${port}`);
    expect(fe.appMenu()!.item('updates')!.label).toBe('Updates are off in a development build (not packaged)');
    // Open in browser: the sign-in page in the data folder, never the token, reaches shell.openExternal; its link signs in once.
    fe.trays[0]!.menu!.click('open-browser');
    await waitFor(() => fe.external.length > 0, 'the browser to be asked');
    expect(fe.external).toEqual([pathToFileURL(path.join(dataDir, 'sign-in.html')).href]);
    const link = /content="0;url=([^"]+)"/.exec(fs.readFileSync(path.join(dataDir, 'sign-in.html'), 'utf8'))![1]!;
    expect((await fetch(link, { redirect: 'manual' })).headers.get('set-cookie')).toMatch(new RegExp(`^berth_token_${port}=`));
    expect((await fetch(link, { redirect: 'manual' })).headers.get('set-cookie')).toBeNull();
    // The start-up figures the desktop e2e suite reports: the tray icon first, then the server.
    const ready = await waitFor(
      () => /ready on \S+; since the process started: tray icon after (\d+) ms, serving after (\d+) ms/.exec(fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8')),
      'the ready line in the log',
    );
    expect(Number(ready[1])).toBeLessThanOrEqual(Number(ready[2]));
  });

  it('a second launch leaves one instance: it quits before Electron is ready, and the first shows its window', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const locks = new LockRegistry();
    const first = launch({ locks, dataDir, port });
    await first.started;
    const win = first.fe.windows[0]!;
    await waitFor(() => win.isVisible(), 'the first window to show');
    win.hide();
    const second = launch({ locks, dataDir, port });
    await second.started;
    expect(second.fe.app.names()).not.toContain('whenReady');
    await waitFor(() => second.fe.app.ended, 'the second launch to quit');
    expect(second.fe.app.ended).toBe('quit');
    expect(second.fe.windows).toHaveLength(0);
    await waitFor(() => win.isVisible(), 'the first window to show again');
    expect((await health(port))?.pid).toBe(process.pid);
    // A login-item launch of a second copy does not pop the window up.
    win.hide();
    await launch({ locks, dataDir, port, args: ['--hidden'] }).started;
    expect(win.visible).toBe(false);
  });

  it('a second launch during start-up is not lost: the window opens once the server is up', async () => {
    const port = await freePort();
    const { fe, started } = launch({
      locks: new LockRegistry(),
      dataDir: tempDataDir('berth-desktop-'),
      port,
      args: ['--hidden'],
      onWhenReady: (f) => f.app.emit('second-instance', {}, ['/e', ROOT], '/', { hidden: false, handoff: null }),
    });
    await started;
    expect(fe.windows).toHaveLength(1);
    await waitFor(() => fe.windows[0]!.isVisible(), 'the window to show once its page painted');
  });

  it('Restart server (tray) keeps the port and the instance; the menu follows the state', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port });
    await started;
    const before = await health(port);
    const seen: string[] = [];
    const orig = fe.trays[0]!.setToolTip.bind(fe.trays[0]!);
    fe.trays[0]!.setToolTip = (t: string) => {
      seen.push(t);
      orig(t);
    };
    fe.trays[0]!.menu!.click('restart-server');
    await waitFor(() => seen.some((t) => t.includes('Restarting')) && statusItem(fe) === `Serving on :${port}`, 'restart to finish');
    // (A client's pooled keep-alive socket to the old listener may be the one closed: ask until a fresh one answers.)
    expect((await waitFor(() => health(port), 'health after the restart')).instance).toBe(before!.instance);
  });

  it('Restart app keeps the port: drain, release the lock, relaunch with --handoff, exit; the successor serves the same port', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const locks = new LockRegistry();
    const first = launch({ locks, dataDir, port });
    await first.started;
    const before = await health(port);
    first.fe.appMenu()!.click('restart-app');
    await waitFor(() => first.fe.app.ended, 'the first app to exit');
    const names = first.fe.app.names();
    expect(names.slice(names.indexOf('releaseSingleInstanceLock'))).toEqual(['releaseSingleInstanceLock', 'relaunch', 'exit']);
    expect(first.fe.app.exitCode).toBe(0);
    expect(await canListen('127.0.0.1', port)).toBe(true);
    const relaunch = first.fe.app.calls.find((c) => c.call === 'relaunch')!.arg as { args: string[] };
    expect(relaunch.args).toEqual([ROOT, '--host=127.0.0.1', `--port=${port}`, `--handoff=${before!.instance}`, `--handoff-pid=${process.pid}`]);
    // Electron starts the successor with those arguments once the first has exited: another process, with its own pid.
    const next = await desktopChild(['/usr/lib/electron/electron', ...relaunch.args], { BERTH_DATA_DIR: dataDir });
    try {
      const after = await waitFor(() => health(port), 'the successor to answer');
      expect(after.pid).toBe(next.pid);
      expect(after.pid).not.toBe(process.pid);
      expect(after.instance).not.toBe(before!.instance);
      // It proved itself with the note the first left in the data directory, and carries its history on.
      const status = await (await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dataDir)}` } })).json();
      expect(status.handoffFrom).toBe(before!.instance);
      expect(status.history.at(-1)).toMatchObject({ kind: 'relaunch', detail: `pid ${process.pid} -> pid ${next.pid}, port closed and bound again` });
      expect(fs.existsSync(path.join(dataDir, 'handoff.json'))).toBe(false);
    } finally {
      expect(await next.quit()).toBe(0);
    }
  });

  it('a successor started while its predecessor still holds the lock (AppImage update) waits instead of quitting', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const locks = new LockRegistry();
    const first = launch({ locks, dataDir, port });
    await first.started;
    const before = (await health(port))!;
    const successor = launch({ locks, dataDir, port, args: [`--handoff=${before.instance}`, `--handoff-pid=${process.pid}`] });
    await waitFor(() => successor.fe.app.names().filter((n) => n === 'requestSingleInstanceLock').length >= 3, 'the successor to retry the lock');
    expect(successor.fe.app.ended).toBeNull();
    // The predecessor was not disturbed by its successor's knocking.
    expect(first.fe.windows[0]!.calls.filter((c) => c === 'show')).toHaveLength(1);
    first.fe.appMenu()!.click('quit');
    await successor.started;
    expect(successor.fe.app.hasLock()).toBe(true);
    expect((await waitFor(() => health(port), 'the successor to answer')).instance).not.toBe(before.instance);
  });

  it('Quit drains, frees the port and quits', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port });
    await started;
    fe.trays[0]!.menu!.click('quit');
    await waitFor(() => fe.app.ended, 'quit');
    expect(fe.app.ended).toBe('quit');
    expect(await canListen('127.0.0.1', port)).toBe(true);
    // The window now really closes.
    expect(fe.windows[0]!.userClose().defaultPrevented).toBe(false);
  });

  it('a page that refuses to unload vetoes app.quit(); the server is already drained, and the process exits anyway', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port });
    await started;
    fe.windows[0]!.refusesUnload = true;
    fe.trays[0]!.menu!.click('quit');
    await waitFor(() => fe.app.calls.some((c) => c.call === 'quit' && c.arg === 'vetoed by a window'), 'the window to veto the quit');
    expect(await canListen('127.0.0.1', port)).toBe(true);
    await waitFor(() => fe.app.ended, 'the fallback exit');
    expect(fe.app.ended).toBe('exit');
    expect(fe.app.exitCode).toBe(0);
  });

  it('an OS quit (logout, Cmd+Q) also drains first', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port, platform: 'darwin' });
    await started;
    fe.app.quit();
    expect(fe.app.calls.filter((c) => c.call === 'quit')).toEqual([{ call: 'quit', arg: 'prevented' }]);
    await waitFor(() => fe.app.ended, 'quit');
    expect(fe.app.calls.at(-1)).toEqual({ call: 'quit', arg: 'went' });
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });

  it('duplicate: a headless Berth already on the port -> "already running" dialog; Open opens it and this copy quits', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const headless = await makeHost(port, { dataDir });
    others.push(headless as ServerHost);
    await headless.start();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, answers: [0] });
    await started;
    expect(fe.dialogs[0]).toMatchObject({ message: `Berth is already running at http://127.0.0.1:${port}`, buttons: ['Open', 'Quit'] });
    // The browser gets the sign-in page in the data folder, never the token (a launcher's command line is world-readable).
    await waitFor(() => fe.external.length > 0, 'the browser to be asked');
    expect(fe.external).toEqual([pathToFileURL(path.join(dataDir, 'sign-in.html')).href]);
    const link = /content="0;url=([^"]+)"/.exec(fs.readFileSync(path.join(dataDir, 'sign-in.html'), 'utf8'))![1]!;
    expect(link).not.toContain(readToken(dataDir));
    expect((await fetch(link, { redirect: 'manual' })).headers.get('set-cookie')).toMatch(new RegExp(`^berth_token_${port}=`));
    await waitFor(() => fe.app.ended, 'this copy to quit');
    expect(fe.app.ended).toBe('quit');
    expect(fe.windows).toHaveLength(0);
    expect((await health(port))?.instance).toBe(headless.instance);
  });

  it('foreign: names what holds the port; "Choose another port…" serves elsewhere and saves it', async () => {
    const port = await freePort();
    servers.push(await foreignHttp(port));
    const dataDir = tempDataDir('berth-desktop-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, answers: [0] });
    await started;
    expect(fe.dialogs[0]!.message).toMatch(/^Berth's port is in use by another web server/);
    expect(fe.dialogs[0]!.buttons).toEqual(['Choose another port…', 'Quit']);
    const saved = JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8')).port as number;
    expect(saved).not.toBe(port);
    expect(await health(saved)).toMatchObject({ state: 'serving' });
    expect(fe.trays[0]!.tooltip).toContain(`http://127.0.0.1:${saved}`);
    expect(fe.windows[0]!.loaded).toEqual([`http://127.0.0.1:${saved}`]);
  });

  it('Linux without a tray host, started at login: a minimized window, and the menu says why there is no tray', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port, platform: 'linux', args: ['--hidden'], env: { XDG_CONFIG_HOME: tempDataDir('berth-xdg-') } });
    await started;
    expect(fe.appMenu()!.item('no-tray')!.label).toBe('No tray icon: there is no D-Bus session bus, so no panel can host tray icons');
    expect(fe.windows).toHaveLength(1);
    expect(fe.windows[0]!.minimized).toBe(true);
    // Closing minimizes rather than hiding where nothing could bring the window back.
    fe.windows[0]!.restore();
    expect(fe.windows[0]!.userClose().defaultPrevented).toBe(true);
    expect(fe.windows[0]!.minimized).toBe(true);
  });

  it('started at login with a tray: stays hidden until asked', async () => {
    const port = await freePort();
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), port, args: ['--hidden'] });
    await started;
    expect(fe.windows).toHaveLength(0);
    fe.trays[0]!.leftClick();
    await waitFor(() => fe.windows[0]?.visible, 'the window to open from the tray');
  });

  it('Launch at login from the menu: the OS setting and settings.json both change', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port });
    await started;
    fe.appMenu()!.click('launch-at-login');
    expect(fe.app.calls.filter((c) => c.call === 'setLoginItemSettings').map((c) => c.arg)).toEqual([{ openAtLogin: true, args: ['--hidden'], enabled: true }]);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8')).launchAtLogin).toBe(true);
    expect(fe.appMenu()!.item('launch-at-login')!.checked).toBe(true);
  });

  it('the API reaches the desktop lifecycle: /api/relaunch relaunches the app; /api/update shows the updater state', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-');
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port });
    await started;
    const auth = { Authorization: `Bearer ${readToken(dataDir)}` };
    const update = await (await fetch(`http://127.0.0.1:${port}/api/update`, { headers: auth })).json();
    expect(update).toMatchObject({ state: 'disabled', reason: 'Updates are off in a development build (not packaged)' });
    const res = await fetch(`http://127.0.0.1:${port}/api/relaunch`, { method: 'POST', headers: auth });
    expect(res.status).toBe(200);
    await waitFor(() => fe.app.ended, 'the relaunch');
    expect(fe.app.names().slice(-3)).toEqual(['releaseSingleInstanceLock', 'relaunch', 'exit']);
  });

  it('a data folder others can write to is refused with a dialog that says how to fix it, before anything is read or written there', async () => {
    const dataDir = tempDataDir('berth-desktop-');
    fs.chmodSync(dataDir, 0o777);
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port: await freePort() });
    await started;
    expect(fe.errorBoxes).toHaveLength(1);
    expect(fe.errorBoxes[0]).toMatch(/^Berth cannot use its data folder: .*can be changed by other users/s);
    expect(fe.errorBoxes[0]).toContain(`To fix it: chmod 700 '${dataDir}'`);
    expect(fe.app.ended).toBe('exit');
    expect(fe.app.exitCode).toBe(2);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });

  it('a bad BERTH_PORT is a clear error box, not a crash', async () => {
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir: tempDataDir('berth-desktop-'), env: { BERTH_PORT: 'eighty' } });
    await started;
    expect(fe.errorBoxes[0]).toBe('Berth cannot start: Port from BERTH_PORT must be a whole number: "eighty"');
    await waitFor(() => fe.app.ended, 'the app to quit');
    expect(fe.app.ended).toBe('quit');
  });
});
