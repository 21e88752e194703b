import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater, ProgressInfo, UpdateInfo } from 'electron-updater';
import { BerthError, ExitCode } from '../errors';
import type { Logger } from '../log';
import { writeFileAtomic } from '../files/write';
import { readOwnFile } from '../files/read';
import { updateUrlProblem, type Settings, type UpdateChannel } from '../settings/settings';
import { DEFAULT_BLOCKER_WAIT_MS, RestartBlockers } from './blockers';
import { startInstaller } from './installer';
import type { InstallStep } from '../lifecycle/plans';
import { channelOfVersion, describeUpdateError, downgradeAllowed, isUnconfiguredFeed, noUpdateServerMessage, type UpdateStatus } from './state';

/**
 * How the process that hosts the server hands the port to the new version:
 * run the step as a relaunch of the host. Resolves once this process is on its
 * way out; rejects, still serving, when the installer did not start or the new
 * version did not serve. Never zero servers.
 */
export interface UpdateHooks {
  handOver(step: InstallStep): Promise<void>;
}

export interface UpdateServiceOptions {
  /**
   * electron-updater's updater (the desktop's `autoUpdater`, or one built on
   * NodeAppAdapter), or a function that builds it on first use (loading the
   * library costs tens of ms that a relaunching server should not spend before
   * it binds); null when updates are off.
   */
  updater: AppUpdater | (() => AppUpdater) | null;
  /** Why updates are off (updater null), in words for the UI: "not packaged ...". */
  disabledReason?: string;
  currentVersion: string;
  /** The update settings, read afresh at every check so a change applies at once. */
  settings: () => Settings['update'];
  /** Where update-state.json (the channel the running version came from) is kept. */
  dataDir: string;
  hooks: UpdateHooks;
  blockers?: RestartBlockers;
  /** How long an install waits for restart blockers before it proceeds anyway (default 30 s). */
  blockerWaitMs?: number;
  /**
   * Start electron-updater's installer and return whether it started. Default:
   * `install(isSilent=true, isForceRunAfter=true)`, the BaseUpdater path (NSIS,
   * AppImage, deb...), which works with and without Electron. macOS (Squirrel.Mac)
   * has no install(): pass `(u) => { u.quitAndInstall(); return true; }` there.
   */
  install?: (updater: AppUpdater) => boolean;
  /** The feed the build uses when settings.update.url is empty (app-update.yml's url), named in error messages. */
  buildFeedUrl?: string;
  /** See InstallStep.order (default false: the new version starts after this process exits). */
  successorStartsBeforeExit?: boolean;
  /** Let electron-updater's own spawn fallbacks run (they need Electron: the desktop on Windows). */
  libraryFallbacks?: boolean;
  /**
   * Install the downloaded package ourselves, while still serving (deb:
   * electron-updater's DebUpdater runs pkexec dpkg synchronously after the
   * port is closed, and a cancelled password prompt leaves nothing serving).
   * Rejects with a sentence when nothing was installed.
   */
  packageInstall?: (file: string) => Promise<void>;
  /** First automatic check this long after start (default 10 s, so it never slows launch). */
  firstCheckDelayMs?: number;
  /** Then every this long while autoCheck is on (default 4 h). */
  checkIntervalMs?: number;
  log: Logger;
}

export interface UpdateServiceEvents {
  change: [UpdateStatus];
}

const STATE_FILE = 'update-state.json';

/** Calls `install(true, true)` on BaseUpdater subclasses: silent, and start the new version afterwards. */
function defaultInstall(updater: AppUpdater): boolean {
  const u = updater as AppUpdater & { install?: (isSilent?: boolean, isForceRunAfter?: boolean) => boolean };
  if (typeof u.install !== 'function') throw new Error('this updater has no install(); pass the `install` option (macOS: quitAndInstall)');
  return u.install(true, true);
}

/**
 * Update orchestration, the same in the desktop app and headless: one state
 * machine (idle, checking, available, downloading, ready, installing, error,
 * disabled) over electron-updater, settings applied at every check, restart
 * blockers honoured before an install, and the port handed over through the
 * process owner's hooks.
 */
export class UpdateService extends EventEmitter<UpdateServiceEvents> {
  readonly blockers: RestartBlockers;
  private _status: UpdateStatus;
  private checking: Promise<UpdateStatus> | null = null;
  private customUrl: string | null = null;
  private lastUpdaterError: unknown = null;
  private firstTimer: NodeJS.Timeout | null = null;
  private intervalTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private made: AppUpdater | null = null;

  constructor(private readonly opts: UpdateServiceOptions) {
    super();
    this.log = opts.log;
    this.blockers = opts.blockers ?? new RestartBlockers();
    const channel = this.readSettings().channel;
    this._status = opts.updater
      ? { state: 'idle', channel, currentVersion: opts.currentVersion }
      : { state: 'disabled', reason: opts.disabledReason ?? 'Updates are not available in this copy of Berth.', channel, currentVersion: opts.currentVersion };
  }

  /** The updater, built and wired on first use. */
  private updater(): AppUpdater | null {
    if (this.made || !this.opts.updater) return this.made;
    const u = typeof this.opts.updater === 'function' ? this.opts.updater() : this.opts.updater;
    // Berth decides when to download and install; the library only does them.
    u.autoDownload = false;
    u.on('download-progress', (p: ProgressInfo) => {
      if (this._status.state !== 'downloading') return;
      this.set({ ...this._status, percent: round(p.percent), bytesPerSecond: Math.round(p.bytesPerSecond), transferred: p.transferred, total: p.total });
    });
    u.on('error', (err: Error) => {
      this.lastUpdaterError = err;
    });
    return (this.made = u);
  }

  status(): UpdateStatus {
    return { ...this._status, ...(this._status.blockers ? { blockers: [...this._status.blockers] } : {}) };
  }

  private set(next: UpdateStatus): void {
    const changedState = next.state !== this._status.state;
    this._status = next;
    if (changedState) this.log.info(`${next.state}${next.version ? ` ${next.version}` : ''}${next.error ? `: ${next.error}` : ''}${next.reason ? `: ${next.reason}` : ''}`);
    this.emit('change', this.status());
  }

  private readSettings(): Settings['update'] {
    return this.opts.settings();
  }

  private base(): Pick<UpdateStatus, 'channel' | 'currentVersion' | 'checkedAt'> {
    return { channel: this.readSettings().channel, currentVersion: this.opts.currentVersion, checkedAt: this._status.checkedAt };
  }

  /** The channel the running version was installed from (recorded at install), else what its version says. */
  installedChannel(): UpdateChannel {
    try {
      const read = readOwnFile(path.join(this.opts.dataDir, STATE_FILE), { maxBytes: 64 * 1024 });
      if (read.state === 'refused') this.log.warn(`${read.problem.message} It is ignored. To fix it: ${read.problem.fix}`);
      const saved = (read.state === 'read' ? JSON.parse(read.text) : {}) as { version?: string; channel?: string };
      if (saved.version === this.opts.currentVersion && (saved.channel === 'latest' || saved.channel === 'beta')) return saved.channel;
    } catch {
      // No record (first install, or an install Berth did not do): the version decides.
    }
    return channelOfVersion(this.opts.currentVersion);
  }

  /** Channel, downgrade rule, prerelease and feed URL from the settings, onto the updater. */
  private applySettings(u: AppUpdater): Settings['update'] {
    const s = this.readSettings();
    // The channel setter also turns allowDowngrade on; Berth's rule replaces that right after.
    u.channel = s.channel;
    u.allowDowngrade = downgradeAllowed(s.channel, this.installedChannel());
    // Only the GitHub provider reads this; on a generic feed the channel file decides.
    u.allowPrerelease = s.allowPrerelease;
    if (s.url && s.url !== this.customUrl) {
      u.setFeedURL({ provider: 'generic', url: s.url });
      this.customUrl = s.url;
    } else if (!s.url && this.customUrl) {
      // Back to the build's own feed (app-update.yml).
      u.updateConfigPath = null;
      this.customUrl = null;
    }
    return s;
  }

  /**
   * Why the feed a check would use (settings.update.url, else the build's)
   * cannot be used, as a sentence, or null. A settings file edited by hand or
   * BERTH_UPDATE_URL can still name a plain-http server; no request goes there.
   */
  feedProblem(): string | null {
    const url = this.readSettings().url ?? this.opts.buildFeedUrl ?? null;
    const problem = url ? updateUrlProblem(url) : null;
    return problem ? `${problem} (${url}). Berth ${this.opts.currentVersion} keeps running.` : null;
  }

  /**
   * Ask the update server. Resolves with the state after the check (and after
   * the download it starts has begun). Never rejects: failures become the error state.
   */
  check(): Promise<UpdateStatus> {
    if (!this.opts.updater) return Promise.resolve(this.status());
    if (this.checking) return this.checking;
    // A downloaded update stays installable: a check (which could fail) must not replace it.
    if (['downloading', 'ready', 'installing'].includes(this._status.state)) return Promise.resolve(this.status());
    const run = this.runCheck().finally(() => {
      this.checking = null;
    });
    this.checking = run;
    return run;
  }

  private async runCheck(): Promise<UpdateStatus> {
    let settings: Settings['update'];
    let u: AppUpdater;
    try {
      u = this.updater()!;
    } catch (err) {
      this.set({ ...this.base(), state: 'error', error: `electron-updater could not be started: ${(err as Error).message}. Berth ${this.opts.currentVersion} keeps running.` });
      return this.status();
    }
    const refused = this.feedProblem();
    if (refused) {
      this.set({ ...this.base(), checkedAt: new Date().toISOString(), state: 'error', error: refused });
      return this.status();
    }
    try {
      settings = this.applySettings(u);
    } catch (err) {
      this.set({ ...this.base(), state: 'error', error: `The update settings cannot be used: ${(err as Error).message}` });
      return this.status();
    }
    const url = settings.url ?? this.opts.buildFeedUrl ?? null;
    if (!settings.url && isUnconfiguredFeed(this.opts.buildFeedUrl)) {
      // Nothing to ask: no request, no network error.
      this.set({ ...this.base(), checkedAt: new Date().toISOString(), state: 'error', error: noUpdateServerMessage(this.opts.currentVersion) });
      return this.status();
    }
    this.set({ ...this.base(), state: 'checking' });
    this.lastUpdaterError = null;
    let info: UpdateInfo;
    try {
      const result = await u.checkForUpdates();
      const checkedAt = new Date().toISOString();
      if (!result) {
        this.set({ ...this.base(), checkedAt, state: 'disabled', reason: 'electron-updater is not active in this copy of Berth (not packaged).' });
        return this.status();
      }
      if (!result.isUpdateAvailable) {
        this.set({ ...this.base(), checkedAt, state: 'idle' });
        return this.status();
      }
      info = result.updateInfo;
      this.set({ ...this.base(), checkedAt, state: 'available', ...describeRelease(info) });
    } catch (err) {
      this.set({ ...this.base(), checkedAt: new Date().toISOString(), state: 'error', error: describeUpdateError(err, { url, currentVersion: this.opts.currentVersion, phase: 'check' }) });
      return this.status();
    }
    this.set({ ...this.base(), state: 'downloading', ...describeRelease(info), percent: 0 });
    void this.download(u, info, url);
    return this.status();
  }

  private async download(u: AppUpdater, info: UpdateInfo, url: string | null): Promise<void> {
    try {
      await u.downloadUpdate();
      this.set({ ...this.base(), state: 'ready', ...describeRelease(info) });
    } catch (err) {
      this.set({
        ...this.base(),
        state: 'error',
        version: info.version,
        error: describeUpdateError(err, { url, currentVersion: this.opts.currentVersion, version: info.version, phase: 'download' }),
      });
    }
  }

  /** Resolves once the download the last check started has finished (for callers that want to wait). */
  async whenSettled(): Promise<UpdateStatus> {
    if (this.checking) await this.checking;
    if (this._status.state !== 'downloading') return this.status();
    return new Promise((resolve) => {
      const on = (s: UpdateStatus) => {
        if (s.state === 'downloading') return;
        this.off('change', on);
        resolve(s);
      };
      this.on('change', on);
    });
  }

  /**
   * Install the downloaded update: wait for restart blockers (bounded), record
   * the channel, then hand the port over. Rejects when nothing is ready; an
   * install that fails leaves the current version serving and the error state.
   */
  async install(): Promise<void> {
    const u = this.made;
    const s = this._status;
    if (!u || s.state !== 'ready' || !s.version) {
      throw new BerthError(
        s.state === 'installing' ? 'An update is already being installed.' : `No update is ready to install (the update state is ${s.state}). Check for updates first.`,
        ExitCode.usage,
        { state: s.state },
      );
    }
    const version = s.version;
    const release = { version, notes: s.notes, releaseDate: s.releaseDate };
    this.set({ ...this.base(), state: 'installing', ...release, blockers: this.blockers.list() });
    const maxWaitMs = this.opts.blockerWaitMs ?? DEFAULT_BLOCKER_WAIT_MS;
    const waited = await this.blockers.waitUntilClear({
      maxWaitMs,
      onWaiting: (labels) => this.set({ ...this.base(), state: 'installing', ...release, blockers: labels }),
    });
    if (waited.timedOut) this.log.warn(`installing ${version} after waiting ${maxWaitMs >= 1000 ? `${Math.round(maxWaitMs / 1000)} s` : `${maxWaitMs} ms`} for: ${waited.left.join(', ')}`);
    else if (waited.waitedMs > 0) this.log.info(`restart blockers cleared after ${waited.waitedMs} ms; installing ${version}`);
    this.set({ ...this.base(), state: 'installing', ...release, blockers: [] });
    this.recordChannel(version);
    this.lastUpdaterError = null;
    try {
      const packageInstall = this.opts.packageInstall;
      const file = (u as AppUpdater & { installerPath?: string | null }).installerPath;
      await this.opts.hooks.handOver(
        packageInstall && file
          ? { order: 'after-exit', prepare: () => packageInstall(file), start: async () => undefined, relaunchAfter: true }
          : {
              order: this.opts.successorStartsBeforeExit ? 'beside' : 'after-exit',
              start: () =>
                startInstaller(u, {
                  install: this.opts.install ?? defaultInstall,
                  libraryFallbacks: this.opts.libraryFallbacks,
                  lastError: () => this.lastUpdaterError,
                }),
            },
      );
    } catch (err) {
      const cause = this.lastUpdaterError ?? err;
      // The download is still there and the installer can be asked again: back to ready, with what went wrong.
      this.set({ ...this.base(), state: 'ready', ...release, error: describeUpdateError(cause, { currentVersion: this.opts.currentVersion, version, phase: 'install' }) });
      throw err;
    }
  }

  private recordChannel(version: string): void {
    try {
      fs.mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
      writeFileAtomic(path.join(this.opts.dataDir, STATE_FILE), JSON.stringify({ version, channel: this.readSettings().channel }) + '\n');
    } catch (err) {
      // Only the downgrade rule after a channel switch depends on it; the install goes on.
      this.log.warn({ err }, `could not record the update channel in ${this.opts.dataDir}`);
    }
  }

  /** Automatic checks while settings.update.autoCheck is on: once shortly after start, then on an interval. */
  start(): void {
    if (!this.opts.updater || this.firstTimer || this.intervalTimer) return;
    const tick = () => {
      if (this.readSettings().autoCheck) void this.check();
    };
    this.firstTimer = setTimeout(() => {
      this.firstTimer = null;
      tick();
      this.intervalTimer = setInterval(tick, this.opts.checkIntervalMs ?? 4 * 3600_000);
      this.intervalTimer.unref();
    }, this.opts.firstCheckDelayMs ?? 10_000);
    this.firstTimer.unref();
  }

  stop(): void {
    if (this.firstTimer) clearTimeout(this.firstTimer);
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    this.firstTimer = this.intervalTimer = null;
  }
}

function describeRelease(info: UpdateInfo): Pick<UpdateStatus, 'version' | 'notes' | 'releaseDate'> {
  const notes = Array.isArray(info.releaseNotes)
    ? info.releaseNotes.map((n) => `${n.version}: ${n.note ?? ''}`.trim()).join('\n\n')
    : (info.releaseNotes ?? undefined);
  return { version: info.version, ...(notes ? { notes } : {}), ...(info.releaseDate ? { releaseDate: info.releaseDate } : {}) };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
