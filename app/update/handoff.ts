/**
 * The port handoff for an update, built on the host's relaunch: the installer
 * electron-updater starts takes the place of the usual successor, and the
 * host's relaunch protocol does the rest (close the listener at the right
 * moment, drain, exit; serve again if the install cannot start).
 */
import type { Handoff, Relauncher, Successor } from '../lifecycle/relaunch';
import type { HandOverOrder, UpdateHooks } from './service';

/**
 * Tells the version that an installer starts which instance it replaces.
 * Installers start the new version without our arguments (AppImage: none at
 * all; NSIS: --updated) but with our environment, so the handoff rides there.
 */
export const HANDOFF_ENV = 'BERTH_HANDOFF';

/** Read (and remove, so it is not inherited further) the handoff a predecessor left in the environment. */
export function takeHandoffEnv(env: NodeJS.ProcessEnv = process.env): Handoff | null {
  const raw = env[HANDOFF_ENV];
  delete env[HANDOFF_ENV];
  const m = /^([A-Za-z0-9_-]{1,64}):(\d{1,10})$/.exec(raw ?? '');
  return m ? { instance: m[1]!, pid: Number(m[2]) } : null;
}

export interface InstallingRelauncher {
  /** Give this to ServerHost as its relauncher. */
  relauncher: Relauncher;
  /** UpdateHooks for an UpdateService, acting through `host.relaunch()`. */
  hooksFor(host: { relaunch(): Promise<void> }): UpdateHooks;
}

/**
 * A relauncher that behaves like `base`, except during an update install,
 * when starting the successor means starting electron-updater's installer.
 */
export function installingRelauncher(base: Relauncher, env: NodeJS.ProcessEnv = process.env): InstallingRelauncher {
  let install: { apply: () => void; beside: boolean } | null = null;
  const relauncher: Relauncher = {
    // The installer starts a new process; this one stays to drain and exit.
    get replacesProcess() {
      return install ? false : base.replacesProcess;
    },
    get startsBeforeExit() {
      return install ? install.beside : base.startsBeforeExit;
    },
    async start(handoff: Handoff): Promise<Successor | void> {
      if (!install) return base.start(handoff);
      env[HANDOFF_ENV] = `${handoff.instance}:${handoff.pid}`;
      try {
        install.apply();
      } finally {
        delete env[HANDOFF_ENV];
      }
      if (!install.beside) return;
      // The installer started the new version detached and keeps no handle on it, so there is no
      // exit to watch or process to stop: the host waits for its probe, then for it to serve.
      return { exited: new Promise<number | null>(() => undefined), kill: () => undefined };
    },
  };
  return {
    relauncher,
    hooksFor: (host) => ({
      async handOver(apply: () => void, how?: HandOverOrder) {
        install = { apply, beside: how?.successorStartsBeforeExit ?? false };
        try {
          await host.relaunch();
        } finally {
          install = null;
        }
      },
    }),
  };
}
