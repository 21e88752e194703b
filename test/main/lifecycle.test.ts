import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogSink, memoryLogSink } from '../../app/log';
import type { ServerHost } from '../../app/lifecycle/host';
import { DesktopLifecycle, type LifecycleApp } from '../../main/lifecycle';
import { canListen } from '../../main/startup';
import { makeHost } from '../core/fixtures';
import { freePort, health, tempDataDir, waitFor } from '../helpers';

/** Electron's app as far as the lifecycle uses it: every call recorded, with whether the port was free at that moment. */
function recordingApp(port: number) {
  const calls: { call: string; arg?: unknown; portFree: boolean }[] = [];
  let locked = true;
  const record = (call: string, arg?: unknown) => {
    // Synchronous: a connect attempt would need a tick; what counts is whether the listener is closed.
    calls.push({ call, arg, portFree: !listening() });
  };
  let listening: () => boolean = () => false;
  const app: LifecycleApp = {
    quit: () => record('quit'),
    exit: (code?: number) => record('exit', code),
    relaunch: (opts?: unknown) => record('relaunch', opts),
    releaseSingleInstanceLock: () => {
      locked = false;
      record('releaseLock');
    },
    requestSingleInstanceLock: () => {
      locked = true;
      record('requestLock');
      return true;
    },
  };
  return { app, calls, names: () => calls.map((c) => c.call), locked: () => locked, watch: (h: ServerHost) => (listening = () => h.state === 'serving' || h.state === 'restarting'), port };
}

const hosts: ServerHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop().catch(() => undefined);
});

async function setup() {
  const port = await freePort();
  const rec = recordingApp(port);
  const timers: (() => void)[] = [];
  let flushed = 0;
  const lifecycle = new DesktopLifecycle({
    app: rec.app,
    log: memoryLogSink().root,
    args: ['/app/out/main/index.js', '--port', String(port)],
    flushLogs: async () => {
      flushed++;
    },
    setTimer: (fn) => timers.push(fn),
  });
  const host = await makeHost(port, { relaunchPlan: () => lifecycle.relaunchPlan(), drainDeadline: 800 });
  hosts.push(host);
  host.on('exit', (code) => void lifecycle.onHostExit(code));
  lifecycle.follow(host);
  rec.watch(host);
  await host.start();
  return { port, rec, lifecycle, host, timers, flushed: () => flushed };
}

describe('desktop lifecycle: the one owner of quit, exit and relaunch', () => {
  it('quit drains the server, frees the port, releases the lock, then quits', async () => {
    const { port, rec, lifecycle, host, flushed } = await setup();
    expect((await health(port))?.instance).toBe(host.instance);
    const t0 = performance.now();
    await lifecycle.quit('tray');
    console.log(`quit with an idle keep-alive client: ${(performance.now() - t0).toFixed(1)} ms to a free port and app.quit()`);
    expect(rec.names()).toEqual(['releaseLock', 'quit']);
    expect(rec.calls.every((c) => c.portFree)).toBe(true);
    expect(host.state).toBe('stopped');
    expect(await canListen('127.0.0.1', port)).toBe(true);
    expect(flushed()).toBe(1);
    expect(lifecycle.leaving).toBe(true);
  });

  it('a second quit (tray, then the OS) is the same quit', async () => {
    const { rec, lifecycle } = await setup();
    await Promise.all([lifecycle.quit('tray'), lifecycle.quit('logout'), lifecycle.quit('again')]);
    expect(rec.names().filter((n) => n === 'quit')).toHaveLength(1);
  });

  it('exits anyway if app.quit() is vetoed (a page refusing to unload)', async () => {
    const { rec, lifecycle, timers } = await setup();
    await lifecycle.quit('tray');
    expect(timers).toHaveLength(1);
    timers[0]!();
    expect(rec.names()).toEqual(['releaseLock', 'quit', 'exit']);
  });

  it('before-quit from the OS is held until the drain is done, then let through', async () => {
    const { port, rec, lifecycle } = await setup();
    let prevented = 0;
    lifecycle.onBeforeQuit({ preventDefault: () => prevented++ });
    expect(prevented).toBe(1);
    await waitFor(() => rec.names().includes('quit'), 'the lifecycle to quit');
    // Our own app.quit() raises before-quit again: now it passes.
    lifecycle.onBeforeQuit({ preventDefault: () => prevented++ });
    expect(prevented).toBe(1);
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });

  it('the drain deadline ends a request that never finishes, so quit cannot hang on a client', async () => {
    const port = await freePort();
    const rec = recordingApp(port);
    const lifecycle = new DesktopLifecycle({ app: rec.app, log: memoryLogSink().root, args: [], flushLogs: async () => undefined, drainDeadline: 300, setTimer: () => 0 });
    const host = await makeHost(port, { routes: [(api) => api.get('/hang', () => new Promise(() => undefined))] });
    hosts.push(host);
    lifecycle.follow(host);
    rec.watch(host);
    await host.start();
    const hung = new Promise<string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api/hang', headers: { Host: `127.0.0.1:${port}` } }, () => resolve('answered'));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    await waitFor(() => host.status().connections > 0, 'the hanging request to connect');
    const t0 = performance.now();
    await lifecycle.quit('tray');
    const ms = performance.now() - t0;
    expect(await hung).toBe('ECONNRESET');
    expect(rec.names()).toEqual(['releaseLock', 'quit']);
    console.log(`quit with a hung request took ${ms.toFixed(0)} ms (drain deadline 300 ms)`);
  });

  it('Restart app: the host drains, the lock is released, the successor is registered with --handoff, then exit(0)', async () => {
    const { port, rec, lifecycle, host } = await setup();
    await lifecycle.relaunch();
    await waitFor(() => rec.names().includes('exit'), 'the exit');
    expect(rec.names()).toEqual(['releaseLock', 'relaunch', 'exit']);
    const relaunch = rec.calls.find((c) => c.call === 'relaunch')!;
    expect(relaunch.arg).toEqual({ args: ['/app/out/main/index.js', '--host=127.0.0.1', `--port=${port}`, `--handoff=${host.instance}`, `--handoff-pid=${process.pid}`] });
    expect(rec.calls.find((c) => c.call === 'exit')).toMatchObject({ arg: 0, portFree: true });
    expect(await canListen('127.0.0.1', port)).toBe(true);
  });

  it('AppImage with nothing serving: the image file is started again, from its own folder, not through Electron\'s relaunch', async () => {
    const port = await freePort();
    const rec = recordingApp(port);
    const dir = tempDataDir('berth-appimage-');
    const image = path.join(dir, 'Berth.AppImage');
    fs.writeFileSync(image, '#!/bin/sh\nprintf "%s\\n" "$(pwd)" "$@" > "$(dirname "$0")/started"\n', { mode: 0o755 });
    const lifecycle = new DesktopLifecycle({ app: rec.app, log: memoryLogSink().root, args: ['--hidden'], appImage: () => image, env: { PATH: process.env.PATH, APPDIR: '/tmp/.mount_X' }, flushLogs: async () => undefined, setTimer: () => 0 });
    await lifecycle.relaunch();
    expect(rec.names()).toEqual(['releaseLock', 'exit']);
    const started = await waitFor(() => fs.existsSync(path.join(dir, 'started')) && fs.readFileSync(path.join(dir, 'started'), 'utf8'), 'the image to start');
    expect(started.trim().split('\n')).toEqual([dir, '--hidden']);
  });

  it('Restart app with nothing serving (after a port conflict) still relaunches', async () => {
    const { rec, lifecycle, host } = await setup();
    await host.stop();
    await lifecycle.relaunch();
    expect(rec.names()).toEqual(['releaseLock', 'relaunch', 'exit']);
  });

  it('a stop asked through the API ends the process through the lifecycle', async () => {
    const { rec, host } = await setup();
    await host.stopAndExit(0);
    await waitFor(() => rec.names().includes('exit'), 'the exit');
    expect(rec.calls.at(-1)).toMatchObject({ call: 'exit', arg: 0, portFree: true });
  });

  it('update install: quits pass through and the lock is let go; a failed install takes the lock back', async () => {
    const { rec, lifecycle } = await setup();
    lifecycle.beginInstall();
    expect(rec.locked()).toBe(false);
    let prevented = 0;
    lifecycle.onBeforeQuit({ preventDefault: () => prevented++ });
    expect(prevented).toBe(0);
    lifecycle.installFailed(new Error('no installer'));
    expect(rec.locked()).toBe(true);
    expect(lifecycle.phase).toBe('running');
  });

  it('macOS update install: the port let go, Squirrel.Mac quits the app, and the quit goes through with the log written out', async () => {
    const { rec, lifecycle, flushed } = await setup();
    lifecycle.beginInstall();
    let ended = 0;
    lifecycle.installHooks().endWith!(() => ended++);
    await lifecycle.onHostExit(0);
    expect(ended).toBe(1);
    let prevented = 0;
    lifecycle.onBeforeQuit({ preventDefault: () => prevented++ });
    expect(prevented).toBe(0);
    await waitFor(() => flushed() === 1, 'the log to be flushed');
    expect(rec.names()).toEqual(['releaseLock']);
  });

  it('macOS update install: waits for Squirrel to quit the app, and relaunches if it never does', async () => {
    const { rec, lifecycle, timers, flushed } = await setup();
    lifecycle.beginInstall();
    lifecycle.installHooks().endWith!(() => undefined);
    await lifecycle.onHostExit(0);
    expect(rec.names()).toEqual(['releaseLock']);
    // The log stays open through Squirrel.Mac's wait, so what goes wrong there is written down.
    expect(flushed()).toBe(0);
    expect(timers).toHaveLength(1);
    timers[0]!();
    await waitFor(() => rec.names().includes('exit'), 'the exit');
    expect(rec.names()).toEqual(['releaseLock', 'relaunch', 'exit']);
    expect(flushed()).toBe(1);
  });

  it('macOS update install: the log file keeps what is logged during the Squirrel.Mac wait, and closes on the way out', async () => {
    const port = await freePort();
    const rec = recordingApp(port);
    const dir = tempDataDir('berth-mac-logs-');
    const logs = createLogSink({ dir, console: null });
    const timers: (() => void)[] = [];
    const lifecycle = new DesktopLifecycle({
      app: rec.app,
      log: logs.root.child({ scope: 'lifecycle' }),
      args: [],
      flushLogs: () => logs.close(),
      setTimer: (fn) => timers.push(fn),
    });
    lifecycle.beginInstall();
    lifecycle.installHooks().endWith!(() => undefined);
    await lifecycle.onHostExit(0);
    // What electron-updater's MacUpdater logs when Squirrel.Mac fails after staging, while we wait for it to quit us.
    logs.root.child({ scope: 'electron-updater' }).warn('Squirrel.Mac: Code signature at URL did not pass validation');
    timers[0]!();
    await waitFor(() => rec.names().includes('exit'), 'the exit');
    const text = fs.readFileSync(path.join(dir, 'berth.log'), 'utf8');
    expect(text).toContain('Code signature at URL did not pass validation');
    expect(text).toContain('the installer did not quit the app in time; relaunching');
  });
});
