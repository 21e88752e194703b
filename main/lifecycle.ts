import type { App } from 'electron';
import type { Logger } from '../app/log';
import type { ServerHost } from '../app/lifecycle/host';
import { START_ALLOWANCE_MS, guardHandover, type GuardianCommand } from '../app/guardian/guardian';
import type { InstallHooks, RelaunchPlan, Started } from '../app/lifecycle/plans';
import { freshArgs, successorArgs, withoutHandoff, type Handoff } from '../app/lifecycle/successor-protocol';
import { startAppImage } from './appimage';

/** The only Electron calls that end or replace the process. Nothing else in main/ makes them. */
export type LifecycleApp = Pick<App, 'quit' | 'exit' | 'relaunch' | 'releaseSingleInstanceLock' | 'requestSingleInstanceLock'>;

/** What the lifecycle needs of the host: the real ServerHost, or a test double with the same shape. */
export type LifecycleHost = Pick<ServerHost, 'state' | 'instance' | 'stop' | 'relaunch'>;

export type Phase = 'running' | 'quitting' | 'relaunching' | 'installing' | 'exiting';

export interface LifecycleOptions {
  app: LifecycleApp;
  log: Logger;
  /**
   * The successor's command line after the executable, before the handoff is
   * added: Berth's own flags (main/args.ts relaunchArgs), read at the moment
   * of the relaunch (whether the window is open decides --hidden).
   */
  args: readonly string[] | (() => readonly string[]);
  /** Chromium switches the successor needs to start at all (main/sandbox.ts: --no-sandbox where the sandbox cannot work). */
  switches?: () => readonly string[];
  /**
   * AppImage: the image file (APPIMAGE, read at relaunch time: an update may
   * have renamed it). Restart app starts it again itself, beside this
   * process, instead of through Electron's relaunch helper, which lives in
   * the image's mount and goes with it.
   */
  appImage?: () => string | undefined;
  /** The environment the AppImage is started with (default process.env; the mount's entries are taken out). */
  env?: NodeJS.ProcessEnv;
  /**
   * How long a quit lets in-flight requests finish. Kept under NSIS's kill
   * window (the installer kills the app about 1.3 s after it starts).
   */
  drainDeadline?: number;
  /** Flush and close the log file before the process goes. */
  flushLogs: () => Promise<void>;
  /** If app.quit() has not ended the process by then (a window vetoed it), exit anyway. */
  quitFallbackMs?: number;
  /** How long an installer that quits the app itself (Squirrel.Mac) may take to do so before this process exits anyway (default 10 s). */
  installerQuitWaitMs?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  /**
   * Restart app's guardian (app/guardian), which starts Berth again if the
   * successor never serves. `relaunch` defaults to this executable (the
   * AppImage file on Linux) with our arguments; under plain Node there is
   * no executable of ours to start, and so no guardian unless one is given.
   */
  guardian?: { dataDir: string; version: string; relaunch?: GuardianCommand; allowanceMs?: number; confirmMs?: number };
}

export const QUIT_DRAIN_DEADLINE = 800;

/** How long an install elevate.exe started may take before the guardian starts Berth anyway: it runs after elevate.exe has gone. */
export const ELEVATED_INSTALL_ALLOWANCE_MS = 3 * 60_000;

/**
 * The one owner of the process's end: quit, exit, relaunch and
 * install-an-update all go through here, in one order: stop serving (the port
 * is free from the first step), flush logs, let go of the single-instance
 * lock, then leave.
 */
export class DesktopLifecycle {
  private _phase: Phase = 'running';
  private host: LifecycleHost | null = null;
  private ending: Promise<void> | null = null;
  private lockReleased = false;
  private readonly drainDeadline: number;
  /** How an update install ends this process, when the installer does it (Squirrel.Mac's quitAndInstall). */
  private endInstall: (() => void) | null = null;

  constructor(private readonly opts: LifecycleOptions) {
    this.drainDeadline = opts.drainDeadline ?? QUIT_DRAIN_DEADLINE;
  }

  get phase(): Phase {
    return this._phase;
  }

  /** True once the process is on its way out: windows stop hiding on close and let Electron close them. */
  get leaving(): boolean {
    return this._phase !== 'running';
  }

  /** The host whose port this process owns (replaced when a port conflict is resolved by moving). */
  follow(host: LifecycleHost): void {
    this.host = host;
  }

  /**
   * The desktop's Restart app: Electron starts the successor after this
   * process exits, by which time the listener is long closed. The lock is
   * released first so the successor's requestSingleInstanceLock succeeds.
   * An AppImage starts its image file again instead (appImagePlan).
   */
  relaunchPlan(): RelaunchPlan {
    const image = this.opts.appImage?.();
    if (image) return this.appImagePlan(image);
    return {
      kind: 'after-exit',
      startedBy: 'electron',
      label: "Electron's relaunch starts the new process once this one exits",
      start: async (handoff: Handoff) => {
        await this.guard(handoff);
        this.registerSuccessor(handoff);
        this._phase = 'relaunching';
      },
    };
  }

  /**
   * Before the port is let go: a guardian that starts the installed Berth if
   * no Berth serves after we have gone (Restart app, or an update install's
   * `watch`: its words, the version it should end with, its installer). An
   * AppImage's Restart app needs none: its successor proves itself before
   * this process lets go.
   */
  private async guard(h: Handoff, watch: { what: string; toVersion?: string; waitForPid?: number | null; installerMayOutlive?: boolean } = { what: 'Restart app' }): Promise<void> {
    const g = this.opts.guardian;
    const relaunch = g?.relaunch ?? (process.versions.electron ? { command: process.execPath, args: [...(this.opts.switches?.() ?? []), ...freshArgs(this.baseArgs(), h)] } : null);
    if (!g || !relaunch) return;
    const allowanceMs = g.allowanceMs ?? START_ALLOWANCE_MS;
    const spec = {
      dataDir: g.dataDir,
      host: h.host,
      port: h.port,
      fromVersion: g.version,
      what: watch.what,
      toVersion: watch.toVersion,
      waitForPid: watch.waitForPid ?? null,
      relaunch,
      // Windows: an installer elevate.exe started may still be installing after elevate.exe has gone.
      allowanceMs: watch.installerMayOutlive ? Math.max(allowanceMs, ELEVATED_INSTALL_ALLOWANCE_MS) : allowanceMs,
      confirmMs: g.confirmMs,
    };
    await guardHandover(spec, this.opts.log);
  }

  /**
   * AppImage: the image file starts beside us, from outside the mount, and
   * proves itself with the handoff probe before we close (the AppImage
   * update's order). It gets the single-instance lock at once; if it never
   * serves, the engine stops it, and the lock comes back here.
   */
  private appImagePlan(image: string): RelaunchPlan {
    return {
      kind: 'beside',
      handover: 'probe',
      // No channel to it: it proves itself with the handoff note, like an update's.
      startedBy: 'appimage',
      label: 'the AppImage starts again, beside this process',
      start: async (handoff: Handoff): Promise<Started> => {
        const args = [...(this.opts.switches?.() ?? []), ...successorArgs(this.baseArgs(), handoff)];
        this.opts.log.info(`relaunch: starting ${image} ${args.join(' ')}`);
        this._phase = 'relaunching';
        this.releaseLock();
        try {
          const s = await startAppImage(image, args, this.opts.env ?? process.env);
          return { exited: s.exited, kill: () => this.successorFailed(s) };
        } catch (err) {
          this.relaunchFailed(err);
          throw err;
        }
      },
    };
  }

  /** The image started but never served: the engine stops it and serves on; the lock comes back once it is gone. */
  private successorFailed(s: Started): void {
    s.kill();
    void s.exited.then(() => this.relaunchFailed(new Error('the new process did not take over')));
  }

  private relaunchFailed(err: unknown): void {
    if (this._phase !== 'relaunching') return;
    this._phase = 'running';
    this.opts.log.error(`restart failed (${(err as Error)?.message ?? String(err)}); still running`);
    this.lockReleased = false;
    if (!this.opts.app.requestSingleInstanceLock()) this.opts.log.warn('could not take the single-instance lock back; a second launch may start another copy');
  }

  private baseArgs(): readonly string[] {
    return typeof this.opts.args === 'function' ? this.opts.args() : this.opts.args;
  }

  /** An update install's part for the lifecycle owner: the lock goes to the new version, and comes back if the installer fails. */
  installHooks(): InstallHooks {
    return {
      beforeStart: () => this.beginInstall(),
      failed: (err) => this.installFailed(err),
      // deb: the package is installed while we still serve; Electron starts the new version once we exit.
      relaunch: (h) => this.registerSuccessor(h),
      // macOS: Squirrel.Mac has staged the update; its quitAndInstall quits the app, swaps the bundle and starts the new version.
      endWith: (end) => {
        this.endInstall = end;
      },
      // NSIS, Squirrel.Mac, deb: after we exit, a guardian waits for the installer, then for the new version to serve.
      guard: (h, watch) => this.guard(h, watch),
    };
  }

  /** With no handoff (nothing is serving), the successor starts as a new Berth with our own arguments. */
  private registerSuccessor(handoff: Handoff | null): void {
    const base = this.baseArgs();
    const args = [...(this.opts.switches?.() ?? []), ...(handoff ? successorArgs(base, handoff) : withoutHandoff(base))];
    this.releaseLock();
    const image = this.opts.appImage?.();
    if (image) {
      // Nothing serves, so nothing to hand over: the image starts again on its own (Electron's helper would die with the mount).
      this.opts.log.info(`relaunch: starting ${image} ${args.join(' ')}`);
      startAppImage(image, args, this.opts.env ?? process.env).catch((err: Error) => this.opts.log.error(`could not start ${image} again: ${err.message}`));
      return;
    }
    this.opts.log.info(`relaunch registered: the successor starts when this process exits (${args.join(' ')})`);
    this.opts.app.relaunch({ args });
  }

  /** Restart app (tray): the host drains and calls our relauncher, then asks us to exit through its 'exit' event. */
  async relaunch(): Promise<void> {
    if (this.ending) return this.ending;
    const host = this.host;
    if (host && (host.state === 'serving' || host.state === 'restarting')) {
      await host.relaunch();
      return;
    }
    // Nothing is serving (a port conflict, a failed start): there is no port to hand over.
    this.ending = (async () => {
      this._phase = 'relaunching';
      this.registerSuccessor(null);
      await this.finish(0);
    })();
    return this.ending;
  }

  /** Quit from the tray, the OS (logout, shutdown, Cmd+Q) or an installer. Idempotent. */
  quit(reason: string): Promise<void> {
    if (this.ending) return this.ending;
    this._phase = 'quitting';
    this.opts.log.info(`quitting (${reason}): draining with a ${this.drainDeadline} ms deadline`);
    this.ending = (async () => {
      await this.stopHost();
      await this.opts.flushLogs().catch(() => undefined);
      this.releaseLock();
      this._phase = 'exiting';
      this.opts.app.quit();
      // app.quit() can be vetoed (a page's beforeunload); the server is already gone, so make sure the process follows.
      const timer = (this.opts.setTimer ?? setTimeout)(() => this.opts.app.exit(0), this.opts.quitFallbackMs ?? 2000);
      (timer as { unref?: () => void }).unref?.();
    })();
    return this.ending;
  }

  /**
   * The host finished a stop or relaunch asked of it (API, tray): it has
   * already drained, so only the exit is left.
   */
  onHostExit(code: number): Promise<void> {
    if (this.ending && this._phase !== 'relaunching') return this.ending;
    if (this._phase === 'installing' && this.endInstall) {
      this.ending = this.endThroughInstaller(this.endInstall, code);
      return this.ending;
    }
    this.ending = this.finish(code);
    return this.ending;
  }

  /**
   * macOS: the port is let go and Squirrel.Mac has the update staged; its
   * quitAndInstall quits the app at once. The log stays open until that
   * quit (onBeforeQuit), so whatever goes wrong is written down. If the quit
   * never comes, start again rather than leave no server at all.
   */
  private async endThroughInstaller(end: () => void, code: number): Promise<void> {
    const timer = (this.opts.setTimer ?? setTimeout)(() => {
      this.opts.log.warn('the installer did not quit the app in time; relaunching');
      this.registerSuccessor(null);
      this._phase = 'exiting';
      void this.opts.flushLogs().catch(() => undefined).finally(() => this.opts.app.exit(code));
    }, this.opts.installerQuitWaitMs ?? 10_000);
    (timer as { unref?: () => void }).unref?.();
    try {
      end();
    } catch (err) {
      this.opts.log.error(`the installer could not quit the app (${(err as Error).message}); relaunching`);
      this.registerSuccessor(null);
      this._phase = 'exiting';
      await this.opts.flushLogs().catch(() => undefined);
      this.opts.app.exit(code);
    }
  }

  /**
   * Electron's before-quit: OS logout, Cmd+Q, an installer's WM_CLOSE, or
   * electron-updater's own quit. While running, hold the quit until the
   * server has drained; once we are leaving, let it through.
   */
  onBeforeQuit(event: { preventDefault(): void }): void {
    if (this._phase === 'installing') {
      // The installer (Squirrel.Mac) is quitting us: let it, with the log written out.
      void this.opts.flushLogs().catch(() => undefined);
      return;
    }
    if (this._phase === 'exiting') return;
    event.preventDefault();
    void this.quit('quit requested by the system');
  }

  /**
   * An update install is about to start the installer (app/update hands the
   * port over through the host, like a relaunch): from here a quit passes
   * straight through, and the lock is let go so the new version can take it
   * (the AppImage one starts before this process has exited).
   */
  beginInstall(): void {
    this._phase = 'installing';
    this.opts.log.info('update install: handing the port and the single-instance lock to the new version');
    this.releaseLock();
  }

  /** The installer did not start: the host serves again, and so do we. */
  installFailed(err: unknown): void {
    if (this._phase !== 'installing') return;
    this._phase = 'running';
    this.endInstall = null;
    this.opts.log.error(`update install failed (${(err as Error)?.message ?? String(err)}); still running`);
    this.lockReleased = false;
    if (!this.opts.app.requestSingleInstanceLock()) this.opts.log.warn('could not take the single-instance lock back; a second launch may start another copy');
  }

  /** Let go of the single-instance lock once (the successor or the installer's new version needs it). */
  private releaseLock(): void {
    if (this.lockReleased) return;
    this.lockReleased = true;
    this.opts.app.releaseSingleInstanceLock();
  }

  private async stopHost(): Promise<void> {
    const host = this.host;
    if (!host || host.state === 'idle' || host.state === 'stopped') return;
    try {
      await host.stop({ drainDeadline: this.drainDeadline });
    } catch (err) {
      this.opts.log.error({ err }, 'stopping the server failed');
    }
  }

  private async finish(code: number): Promise<void> {
    await this.opts.flushLogs().catch(() => undefined);
    this.releaseLock();
    this._phase = 'exiting';
    this.opts.app.exit(code);
  }
}
