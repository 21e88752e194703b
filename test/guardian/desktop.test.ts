/**
 * The desktop app as the next Berth after a guardian started it: the whole
 * shell (startDesktop) with the faithful stand-in Electron, in a data
 * folder where a real guardian found no Berth serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startGuardian } from '../../app/guardian/guardian';
import { startDesktop } from '../../main/desktop';
import { LockRegistry, fakeElectron, type FakeElectron } from '../main/fake-electron';
import { freePort, readToken, ROOT, waitFor } from '../helpers';
import { countingRelaunch, dataDirWithMarker, gone, records, starts } from './support';

const apps: FakeElectron[] = [];
afterEach(async () => {
  for (const fe of apps.splice(0)) {
    fe.appMenu()?.click('quit');
    await waitFor(() => fe.app.ended, 'the app to end');
  }
});

describe('the desktop app, started after a guardian found no Berth serving', () => {
  it('shows what happened as a notification, and in the history the console reads', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const port = await freePort();
    // A guardian for an update whose installer failed, which finds no Berth serving and starts "the installed app" (here: a counter).
    const g = await startGuardian({ dataDir, host: '127.0.0.1', port, fromVersion: '1.0.0', what: 'the update to 1.0.1', toVersion: '1.0.1', allowanceMs: 1000, relaunch: countingRelaunch(marker) });
    await waitFor(() => starts(marker) === 1 && gone(g.pid), 'the guardian to start the installed app');

    // The installed app starts hidden (as at login, or relaunched in the tray): the desktop shell with the faithful stand-in,
    // whose notification centre holds a notification only weakly, as the OS does.
    const argv = ['/usr/lib/electron/electron', ROOT, '--hidden'];
    const fe = fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv });
    apps.push(fe);
    await startDesktop({ electron: fe.modules, autoUpdater: () => { throw new Error('not packaged'); }, argv, env: { BERTH_DATA_DIR: dataDir, BERTH_PORT: String(port) }, platform: 'win32', processHandlers: false });

    const sentence = 'The update to 1.0.1 failed (no Berth served within 1 s); Berth 1.0.0 is running.';
    expect(fe.notifications.map((n) => ({ title: n.title, body: n.body }))).toEqual([{ title: 'Berth', body: sentence }]);
    expect(fe.windows.filter((w) => w.isVisible())).toHaveLength(0);
    // Clicked a while later (after a garbage collection), it still answers, and opens the console that shows the banner.
    expect(await fe.clickNotification('Berth')).toBe(true);
    await waitFor(() => fe.windows.some((w) => w.isVisible()), 'the window to open from the notification');
    const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    const status = (await res.json()) as { history: { kind: string; detail?: string }[] };
    expect(status.history.filter((e) => e.kind === 'recovered').map((e) => e.detail)).toEqual([sentence]);
    // Said once: the record is taken.
    expect(records(dataDir)).toEqual([]);
  });
});
