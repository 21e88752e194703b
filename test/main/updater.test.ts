/**
 * main/updater.ts over the real electron-updater: the same AppImageUpdater
 * class Electron's autoUpdater is on Linux, built under Node the way the core
 * builds it, against a local generic update server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { Settings } from '../../app/settings/settings';
import { makeNodeUpdater } from '../../app/update/headless';
import type { InstallStep } from '../../app/lifecycle/plans';
import { NOT_PACKAGED, createDesktopUpdates } from '../../main/updater';
import { menuEntries } from '../../main/tray-model';
import { tempDataDir, waitFor } from '../helpers';
import { appImageBytes, updateServer, type UpdateServer } from '../update/support';

const servers: UpdateServer[] = [];
const savedAppImage = process.env.APPIMAGE;
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  if (savedAppImage === undefined) delete process.env.APPIMAGE;
  else process.env.APPIMAGE = savedAppImage;
});

const settings: Settings['update'] = { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false };
const AI = (v: string) => `Berth-${v}-linux-x86_64.AppImage`;

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

  it('packaged: check -> download -> ready notifies once; clicking it installs through the port handoff', async () => {
    const srv = await updateServer();
    servers.push(srv);
    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1', 20_000) });
    const dataDir = tempDataDir('berth-desktop-update-');
    const appImage = path.join(dataDir, 'install', 'Berth.AppImage');
    fs.mkdirSync(path.dirname(appImage), { recursive: true });
    fs.writeFileSync(appImage, appImageBytes('1.0.0'), { mode: 0o755 });
    process.env.APPIMAGE = appImage;
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
          await step.start();
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
    await waitFor(() => handOvers.length === 1 && fs.readFileSync(appImage).includes('Berth 1.0.1'), 'the install to replace the AppImage');
    // AppImage: the new version starts beside this one, so the host keeps serving until it probes.
    expect(handOvers[0]).toBe('beside');
    expect(fs.readFileSync(appImage)).toEqual(appImageBytes('1.0.1', 20_000));
    expect(logs.ring.tail(500).some((e) => e.scope === 'electron-updater')).toBe(true);
  });
});
