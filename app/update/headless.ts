/**
 * Updates for `berth serve` (plain Node). Where Berth runs as an AppImage
 * (APPIMAGE is set), electron-updater's own AppImageUpdater checks and
 * downloads through NodeAppAdapter, and the AppImage format installs
 * (formats/appimage.ts); anywhere else the copy was installed some other way
 * (npm, git) and cannot replace itself, so updates are off with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import type { LogSink } from '../log';
import { packageRoot } from '../paths';
import { writeFileAtomic } from '../files/write';
import { loadSettings, type Settings } from '../settings/settings';
import { chooseFormat, type UpdateFormat, type UpdaterClass } from './formats/index';
import { libraryLogger } from './library-logger';
import { NodeAppAdapter, useNodeHttp } from './node-adapter';
import { UpdateService, type UpdateHooks } from './service';
import { makeFolders } from '../files/folder';

/** The feed a build without BERTH_UPDATE_URL uses (the same default electron-builder.config.js bakes in). */
export const DEFAULT_UPDATE_URL = 'https://updates.berth.invalid/';
/** electron-updater caches downloads in <baseCachePath>/<updaterCacheDirName>. */
export const UPDATER_CACHE_DIR_NAME = 'berth-updater';

export type HeadlessUpdater = { enabled: true; make: () => AppUpdater; format: UpdateFormat; feedUrl?: string } | { enabled: false; reason: string };

export interface NodeUpdaterOptions {
  dataDir: string;
  version: string;
  logs: LogSink;
  /** The build's feed (app-update.yml); settings.update.url overrides it at each check. */
  feedUrl: string;
}

/**
 * Build one of electron-updater's updater classes for plain Node: the
 * app-update.yml it reads, our AppAdapter (data and cache under the data
 * directory) and our HTTP executor. Loaded on call, not at import: a
 * relaunching server binds first and loads the library afterwards.
 */
export function makeNodeUpdater(kind: UpdaterClass, opts: NodeUpdaterOptions): AppUpdater {
  const updatesDir = path.join(opts.dataDir, 'updates');
  const configPath = path.join(updatesDir, 'app-update.yml');
  makeFolders(updatesDir);
  // JSON is valid YAML, and electron-updater reads this file with a YAML parser.
  writeFileAtomic(configPath, JSON.stringify({ provider: 'generic', url: opts.feedUrl, updaterCacheDirName: UPDATER_CACHE_DIR_NAME }, null, 2) + '\n', 0o644);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require('electron-updater') as typeof import('electron-updater');
  const adapter = new NodeAppAdapter({ version: opts.version, userDataPath: opts.dataDir, baseCachePath: updatesDir, appUpdateConfigPath: configPath });
  // No options: the feed comes from app-update.yml, as in a packaged app.
  const updater = new lib[kind](undefined, adapter);
  useNodeHttp(updater);
  updater.logger = libraryLogger(opts.logs.root.child({ scope: 'electron-updater' }));
  // Installs happen when asked ("install"), where the port is handed over; never silently on quit.
  updater.autoInstallOnAppQuit = false;
  // Berth ships full installers only (NSIS web installers are not built).
  updater.disableWebInstaller = true;
  return updater;
}

/** Decide from the environment alone (no library loaded yet) whether this process can update itself. */
export function headlessUpdaterFor(opts: { dataDir: string; version: string; env: NodeJS.ProcessEnv; logs: LogSink; platform?: NodeJS.Platform }): HeadlessUpdater {
  const { env } = opts;
  const appImage = env.APPIMAGE;
  if (!appImage && !env.SNAP) {
    return {
      enabled: false,
      reason: `Not packaged: this Berth runs from ${packageRoot()} under Node and cannot replace itself. Update it the way it was installed (npm, git), or use the desktop app, which updates itself.`,
    };
  }
  if (appImage && !path.isAbsolute(appImage)) return { enabled: false, reason: `APPIMAGE is not an absolute path (${JSON.stringify(appImage)}), so Berth cannot find the file to replace.` };
  if (appImage && !fs.existsSync(appImage)) return { enabled: false, reason: `APPIMAGE names ${appImage}, which does not exist, so Berth cannot replace it.` };
  const chosen = chooseFormat(
    { platform: opts.platform ?? process.platform, electron: false, appImage: appImage ?? null, packageType: null, snap: !!env.SNAP },
    { dataDir: opts.dataDir, log: opts.logs.root.child({ scope: 'update' }), env },
  );
  if ('reason' in chosen) return { enabled: false, reason: chosen.reason };
  const feedUrl = env.BERTH_UPDATE_URL || DEFAULT_UPDATE_URL;
  const { format } = chosen;
  return { enabled: true, feedUrl, format, make: () => makeNodeUpdater(format.updaterClass, { ...opts, feedUrl }) };
}

export interface HeadlessUpdatesOptions {
  dataDir: string;
  version: string;
  logs: LogSink;
  env?: NodeJS.ProcessEnv;
  /** Which updater, if any; default: decided from the environment (headlessUpdaterFor). */
  updater?: HeadlessUpdater;
  settings?: () => Settings['update'];
  blockerWaitMs?: number;
  firstCheckDelayMs?: number;
}

/** The update service for `berth serve` (plain Node), for createBerth to build around its hooks. */
export function headlessUpdates(opts: HeadlessUpdatesOptions): (hooks: UpdateHooks) => UpdateService {
  return (hooks) => {
    const env = opts.env ?? process.env;
    const updater = opts.updater ?? headlessUpdaterFor({ dataDir: opts.dataDir, version: opts.version, env, logs: opts.logs });
    return new UpdateService({
      updater: updater.enabled ? updater.make : null,
      disabledReason: updater.enabled ? undefined : updater.reason,
      format: updater.enabled ? updater.format : null,
      buildFeedUrl: updater.enabled ? updater.feedUrl : undefined,
      currentVersion: opts.version,
      settings: opts.settings ?? (() => loadSettings(opts.dataDir).settings.update),
      dataDir: opts.dataDir,
      blockerWaitMs: opts.blockerWaitMs,
      firstCheckDelayMs: opts.firstCheckDelayMs,
      log: opts.logs.root.child({ scope: 'update' }),
      hooks,
    });
  };
}
