/**
 * The desktop app as the next Berth after a guardian started it: the whole
 * shell (startDesktop) with the stand-in Electron objects, whose
 * notifications are recorded here, in a data folder where a real guardian
 * found no Berth serving.
 */
import { EventEmitter } from 'node:events';
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

    // The installed app starts: the desktop shell, with notifications recorded.
    const argv = ['/usr/lib/electron/electron', ROOT];
    const fe = fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv });
    const shown: { title: string; body: string }[] = [];
    fe.modules.Notification = class extends EventEmitter {
      static isSupported() {
        return true;
      }
      constructor(private readonly o: { title: string; body: string }) {
        super();
      }
      show() {
        shown.push({ title: this.o.title, body: this.o.body });
      }
    } as unknown as FakeElectron['modules']['Notification'];
    apps.push(fe);
    await startDesktop({ electron: fe.modules, autoUpdater: () => { throw new Error('not packaged'); }, argv, env: { BERTH_DATA_DIR: dataDir, BERTH_PORT: String(port) }, platform: 'win32', processHandlers: false });

    const sentence = 'The update to 1.0.1 failed (no Berth served within 1 s); Berth 1.0.0 is running.';
    expect(shown).toEqual([{ title: 'Berth', body: sentence }]);
    const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    const status = (await res.json()) as { history: { kind: string; detail?: string }[] };
    expect(status.history.filter((e) => e.kind === 'recovered').map((e) => e.detail)).toEqual([sentence]);
    // Said once: the record is taken.
    expect(records(dataDir)).toEqual([]);
  });
});
