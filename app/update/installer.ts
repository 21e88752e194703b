/**
 * Starting electron-updater's installer, and knowing that it started.
 *
 * BaseUpdater.install() returns true as soon as it has *asked* for the
 * installer process: `spawnLog` reports a failed spawn later, asynchronously
 * (NsisUpdater, AppImageUpdater in electron-updater 6.8). Drain on that true
 * and an installer that cannot start leaves zero servers. So Berth puts its
 * own `spawnLog` on the updater for the call, and waits for the child's
 * `spawn` event (or its `error`) before the port is let go.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import type { AppUpdater } from 'electron-updater';
import { started, type Started } from '../lifecycle/plans';
import { within } from '../timeout';

type SpawnLog = (cmd: string, args?: string[], env?: NodeJS.ProcessEnv, stdio?: StdioOptions) => Promise<boolean>;

interface Installable {
  install?: (isSilent?: boolean, isForceRunAfter?: boolean) => boolean;
  spawnLog?: SpawnLog;
  quitAndInstallCalled?: boolean;
  _logger?: { info(m: string): void };
}

export interface StartInstallerOptions {
  /** Calls the updater's install (default: `install(true, true)`). Returns whether it asked for the installer. */
  install: (updater: AppUpdater) => boolean;
  /**
   * Let the library's own fallbacks run when the spawn fails (Windows:
   * elevate.exe on EACCES). They need Electron: under plain Node a failed
   * spawn is reported to us and nothing else runs.
   */
  libraryFallbacks?: boolean;
  /** How long a started spawn may take to report (default 10 s). */
  timeoutMs?: number;
  /** Added to the installer's environment (the handoff, for an installer that passes it on to the new version). */
  env?: Record<string, string>;
}

/**
 * Run the install and resolve once the installer process has started (its
 * `spawn` event), with a handle on it; resolve with nothing when the updater
 * starts nothing itself (Squirrel.Mac's quitAndInstall). Rejects when it did
 * not start, and leaves the updater ready for another try: the library keeps
 * `quitAndInstallCalled` set after the first call and would ignore the next.
 */
export async function startInstaller(updater: AppUpdater, opts: StartInstallerOptions): Promise<(Started & { fallback: boolean }) | void> {
  const u = updater as AppUpdater & Installable;
  const spawns: Promise<Started>[] = [];
  const original = Object.prototype.hasOwnProperty.call(u, 'spawnLog') ? u.spawnLog : undefined;
  u.spawnLog = (cmd, args = [], env, stdio = 'ignore') => {
    u._logger?.info(`Executing: ${cmd} with args: ${args.join(' ')}`);
    const child = spawn(cmd, args, { stdio, env: { ...(env ?? process.env), ...opts.env }, detached: true });
    const s = started(child);
    spawns.push(s);
    s.catch(() => undefined);
    child.unref();
    // Rejecting hands the failure to the library's fallbacks; resolving false keeps them (and their Electron calls) out.
    return s.then(
      () => true,
      (err: unknown) => (opts.libraryFallbacks ? Promise.reject(err) : false),
    );
  };
  const restore = () => {
    if (original) u.spawnLog = original;
    else delete u.spawnLog;
  };
  const fail = (err: unknown): never => {
    restore();
    u.quitAndInstallCalled = false;
    throw err instanceof Error ? err : new Error(String(err));
  };

  // The library reports why it started nothing as an 'error' event during the call (and returns false).
  let reported: unknown = null;
  const onError = (err: unknown) => (reported ??= err);
  u.on('error', onError);
  let asked: boolean;
  try {
    asked = opts.install(updater);
  } catch (err) {
    return fail(err);
  } finally {
    u.off('error', onError);
  }
  if (!asked) return fail(reported ?? new Error('electron-updater did not start the installer'));

  let lastErr: unknown = null;
  for (let i = 0; i < spawns.length; i++) {
    try {
      const ms = opts.timeoutMs ?? 10_000;
      const s = await within(spawns[i]!, ms, () => {
        throw new Error(`no spawn event within ${ms} ms`);
      });
      restore();
      // A later spawn is the library's fallback (elevate.exe behind a UAC prompt), not the installer itself.
      return { ...s, fallback: i > 0 };
    } catch (err) {
      lastErr = err;
      // A library fallback (elevate.exe) spawns again from its catch handler: give it its turn.
      await new Promise((r) => setImmediate(r));
    }
  }
  if (spawns.length > 0) return fail(new Error(`the installer could not be started: ${describeSpawnError(lastErr)}`));
  restore();
}

function describeSpawnError(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null;
  if (!e) return 'unknown error';
  if (e.code === 'EACCES') return `${e.path ?? 'the installer'} is not executable (EACCES)`;
  if (e.code === 'ENOENT') return `${e.path ?? 'the installer'} does not exist (ENOENT)`;
  return e.message;
}
