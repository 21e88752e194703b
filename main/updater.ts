import type { AppUpdater } from 'electron-updater';
import type { Logger } from '../app/log';
import { libraryLogger } from '../app/update/library-logger';
import type { Settings } from '../app/settings/settings';
import { debPackageInstall } from '../app/update/package-install';
import { followAppImageRename } from '../app/update/appimage';
import { UpdateService, type UpdateHooks } from '../app/update/service';
import type { UpdateStatus } from '../app/update/state';

/**
 * The desktop side of auto-update, a thin adapter: the core's UpdateService
 * (app/update: states, settings, restart blockers, the port handoff) gets
 * electron-updater's own `autoUpdater` when the app is packaged, and a
 * downloaded update becomes a notification. The feed is the generic provider
 * from the build's app-update.yml, overridden by settings.update.url; the
 * channel comes from settings (UpdateService applies both at every check).
 */

/** First check this long after start, so it never slows the launch. */
export const FIRST_CHECK_DELAY_MS = 5_000;
export const CHECK_INTERVAL_MS = 4 * 3600_000;

export const NOT_PACKAGED = 'Updates are off in a development build (not packaged)';

export interface DesktopUpdatesOptions {
  platform: NodeJS.Platform;
  isPackaged: boolean;
  /** Running from an AppImage (its path), whose updater starts the new version before this one exits. */
  appImage?: string | null;
  /** Linux: how the app was packaged (electron-builder's resources/package-type: deb, rpm, pacman), when known. */
  packageType?: string | null;
  /** The environment holding APPIMAGE (default process.env): it follows the AppImage when an update renames it. */
  env?: NodeJS.ProcessEnv;
  /** electron-updater's autoUpdater, read on first use: reading it builds the platform's updater, which needs Electron. */
  autoUpdater: () => AppUpdater;
  currentVersion: string;
  settings: () => Settings['update'];
  dataDir: string;
  hooks: UpdateHooks;
  /** Show a system notification; onClick runs when the person clicks it. */
  notify: (title: string, body: string, onClick: () => void) => void;
  log: Logger;
  firstCheckDelayMs?: number;
  checkIntervalMs?: number;
}

export function createDesktopUpdates(opts: DesktopUpdatesOptions): UpdateService {
  const updater = () => {
    const u = opts.autoUpdater();
    u.logger = libraryLogger(opts.log.child({ scope: 'electron-updater' }));
    // Installs happen through "Restart to update" only, where the port is handed over on purpose;
    // an install on quit would start an installer the person did not ask for at that moment.
    u.autoInstallOnAppQuit = false;
    // An update of Berth-1.0.0-linux-x86_64.AppImage is written as Berth-1.0.1-...; the old file is deleted.
    if (opts.appImage) followAppImageRename(u, { env: opts.env ?? process.env, log: opts.log });
    return u;
  };
  const service = new UpdateService({
    updater: opts.isPackaged ? updater : null,
    disabledReason: NOT_PACKAGED,
    currentVersion: opts.currentVersion,
    settings: opts.settings,
    dataDir: opts.dataDir,
    hooks: opts.hooks,
    // macOS: Squirrel.Mac installs through Electron's native updater, which has no install(); its quitAndInstall quits the app.
    install:
      opts.platform === 'darwin'
        ? (u) => {
            u.quitAndInstall();
            return true;
          }
        : undefined,
    // AppImage: the new file is started at once, beside us; NSIS, deb and Squirrel.Mac start it after we exit.
    successorStartsBeforeExit: opts.platform === 'linux' && !!opts.appImage,
    // Windows: electron-updater retries a refused installer through elevate.exe, which needs Electron's resources path.
    libraryFallbacks: opts.platform === 'win32',
    // deb: installed while we still serve (the password prompt may take a while, or be cancelled), then relaunched.
    packageInstall: opts.platform === 'linux' && !opts.appImage && opts.packageType === 'deb' ? debPackageInstall({ log: opts.log }) : undefined,
    firstCheckDelayMs: opts.firstCheckDelayMs ?? FIRST_CHECK_DELAY_MS,
    checkIntervalMs: opts.checkIntervalMs ?? CHECK_INTERVAL_MS,
    log: opts.log,
  });
  let last: UpdateStatus['state'] = service.status().state;
  service.on('change', (s) => {
    if (s.state === 'ready' && last !== 'ready') {
      opts.notify('Berth update ready', `Berth ${s.version} has been downloaded. Restart Berth to update.`, () => {
        service.install().catch((err: Error) => opts.log.error(`the update could not be installed: ${err.message}`));
      });
    }
    last = s.state;
  });
  return service;
}
