/**
 * The desktop entry point (package.json "main": out/main/index.js) and the
 * only file that loads Electron at run time. Everything else in main/ takes
 * the Electron objects it needs as arguments, so it loads and is tested under
 * plain Node.
 */
import type * as ElectronApi from 'electron';
import type { AppUpdater } from 'electron-updater';
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

const electron = loadElectron();
if (typeof electron === 'string') {
  process.stderr.write(`berth: the desktop app must run inside Electron: ${electron}. Use 'npm start', or 'berth serve' for the headless server.\n`);
  process.exitCode = 2;
} else {
  const { app, BrowserWindow, Tray, Menu, Notification, nativeTheme, dialog, shell, clipboard, session, powerMonitor, screen } = electron;
  startDesktop({
    electron: { app, BrowserWindow, Tray, Menu, Notification, nativeTheme, dialog, shell, clipboard, session, powerMonitor, screen },
    // Reading autoUpdater builds the platform's updater, which needs Electron's app: only when packaged.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    autoUpdater: () => (require('electron-updater') as { autoUpdater: AppUpdater }).autoUpdater,
  }).catch((err: unknown) => {
    // Last resort, when start-up itself threw: never linger without a server.
    process.stderr.write(`berth: the desktop app failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
    app.exit(1);
  });
}
