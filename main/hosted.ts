/**
 * `berth/desktop`: the desktop shell for an app Berth hosts. An app's
 * Electron entry (its package.json "main") is one call:
 *
 *   require('berth/desktop').startDesktopApp(require('./app').default);
 *
 * It loads Electron here, at run time, so the rest of main/ takes the
 * Electron objects as arguments and is tested under plain Node.
 */
import type * as ElectronApi from 'electron';
import type * as ElectronUpdater from 'electron-updater';
import type { HostedApp } from '../app/hosting/definition';
import { startDesktop } from './desktop';

/** Inside Electron, the API; under plain Node, why not (require('electron') is then the binary's path, or throws). */
function loadElectron(): typeof ElectronApi | string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const e = require('electron') as typeof ElectronApi | string;
    return typeof e === 'string' ? `this is plain Node, not Electron (the Electron binary is ${e})` : e;
  } catch (err) {
    return `this is plain Node, and the Electron binary is not installed (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Start the desktop app: Berth's console alone, or `app` hosted with everything Berth's desktop shell does. */
export function startDesktopApp(app?: HostedApp): void {
  const electron = loadElectron();
  const name = app?.name ?? 'berth';
  if (typeof electron === 'string') {
    const headless = app ? `the '${app.name.toLowerCase()} serve' command` : "'berth serve'";
    process.stderr.write(`${name}: the desktop app must run inside Electron: ${electron}. Use 'npm start', or ${headless} for the headless server.\n`);
    process.exitCode = 2;
    return;
  }
  const { app: electronApp, BaseWindow, BrowserWindow, Tray, Menu, Notification, nativeTheme, dialog, shell, clipboard, session, powerMonitor, screen } = electron;
  startDesktop({
    electron: { app: electronApp, BaseWindow, BrowserWindow, Tray, Menu, Notification, nativeTheme, dialog, shell, clipboard, session, powerMonitor, screen },
    // The install format's updater class (app/update/formats), built only when packaged: it needs Electron's app.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    autoUpdater: (updaterClass) => new (require('electron-updater') as typeof ElectronUpdater)[updaterClass](),
    app,
  }).catch((err: unknown) => {
    // Last resort, when start-up itself threw: never linger without a server.
    process.stderr.write(`${name}: the desktop app failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
    electronApp.exit(1);
  });
}
