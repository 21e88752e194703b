/**
 * AppImage updates and the file name. electron-updater writes a new version
 * under its own name when the installed file's name carries a version (the
 * default, Berth-1.4.0-linux-x86_64.AppImage), deletes the old file and emits
 * `appimage-filename-updated`. Everything that still names the old file must
 * follow: APPIMAGE in this process's environment (what a later install or
 * relaunch runs, and what the successor inherits), and the launch-at-login
 * entry, which would otherwise start a deleted file at the next login.
 */
import type { Logger } from '../log';
import { autostartFile, retargetAutostart } from '../autostart';

export const APPIMAGE_RENAMED_EVENT = 'appimage-filename-updated';

export interface AppImageRenameOptions {
  /** The environment holding APPIMAGE (process.env in the app). */
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Home directory for the autostart entry when XDG_CONFIG_HOME is unset (tests). */
  home?: string;
  /** Told after the environment and the autostart entry have followed. */
  onMoved?: (to: string, from: string | undefined) => void;
}

/** Follow the installed AppImage to its new name whenever the updater renames it. */
export function followAppImageRename(updater: { on(event: string, listener: (path: string) => void): unknown }, opts: AppImageRenameOptions): void {
  updater.on(APPIMAGE_RENAMED_EVENT, (to: string) => appImageMoved(to, opts));
}

export function appImageMoved(to: string, opts: AppImageRenameOptions): void {
  const from = opts.env.APPIMAGE;
  // electron-updater emits this before it starts the new file, so the successor inherits the new path.
  opts.env.APPIMAGE = to;
  opts.log.info(`the AppImage is now ${to}${from ? ` (${from} was replaced)` : ''}`);
  if (from && from !== to) {
    const file = autostartFile(opts.env, opts.home);
    try {
      if (retargetAutostart(file, from, to)) opts.log.info(`launch at login now starts ${to} (${file})`);
    } catch (err) {
      opts.log.warn(`launch at login still names ${from}, which is gone: ${file} could not be rewritten (${(err as Error).message}); switch launch at login off and on again`);
    }
  }
  opts.onMoved?.(to, from);
}
