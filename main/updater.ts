import type { AppUpdater } from 'electron-updater';
import type { Logger } from '../app/log';
import type { Settings } from '../app/settings/settings';
import { builtInFeed } from '../app/update/feed-policy';
import { chooseFormat, type UpdaterClass } from '../app/update/formats/index';
import { libraryLogger } from '../app/update/library-logger';
import { UpdateService, type UpdateHooks } from '../app/update/service';

/**
 * The desktop side of auto-update, a thin adapter: the install format is
 * chosen from how the app was installed (app/update/formats), electron-
 * updater's class for it is built when the app is packaged, and the core's
 * UpdateService (states, settings, restart blockers, the port handoff) drives
 * both; a downloaded update becomes a notification. The feed is the build's
 * app-update.yml, checked as the headless one is, overridden by
 * settings.update.url.
 */

/** First check this long after start, so it never slows the launch. */
export const FIRST_CHECK_DELAY_MS = 5_000;
export const CHECK_INTERVAL_MS = 4 * 3600_000;

export const NOT_PACKAGED = 'Updates are off in a development build (not packaged)';

export interface DesktopUpdatesOptions {
  platform: NodeJS.Platform;
  isPackaged: boolean;
  /** Running from an AppImage: its path (APPIMAGE). */
  appImage?: string | null;
  /** Linux: how the app was packaged (electron-builder's resources/package-type: deb, rpm, pacman), when known. */
  packageType?: string | null;
  /** The environment the new version starts from (default process.env), read only. */
  env?: NodeJS.ProcessEnv;
  /** Build electron-updater's updater of this class; called on first use (building it needs Electron's app). */
  autoUpdater: (updaterClass: UpdaterClass) => AppUpdater;
  /** Linux: what the new AppImage needs on its command line (--no-sandbox where the AppArmor restriction is on). */
  successorArgs?: () => string[];
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
  const chosen = opts.isPackaged
    ? chooseFormat(
        { platform: opts.platform, electron: true, appImage: opts.appImage ?? null, packageType: opts.packageType ?? null, snap: !!(opts.env ?? process.env).SNAP },
        { dataDir: opts.dataDir, log: opts.log, env: opts.env, successorArgs: opts.successorArgs },
      )
    : { reason: NOT_PACKAGED };
  const format = 'format' in chosen ? chosen.format : null;
  const updater = () => {
    const u = opts.autoUpdater(format!.updaterClass);
    u.logger = libraryLogger(opts.log.child({ scope: 'electron-updater' }));
    // Installs happen through "Restart to update" only, where the port is handed over on purpose;
    // an install on quit would start an installer the person did not ask for at that moment.
    u.autoInstallOnAppQuit = false;
    return u;
  };
  const service = new UpdateService({
    updater: format ? updater : null,
    format,
    disabledReason: 'reason' in chosen ? chosen.reason : undefined,
    buildFeedUrl: (u) => builtInFeed(u),
    currentVersion: opts.currentVersion,
    settings: opts.settings,
    dataDir: opts.dataDir,
    hooks: opts.hooks,
    firstCheckDelayMs: opts.firstCheckDelayMs ?? FIRST_CHECK_DELAY_MS,
    checkIntervalMs: opts.checkIntervalMs ?? CHECK_INTERVAL_MS,
    log: opts.log,
  });
  // Once per downloaded version: a check that finds the same update again says nothing new.
  let notified: string | null = null;
  service.on('change', (s) => {
    if (s.state === 'ready' && s.version && s.version !== notified) {
      notified = s.version;
      opts.notify('Berth update ready', `Berth ${s.version} has been downloaded. Restart Berth to update.`, () => {
        service.install().catch((err: Error) => opts.log.error(`the update could not be installed: ${err.message}`));
      });
    }
  });
  return service;
}
