/**
 * macOS: electron-updater's MacUpdater downloads the zip and serves it to
 * Squirrel.Mac (Electron's native autoUpdater) on loopback; Squirrel.Mac
 * unzips it, checks its signature, and swaps the bundle once the app quits.
 *
 * The library hands the zip to Squirrel.Mac only at quitAndInstall() when
 * autoInstallOnAppQuit is off, so the transfer, unzip and signature check
 * would happen after the port is let go. Here Squirrel.Mac stages the update
 * first, while this version still serves; a Squirrel.Mac error leaves it
 * serving, with the error. The port is down only for the quit, the swap and
 * the new version's start.
 */
import type { EventEmitter } from 'node:events';
import type { AppUpdater } from 'electron-updater';
import { within } from '../../timeout';
import type { FormatDefinition, Release, UpdateFormat } from './format';

/** How long Squirrel.Mac may take to fetch, unzip and verify the update from loopback. */
const STAGE_BOUND_MS = 10 * 60_000;

interface Squirrel extends EventEmitter {
  checkForUpdates(): void;
}

export const macFormat: FormatDefinition = {
  name: 'mac',
  updaterClass: 'MacUpdater',
  // Squirrel.Mac is Electron's: `berth serve` on a Mac has no updater.
  matches: (f) => f.platform === 'darwin' && f.electron,
  create: () => macInstall(),
};

export function macInstall(o: { stageBoundMs?: number } = {}): UpdateFormat {
  return {
    name: 'mac',
    label: 'Squirrel.Mac',
    updaterClass: 'MacUpdater',
    installStep: (updater: AppUpdater, release: Release) => ({
      order: 'after-exit',
      prepare: () => stage(updater, release, o.stageBoundMs ?? STAGE_BOUND_MS),
      // Nothing to start: Squirrel.Mac starts the new version once this one has quit.
      start: async () => undefined,
      // Squirrel.Mac's quitAndInstall quits the app; the swap happens after it has gone.
      endWith: () => updater.quitAndInstall(),
      // The swap or the new version's start can still fail, with nothing of this version left to see it.
      guard: { what: `the update to ${release.version}`, toVersion: release.version },
    }),
  };
}

/** Have Squirrel.Mac fetch and verify the update now; resolves once it says it is ready to install. */
async function stage(updater: AppUpdater, release: Release, boundMs: number): Promise<void> {
  const u = updater as AppUpdater & { nativeUpdater: Squirrel; squirrelDownloadedUpdate?: boolean };
  if (u.squirrelDownloadedUpdate) return;
  const squirrel = u.nativeUpdater;
  let off = () => undefined as void;
  const staged = new Promise<void>((resolve, reject) => {
    const ok = () => (off(), resolve());
    const failed = (err: Error) => (off(), reject(new Error(`Squirrel.Mac could not install Berth ${release.version}: ${firstLine(err)}`)));
    off = () => {
      squirrel.off('update-downloaded', ok);
      squirrel.off('error', failed);
    };
    squirrel.once('update-downloaded', ok);
    squirrel.once('error', failed);
  });
  squirrel.checkForUpdates();
  try {
    await within(staged, boundMs, () => {
      throw new Error(`Squirrel.Mac did not finish preparing Berth ${release.version} within ${Math.round(boundMs / 60_000)} minutes`);
    });
  } finally {
    off();
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n', 1)[0]!.trim().replace(/[.:]$/, '');
}
