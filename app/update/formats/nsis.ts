/**
 * Windows NSIS: electron-updater's NsisUpdater downloads the installer and
 * starts it (`--updated /S --force-run`); the installer waits for this
 * process to exit, installs over the same folder and starts the new version
 * through the shell. So the port closes when this process exits, once the
 * installer has really started (its spawn event, not the library's word).
 */
import type { AppUpdater } from 'electron-updater';
import { startInstaller } from '../installer';
import type { FormatDefinition, InstallFacts, Release, UpdateFormat } from './format';

export const nsisFormat: FormatDefinition = {
  name: 'nsis',
  updaterClass: 'NsisUpdater',
  matches: (f) => f.platform === 'win32',
  create: (_o, facts) => nsisInstall(facts),
};

export function nsisInstall(facts: Pick<InstallFacts, 'electron'>): UpdateFormat {
  return {
    name: 'nsis',
    label: 'NSIS installer',
    updaterClass: 'NsisUpdater',
    installStep: (updater: AppUpdater, release: Release) => {
      const guard = { what: `the update to ${release.version}`, toVersion: release.version, installerMayOutlive: false };
      return {
        order: 'after-exit',
        // The installer can fail after it starts ("cannot be closed", "failed to uninstall old application files"): a guardian watches it.
        guard,
        start: async (env) => {
          const s = await startInstaller(updater, {
            // Silent, and start the new version afterwards.
            install: (u) => (u as AppUpdater & { install(isSilent: boolean, isForceRunAfter: boolean): boolean }).install(true, true),
            // electron-updater retries a refused installer through elevate.exe (a UAC prompt), which needs Electron's resources path.
            libraryFallbacks: facts.electron,
            env,
          });
          // Windows: elevate.exe starts the installer elevated and need not wait for it.
          if (s?.fallback) guard.installerMayOutlive = true;
          return s;
        },
      };
    },
  };
}
