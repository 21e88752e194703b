/**
 * main/updater.ts over the real electron-updater: the same AppImageUpdater
 * class Electron's autoUpdater is on Linux, built under Node the way the core
 * builds it, against a local generic update server serving the AppImages
 * electron-builder built (test/update/fixtures/artifacts.mjs).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { Settings } from '../../app/settings/settings';
import { makeNodeUpdater } from '../../app/update/headless';
import type { InstallStep } from '../../app/lifecycle/plans';
import { NOT_PACKAGED, createDesktopUpdates } from '../../main/updater';
import { menuEntries } from '../../main/tray-model';
import { createLoginItem } from '../../main/login-item';
import { freePort, health, tempDataDir, waitFor } from '../helpers';
import { running } from '../update/fixtures/installed-app.mjs';
import { sameBytes, appImageBuildProblem, appImageName, appImages, updateServer, type Build, type UpdateServer } from '../update/support';

const servers: UpdateServer[] = [];
const ENV_KEYS = ['APPIMAGE', 'BERTH_PORT', 'BERTH_DATA_DIR', 'BERTH_UPDATE_URL', 'BERTH_TEST_CONSOLE_LOG', 'XDG_CONFIG_HOME'] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
const successorPorts: number[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  // Whatever the install started (the new AppImage's `berth serve`) goes with the test.
  for (const port of successorPorts.splice(0)) {
    const h = await health(port);
    if (h && h.pid !== process.pid) {
      process.kill(h.pid, 'SIGTERM');
      await waitFor(() => !running(h.pid), `pid ${h.pid} to stop`);
    }
  }
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

let B: Record<string, Build>;
beforeAll(async () => {
  if (!appImageBuildProblem) B = await appImages('1.0.0', '1.0.1');
}, 240_000);

const settings: Settings['update'] = { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false };

describe('desktop updates', () => {
  it('an unpackaged build: updates off, with the reason in the tray, and electron-updater never touched', async () => {
    let read = 0;
    const service = createDesktopUpdates({
      platform: 'linux',
      isPackaged: false,
      autoUpdater: () => {
        read++;
        throw new Error('must not be read');
      },
      currentVersion: '1.0.0',
      settings: () => settings,
      dataDir: tempDataDir(),
      hooks: { handOver: async () => undefined },
      notify: () => undefined,
      log: memoryLogSink().root,
    });
    expect(service.status()).toMatchObject({ state: 'disabled', reason: NOT_PACKAGED });
    await service.check();
    expect(read).toBe(0);
    const item = menuEntries({ version: '1.0.0', host: null, update: service.status(), launchAtLogin: { enabled: false } }).find((e) => e.id === 'updates');
    expect(item).toMatchObject({ label: 'Updates are off in a development build (not packaged)', enabled: false });
  });

  it.skipIf(appImageBuildProblem)('packaged: check -> download -> ready notifies once; clicking it installs through the port handoff, and launch at login follows the new AppImage', async () => {
    const srv = await updateServer();
    servers.push(srv);
    srv.publishBuild(B['1.0.1']!);
    const dataDir = tempDataDir('berth-desktop-update-');
    const appImage = path.join(dataDir, 'install', appImageName('1.0.0'));
    fs.mkdirSync(path.dirname(appImage), { recursive: true });
    fs.copyFileSync(B['1.0.0']!.file, appImage);
    // The new version this install starts serves here, inside the test.
    const port = await freePort();
    successorPorts.push(port);
    Object.assign(process.env, { APPIMAGE: appImage, BERTH_PORT: String(port), BERTH_DATA_DIR: dataDir, BERTH_UPDATE_URL: srv.url, BERTH_TEST_CONSOLE_LOG: path.join(dataDir, 'console.log'), XDG_CONFIG_HOME: path.join(dataDir, 'config') });
    // Launch at login is on, built the way the desktop builds it: the command is read when the entry is written.
    const loginItem = createLoginItem({ platform: 'linux', app: { setLoginItemSettings: () => undefined, getLoginItemSettings: () => ({}) as never }, env: process.env, command: () => [process.env.APPIMAGE!] });
    loginItem.setEnabled(true);
    expect(fs.readFileSync(loginItem.where, 'utf8')).toContain(`Exec=${appImage} --hidden\n`);
    const logs = memoryLogSink();
    let updater: AppUpdater | null = null;
    const notes: { title: string; body: string; click: () => void }[] = [];
    const handOvers: InstallStep['order'][] = [];
    const service = createDesktopUpdates({
      platform: 'linux',
      isPackaged: true,
      appImage,
      autoUpdater: () => (updater = makeNodeUpdater('AppImageUpdater', { dataDir, version: '1.0.0', logs, feedUrl: srv.url })),
      currentVersion: '1.0.0',
      settings: () => settings,
      dataDir,
      hooks: {
        // What the desktop's hooks do, minus the host: start the installer.
        handOver: async (step) => {
          handOvers.push(step.order);
          await step.prepare?.();
          await step.start({});
        },
      },
      notify: (title, body, click) => notes.push({ title, body, click }),
      log: logs.root,
    });
    expect(updater).toBeNull(); // built on first use, not at start
    await service.check();
    const ready = await service.whenSettled();
    expect(ready).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(updater!.autoInstallOnAppQuit).toBe(false);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ title: 'Berth update ready', body: 'Berth 1.0.1 has been downloaded. Restart Berth to update.' });
    // A second check finding the same ready update does not notify again.
    await service.check();
    await service.whenSettled();
    expect(notes).toHaveLength(1);

    notes[0]!.click();
    const moved = path.join(path.dirname(appImage), appImageName('1.0.1'));
    await waitFor(() => handOvers.length === 1 && fs.existsSync(moved), 'the install to write the new AppImage');
    // AppImage: the new version starts beside this one, so the host keeps serving until it probes.
    expect(handOvers[0]).toBe('beside');
    expect(sameBytes(moved, B['1.0.1']!.file), 'the published AppImage').toBe(true);
    expect(await waitFor(async () => (await health(port))?.version === '1.0.1', 'the new version to serve', 30_000)).toBe(true);
    // It served: 1.0.0's file goes, and launch at login names the new file.
    await waitFor(() => !fs.existsSync(appImage), 'the old AppImage to be removed');
    expect(fs.readFileSync(loginItem.where, 'utf8')).toContain(`Exec=${moved} --hidden\n`);
    expect(logs.ring.tail(500).some((e) => e.scope === 'electron-updater')).toBe(true);
  });
});
