/**
 * An install format: how one kind of installed Berth (AppImage, NSIS, mac
 * zip, deb, rpm) checks, downloads and installs an update. Each format is
 * one file beside this one; formats/index.ts picks one, in one place, from
 * how this copy was installed. electron-updater's class for the format does
 * the checking and downloading; the format decides how the download is
 * installed and how the port goes to the new version (an InstallStep).
 */
import type { AppUpdater } from 'electron-updater';
import type { InstallStep } from '../../lifecycle/plans';
import type { Logger } from '../../log';

/** electron-updater's classes, by the name the library exports them under. */
export type UpdaterClass = 'AppImageUpdater' | 'NsisUpdater' | 'MacUpdater' | 'DebUpdater' | 'RpmUpdater';

/** How this copy of Berth was installed: what a format is chosen by. */
export interface InstallFacts {
  platform: NodeJS.Platform;
  /** The Electron app (false: `berth serve`, with no Electron to call). */
  electron: boolean;
  /** Running from an AppImage: the file (APPIMAGE). */
  appImage: string | null;
  /** Linux: electron-builder's resources/package-type (deb, rpm, pacman), when there is one. */
  packageType: string | null;
  /** Under snapd (SNAP is set): snapd updates it. */
  snap: boolean;
}

/** What every format is built with. */
export interface FormatOptions {
  dataDir: string;
  log: Logger;
  /** The environment the new version starts from (default process.env); read, never written. */
  env?: NodeJS.ProcessEnv;
  /**
   * Arguments the new version needs on its command line where this process
   * starts it (AppImage): Linux, `--no-sandbox` where the AppArmor
   * user-namespace restriction would stop Electron's sandbox.
   */
  successorArgs?: () => string[];
  /** Linux packages: the privilege prompt (default pkexec; none when already root). */
  elevate?: string[];
  /** Home for the launch-at-login entry when XDG_CONFIG_HOME is unset (tests). */
  home?: string;
}

/** The update being installed. */
export interface Release {
  version: string;
  /** The version running now. */
  currentVersion: string;
}

/** An install: the step the host runs, and what the format does once it is known how it went. */
export interface InstallAttempt extends InstallStep {
  /** The handover failed and this process serves on: put back what the install changed. */
  failed?(): void;
  /** The new version serves and this process is leaving: finish what the install began. */
  served?(): void;
}

/** One install format, built for this process. */
export interface UpdateFormat {
  readonly name: string;
  /** In words, for messages: "AppImage", "NSIS installer". */
  readonly label: string;
  readonly updaterClass: UpdaterClass;
  /** The install of the downloaded update, as a step the host runs (it hands the port over). */
  installStep(updater: AppUpdater, release: Release): InstallAttempt;
  /** Once serving: finish or undo an install a predecessor began and did not get to finish. */
  settle?(currentVersion: string): void;
}

export interface FormatDefinition {
  readonly name: string;
  readonly updaterClass: UpdaterClass;
  /** Whether this copy was installed this way. */
  matches(facts: InstallFacts): boolean;
  create(options: FormatOptions, facts: InstallFacts): UpdateFormat;
}

/**
 * The file electron-updater downloaded, as it is on disk. (LinuxUpdater's
 * `installerPath` is escaped for a shell, which a spawn without one would
 * take literally.)
 */
export function downloadedFile(updater: AppUpdater): string {
  const file = (updater as unknown as { downloadedUpdateHelper?: { file: string | null } | null }).downloadedUpdateHelper?.file;
  if (!file) throw new Error('no downloaded update file (download it again)');
  return file;
}
