import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater, ProgressInfo, UpdateInfo } from 'electron-updater';
import type { CancellationToken } from 'builder-util-runtime';
import { BerthError, ExitCode } from '../errors';
import type { Logger } from '../log';
import { writeFileAtomic } from '../files/write';
import { readOwnFile } from '../files/read';
import { updateUrlProblem, type Settings, type UpdateChannel } from '../settings/settings';
import { DEFAULT_BLOCKER_WAIT_MS, RestartBlockers } from './blockers';
import { ResumableDownloads } from './download';
import { refusePlainHttp } from './feed-policy';
import type { UpdateFormat } from './formats/format';
import type { InstallStep } from '../lifecycle/plans';
import { runtime } from './runtime';
import { channelOfVersion, describeInstallFailure, describeUpdateError, downgradeAllowed, isUnconfiguredFeed, noUpdateServerMessage, type UpdateStatus } from './state';
import { makeFolders } from '../files/folder';

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
   * electron-updater's updater for the install format (formats/), or a
   * function that builds it on first use (loading the library costs tens of
   * ms that a relaunching server should not spend before it binds); null
   * when updates are off.
   */
  updater: AppUpdater | (() => AppUpdater) | null;
  /** How a downloaded update is installed (formats/index.ts chooses it). */
  format?: UpdateFormat | null;
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
   * The feed the build uses when settings.update.url is empty (app-update.yml's
   * url): refused like any other plain-http feed, and named in messages. A
   * function reads it from the updater once that exists (the desktop's
   * app-update.yml).
   */
  buildFeedUrl?: string | ((updater: AppUpdater) => string | null);
  /** First automatic check this long after start (default 10 s, so it never slows launch). */
  firstCheckDelayMs?: number;
  /** Then every this long while autoCheck is on (default 4 h). */
  checkIntervalMs?: number;
  /** A download that has received nothing for this long is `stalled` (default 20 s). */
  stallAfterMs?: number;
  log: Logger;
}

export interface UpdateServiceEvents {
  change: [UpdateStatus];
}

const STATE_FILE = 'update-state.json';

const DEFAULT_STALL_AFTER_MS = 20_000;

/**
 * Update orchestration, the same in the desktop app and headless: one state
 * machine (idle, checking, available, downloading, stalled, ready,
 * installing, error, disabled) over electron-updater, settings applied at
 * every check, restart blockers honoured before an install, and the port
 * handed over through the process owner's hooks, as the install format says.
 */
export class UpdateService extends EventEmitter<UpdateServiceEvents> {
  readonly blockers: RestartBlockers;
  private _status: UpdateStatus;
  private checking: Promise<UpdateStatus> | null = null;
  private customUrl: string | null = null;
  private firstTimer: NodeJS.Timeout | null = null;
  private intervalTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private made: AppUpdater | null = null;
  private buildFeed: string | null = null;
  private downloads: ResumableDownloads | null = null;
  /** The download in flight: its cancellation, and its end. */
  private download: { token: CancellationToken; done: Promise<void>; info: UpdateInfo; url: string | null } | null = null;
  private lastBytesAt = 0;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(private readonly opts: UpdateServiceOptions) {
    super();
    this.log = opts.log;
    this.blockers = opts.blockers ?? new RestartBlockers();
    const channel = this.readSettings().channel;
    this._status = opts.updater
      ? { state: 'idle', channel, currentVersion: opts.currentVersion }
      : { state: 'disabled', reason: opts.disabledReason ?? 'Updates are not available in this copy of Berth.', channel, currentVersion: opts.currentVersion };
    if (typeof opts.buildFeedUrl === 'string') this.buildFeed = opts.buildFeedUrl;
  }

  /** The updater, built and wired on first use. */
  private updater(): AppUpdater | null {
    if (this.made || !this.opts.updater) return this.made;
    const u = typeof this.opts.updater === 'function' ? this.opts.updater() : this.opts.updater;
    if (typeof this.opts.buildFeedUrl === 'function') this.buildFeed = this.opts.buildFeedUrl(u);
    // Berth decides when to download and install; the library only does them.
    u.autoDownload = false;
    u.on('download-progress', (p: ProgressInfo) => {
      const st = this._status.state;
      if (st !== 'downloading' && st !== 'stalled') return;
      this.lastBytesAt = performance.now();
      const { error: _stalled, ...rest } = this._status;
      this.set({ ...rest, state: 'downloading', percent: round(p.percent), bytesPerSecond: Math.round(p.bytesPerSecond), transferred: p.transferred, total: p.total });
    });
    this.downloads = new ResumableDownloads(u, {
      note: (text) => {
        const st = this._status.state;
        if (st !== 'downloading' && st !== 'stalled') return;
        const { note: _old, ...rest } = this._status;
        if (text) this.log.info(text);
        this.set(text ? { ...rest, note: text } : rest);
      },
    });
    refusePlainHttp(u, () => this.feedUrl());
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

  /** The feed a check uses now: settings.update.url, else the build's. */
  private feedUrl(): string | null {
    return this.readSettings().url ?? this.buildFeed ?? null;
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
   * cannot be used, as a sentence, or null. A settings file edited by hand,
   * BERTH_UPDATE_URL or a build's app-update.yml can still name a plain-http
   * server; no request goes there.
   */
  feedProblem(): string | null {
    if (this.opts.updater) {
      try {
        this.updater();
      } catch {
        // Said by the check itself.
      }
    }
    const url = this.feedUrl();
    const problem = url ? updateUrlProblem(url) : null;
    return problem ? `${problem} (${url}). Berth ${this.opts.currentVersion} keeps running.` : null;
  }

  /**
   * Ask the update server, also while an update is ready: what the feed
   * offers now wins (a pulled release is dropped, a newer one replaces it).
   * Resolves with the state after the check (and after the download it
   * starts has begun). Never rejects: failures become the error state, or
   * leave a ready update ready with the error.
   */
  check(): Promise<UpdateStatus> {
    if (!this.opts.updater) return Promise.resolve(this.status());
    if (this.checking) return this.checking;
    if (['downloading', 'stalled', 'installing'].includes(this._status.state)) return Promise.resolve(this.status());
    const run = this.runCheck().finally(() => {
      this.checking = null;
    });
    this.checking = run;
    return run;
  }

  private async runCheck(): Promise<UpdateStatus> {
    const ready = this._status.state === 'ready' ? this.status() : null;
    /** A check that cannot be made, or fails: a ready update stays ready (its download is fine), with the reason. */
    const failed = (error: string, checkedAt = new Date().toISOString()) => {
      if (ready) this.set({ ...ready, checkedAt, error });
      else this.set({ ...this.base(), checkedAt, state: 'error', error });
      return this.status();
    };
    let u: AppUpdater;
    try {
      u = this.updater()!;
    } catch (err) {
      return failed(`electron-updater could not be started: ${(err as Error).message}. Berth ${this.opts.currentVersion} keeps running.`, this._status.checkedAt);
    }
    const refused = this.feedProblem();
    if (refused) return failed(refused);
    let settings: Settings['update'];
    try {
      settings = this.applySettings(u);
    } catch (err) {
      return failed(`The update settings cannot be used: ${(err as Error).message}`, this._status.checkedAt);
    }
    const url = settings.url ?? this.buildFeed ?? null;
    // Nothing to ask: no request, no network error.
    if (!settings.url && isUnconfiguredFeed(this.buildFeed)) return failed(noUpdateServerMessage(this.opts.currentVersion));
    this.set({ ...this.base(), state: 'checking' });
    let info: UpdateInfo;
    try {
      const result = await u.checkForUpdates();
      const checkedAt = new Date().toISOString();
      if (!result) {
        this.set({ ...this.base(), checkedAt, state: 'disabled', reason: 'electron-updater is not active in this copy of Berth (not packaged).' });
        return this.status();
      }
      if (!result.isUpdateAvailable) {
        if (ready) await this.dropDownload(u, `${ready.version} is no longer offered (the update server offers ${result.updateInfo.version}); its download is dropped`);
        this.set({ ...this.base(), checkedAt, state: 'idle' });
        return this.status();
      }
      info = result.updateInfo;
      if (ready && ready.version === info.version) {
        // Still the same release: the download is checked against what the feed says now, and stays.
        await u.downloadUpdate();
        const { error: _old, ...still } = ready;
        this.set({ ...still, checkedAt });
        return this.status();
      }
      if (ready) this.log.info(`${ready.version} was superseded by ${info.version}`);
      this.set({ ...this.base(), checkedAt, state: 'available', ...describeRelease(info) });
    } catch (err) {
      return failed(describeUpdateError(err, { url, currentVersion: this.opts.currentVersion, phase: 'check' }));
    }
    this.startDownload(u, info, url);
    return this.status();
  }

  /** Forget a downloaded update: nothing can install it any more. */
  private async dropDownload(u: AppUpdater, why: string): Promise<void> {
    this.log.warn(why);
    const helper = (u as unknown as { downloadedUpdateHelper?: { clear(): Promise<void> } | null }).downloadedUpdateHelper;
    await helper?.clear().catch((err: Error) => this.log.warn(`the dropped download could not be removed: ${err.message}`));
  }

  private startDownload(u: AppUpdater, info: UpdateInfo, url: string | null): void {
    const token = new (runtime().CancellationToken)();
    this.set({ ...this.base(), state: 'downloading', ...describeRelease(info), percent: 0 });
    this.lastBytesAt = performance.now();
    this.watch();
    const done = (async () => {
      try {
        await u.downloadUpdate(token);
        if (this.download?.token !== token) return;
        this.set({ ...this.base(), state: 'ready', ...describeRelease(info) });
      } catch (err) {
        if (this.download?.token !== token) return;
        if (err instanceof runtime().CancellationError) {
          this.set({ ...this.base(), state: 'available', ...describeRelease(info) });
          return;
        }
        this.set({
          ...this.base(),
          state: 'error',
          version: info.version,
          error: describeUpdateError(err, { url, currentVersion: this.opts.currentVersion, version: info.version, phase: 'download', unwritable: this.downloadFolder(u, err) }),
        });
      } finally {
        if (this.download?.token === token) this.download = null;
        if (!this.download) this.unwatch();
      }
    })();
    this.download = { token, done, info, url };
  }

  /**
   * Where electron-updater keeps downloads, when writing there is what failed:
   * tried for real (a file made and removed), because a read-only mount or a
   * full disk shows itself under several error codes.
   */
  private downloadFolder(u: AppUpdater, err: unknown): { dir: string; code: string } | null {
    const dir = (u as unknown as { downloadedUpdateHelper?: { cacheDir: string } | null }).downloadedUpdateHelper?.cacheDir;
    if (!dir || !(err as NodeJS.ErrnoException)?.syscall) return null;
    let existing = dir;
    while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
    try {
      fs.rmdirSync(fs.mkdtempSync(path.join(existing, '.berth-write-test-')));
      return null;
    } catch (probe) {
      return { dir, code: (probe as NodeJS.ErrnoException).code ?? 'EIO' };
    }
  }

  /** While downloading: no byte for stallAfterMs is `stalled`, and bytes again are `downloading` (the progress handler). */
  private watch(): void {
    if (this.watchdog) return;
    const bound = this.opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS;
    this.watchdog = setInterval(() => {
      const quiet = performance.now() - this.lastBytesAt;
      if (this._status.state === 'downloading' && quiet >= bound) {
        const url = this.download?.url;
        const secs = Math.round(quiet / 1000);
        this.set({
          ...this._status,
          state: 'stalled',
          error: `The update server${url ? ` (${url})` : ''} has sent nothing for ${secs >= 1 ? `${secs} s` : `${Math.round(quiet)} ms`}. Retry, or Cancel and check again later. Berth ${this.opts.currentVersion} keeps running.`,
        });
      }
    }, Math.max(50, Math.min(1000, bound / 4)));
    this.watchdog.unref();
  }

  private unwatch(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /**
   * Retry: a stalled download reconnects and resumes where it stopped; a
   * cancelled or failed one starts again. Resolves with the state once that
   * has begun.
   */
  async retryDownload(): Promise<UpdateStatus> {
    const u = this.made;
    const st = this._status.state;
    if (u && (st === 'stalled' || st === 'downloading') && this.download) {
      this.lastBytesAt = performance.now();
      if (this.downloads?.reconnect()) {
        const { error: _e, ...rest } = this._status;
        this.set({ ...rest, state: 'downloading' });
        return this.status();
      }
      // A download that cannot reconnect in place (a differential one): from the start.
      const { info, url } = this.download;
      await this.cancelDownload();
      this.startDownload(u, info, url);
      return this.status();
    }
    const info = (u as unknown as { updateInfoAndProvider?: { info: UpdateInfo } | null } | null)?.updateInfoAndProvider?.info;
    if (u && info && (st === 'available' || (st === 'error' && this._status.version === info.version))) {
      this.startDownload(u, info, this.feedUrl());
      return this.status();
    }
    return this.check();
  }

  /** Cancel the download in flight: what it wrote is removed, and the update is `available` again. */
  async cancelDownload(): Promise<UpdateStatus> {
    const d = this.download;
    if (!d) return this.status();
    d.token.cancel();
    await d.done;
    return this.status();
  }

  /** Resolves once the check and the download it started have finished (for callers that want to wait). */
  async whenSettled(): Promise<UpdateStatus> {
    if (this.checking) await this.checking;
    const busy = (st: string) => st === 'downloading' || st === 'stalled' || st === 'checking';
    if (!busy(this._status.state)) return this.status();
    return new Promise((resolve) => {
      const on = (s: UpdateStatus) => {
        if (busy(s.state)) return;
        this.off('change', on);
        resolve(s);
      };
      this.on('change', on);
    });
  }

  /**
   * Install the downloaded update: wait for restart blockers (bounded), record
   * the channel, then hand the port over as the install format says. Rejects
   * when nothing is ready; an install that fails leaves the current version
   * serving, the download ready for another try, and the reason.
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
    const format = this.opts.format;
    if (!format) throw new BerthError('This copy of Berth has no way to install updates (no install format).', ExitCode.unexpected);
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
    let attempt: ReturnType<UpdateFormat['installStep']> | null = null;
    try {
      attempt = format.installStep(u, { version, currentVersion: this.opts.currentVersion });
      await this.opts.hooks.handOver(attempt);
    } catch (err) {
      attempt?.failed?.();
      // electron-updater ignores install() once one was asked for ("quitAndInstallCalled is set"): the next Restart to update must run.
      (u as unknown as { quitAndInstallCalled?: boolean }).quitAndInstallCalled = false;
      const reason = err instanceof BerthError && typeof err.details.failed === 'string' ? err.details.failed : err instanceof Error ? err.message : String(err);
      this.set({ ...this.base(), state: 'ready', ...release, error: describeInstallFailure(reason, { version, currentVersion: this.opts.currentVersion }) });
      throw err;
    }
    attempt.served?.();
  }

  private recordChannel(version: string): void {
    try {
      makeFolders(this.opts.dataDir);
      writeFileAtomic(path.join(this.opts.dataDir, STATE_FILE), JSON.stringify({ version, channel: this.readSettings().channel }) + '\n');
    } catch (err) {
      // Only the downgrade rule after a channel switch depends on it; the install goes on.
      this.log.warn({ err }, `could not record the update channel in ${this.opts.dataDir}`);
    }
  }

  /**
   * Once serving: finish what an install by a predecessor left (the format's
   * settle), then automatic checks while settings.update.autoCheck is on,
   * once shortly after start, then on an interval, whatever the state.
   */
  start(): void {
    if (!this.opts.updater || this.firstTimer || this.intervalTimer) return;
    try {
      this.opts.format?.settle?.(this.opts.currentVersion);
    } catch (err) {
      this.log.warn(`finishing the last update failed: ${(err as Error).message}`);
    }
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
    this.unwatch();
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
