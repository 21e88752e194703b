/**
 * The desktop shell hosting an app with its own server (the Python Bookmarks
 * example as a real child process), with the stand-in Electron objects: the
 * tray carries the app's name, and "Restart Bookmarks" restarts the child
 * alone while Berth keeps its port and its instance.
 */
import { describe, expect, it } from 'vitest';
import { defineApp } from '../../app/hosting/definition';
import { BOOKMARKS, PYTHON } from '../hosting/fixtures';
import { freePort, health, readToken, tempDataDir, waitFor } from '../helpers';
import { LockRegistry } from './fake-electron';
import { launch, statusItem, useLaunches } from './launch';

useLaunches();

interface ChildInfo {
  state: string;
  pid: number | null;
  restarts: number;
}

describe('the desktop shell hosting an app with its own server', () => {
  it('names the app on the tray and in the menu bar; "Restart Bookmarks" restarts only its child, on the same port and instance', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-desktop-hosted-');
    const app = defineApp({ id: 'dev.berth.bookmarks', name: 'Bookmarks', version: '2.1.0', server: { command: PYTHON, args: [BOOKMARKS], readyPath: '/healthz' } });
    const { fe, started } = launch({ locks: new LockRegistry(), dataDir, port, app });
    await started;
    const url = `http://127.0.0.1:${port}`;
    const auth = { Authorization: `Bearer ${readToken(dataDir)}` };
    const child = async (): Promise<ChildInfo> => ((await (await fetch(`${url}/api/app`, { headers: auth })).json()) as { child: ChildInfo }).child;
    const first = await waitFor(async () => ((await child()).state === 'ready' ? child() : null), 'the child server to be ready', 60_000);

    const tray = fe.trays[0]!;
    const menu = () => tray.menu!;
    await waitFor(() => menu().item('restart-app-server')?.enabled, 'Restart Bookmarks to be offered once the child is ready', 60_000);
    expect(tray.tooltip).toBe(`Bookmarks 2.1.0: Serving — ${url}`);
    expect(['open-window', 'restart-app-server', 'about', 'quit'].map((id) => menu().item(id)!.label)).toEqual(['Open Bookmarks', 'Restart Bookmarks', 'About Bookmarks', 'Quit Bookmarks']);
    expect(fe.appMenu()!.template[0]!.label).toBe('Bookmarks');
    const before = await health(port);

    menu().click('restart-app-server');
    const after = await waitFor(
      async () => {
        const c = await child();
        return c.state === 'ready' && c.restarts === 1 ? c : null;
      },
      'the child server to be ready again after one restart',
      60_000,
    );
    expect(after.pid).not.toBe(first.pid);
    // Berth itself did not restart: the same instance serves the same port, and the tray says it serves.
    expect((await health(port))!.instance).toBe(before!.instance);
    await waitFor(() => statusItem(fe) === `Serving on :${port}` && menu().item('restart-app-server')?.enabled, 'the tray to show the app ready again');
  });
});
