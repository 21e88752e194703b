/**
 * startDesktop, the whole shell, with the faithful stand-in Electron objects
 * (fake-electron.ts) and everything else real. Shared by the desktop test
 * files: `useLaunches()` registers the clean-up, `launch()` starts one app.
 */
import { afterEach } from 'vitest';
import type { HostedApp } from '../../app/hosting/definition';
import { startDesktop } from '../../main/desktop';
import { ROOT, waitFor } from '../helpers';
import { fakeElectron, type FakeElectron, type FakeElectronOptions, type LockRegistry } from './fake-electron';

export interface Launched {
  fe: FakeElectron;
  started: Promise<void>;
  dataDir: string;
}

export interface LaunchOptions {
  locks: LockRegistry;
  dataDir: string;
  port?: number;
  args?: string[];
  platform?: NodeJS.Platform;
  answers?: number[];
  env?: NodeJS.ProcessEnv;
  argv?: string[];
  execPath?: string;
  isPackaged?: boolean;
  trayHost?: FakeElectronOptions['trayHost'];
  /** macOS: the app bundle's Contents folder (default: none, as for an unpackaged Electron). */
  macBundleContents?: string;
  /** An app Berth hosts (berth/desktop's startDesktopApp(app)); absent: Berth's console alone. */
  app?: HostedApp;
  /** Runs when the app asks whether Electron is ready, i.e. after the lock and before the server. */
  onWhenReady?: (fe: FakeElectron) => void;
}

const launched: Launched[] = [];

/** Every app a test launched ends with it: quit from its menu where it still runs. */
export function useLaunches(): void {
  afterEach(async () => {
    for (const l of launched.splice(0)) {
      await l.started.catch(() => undefined);
      const menu = l.fe.appMenu();
      if (!l.fe.app.ended && menu?.item('quit')) {
        menu.click('quit');
        await waitFor(() => l.fe.app.ended, 'the app to end');
      }
    }
  });
}

export function launch(o: LaunchOptions): Launched {
  const argv = o.argv ?? ['/usr/lib/electron/electron', ROOT, ...(o.args ?? [])];
  const env: NodeJS.ProcessEnv = { BERTH_DATA_DIR: o.dataDir, ...(o.port ? { BERTH_PORT: String(o.port) } : {}), ...o.env };
  const platform = o.platform ?? 'win32';
  const fe = fakeElectron({ locks: o.locks, appPath: ROOT, argv, answers: o.answers, platform, env, execPath: o.execPath, isPackaged: o.isPackaged, trayHost: o.trayHost });
  if (o.onWhenReady) {
    const ready = fe.app.whenReady.bind(fe.app);
    fe.app.whenReady = () => {
      o.onWhenReady!(fe);
      return ready();
    };
  }
  const started = startDesktop({
    electron: fe.modules,
    autoUpdater: () => {
      throw new Error('not packaged');
    },
    argv,
    env,
    platform,
    processHandlers: false,
    app: o.app,
    macBundleContents: o.macBundleContents ?? '/nonexistent/Berth.app/Contents',
    // The stand-in app is macOS 13 or later where it is macOS (Darwin 22 and later).
    osRelease: platform === 'darwin' ? '23.6.0' : undefined,
  });
  const l = { fe, started, dataDir: o.dataDir };
  launched.push(l);
  return l;
}

export const statusItem = (fe: FakeElectron) => fe.appMenu()?.item('status')?.label;

/** The app's one BrowserWindow (the UI), once it exists. */
export const uiWindow = (fe: FakeElectron) => waitFor(() => fe.windows[0], 'the window to exist');
