/**
 * The update state the API, the tray and the web UI show, and the pure
 * decisions behind it (which channel a version belongs to, whether a
 * downgrade is allowed, what an updater error means to a person). No I/O here.
 */
import type { UpdateChannel } from '../settings/settings';

export type UpdateStateName = 'idle' | 'checking' | 'available' | 'downloading' | 'stalled' | 'ready' | 'installing' | 'error' | 'disabled';

export interface UpdateStatus {
  state: UpdateStateName;
  /** The version offered (available, downloading, ready, installing), or the one that failed. */
  version?: string;
  notes?: string;
  releaseDate?: string;
  /** downloading, stalled: 0-100, and bytes so far of the whole. */
  percent?: number;
  bytesPerSecond?: number;
  transferred?: number;
  total?: number;
  /** downloading: something to know about it ("the download starts again from the beginning"). */
  note?: string;
  /**
   * error: what went wrong and what to do about it. Also on `ready` after a
   * failed install or a check that failed (the download is still there), and
   * on `stalled` (how long nothing came).
   */
  error?: string;
  /** disabled: why this copy cannot update itself. */
  reason?: string;
  /** installing: what the install is waiting for (restart blockers), empty once it proceeds. */
  blockers?: string[];
  /** When the last check finished (ISO time), whatever its outcome. */
  checkedAt?: string;
  channel: UpdateChannel;
  currentVersion: string;
}

/** The channel a version belongs to when nothing else says: a prerelease (1.2.0-beta.1) is beta. */
export function channelOfVersion(version: string): UpdateChannel {
  const core = version.split('+', 1)[0]!;
  return core.includes('-') ? 'beta' : 'latest';
}

/**
 * A downgrade is allowed only when the user has switched channel since the
 * running version was installed (beta 1.3.0-beta.2 -> latest 1.2.4). On the
 * same channel an older version on the server is never installed: a rollback
 * is published as a higher version number.
 */
export function downgradeAllowed(wantedChannel: UpdateChannel, installedChannel: UpdateChannel): boolean {
  return wantedChannel !== installedChannel;
}

/** What electron-updater's errors carry. */
interface UpdaterError {
  message?: string;
  code?: string;
  statusCode?: number;
}

export interface ErrorContext {
  /** The feed the check used, for messages about the server. */
  url?: string | null;
  currentVersion: string;
  /** The version being downloaded or installed, when there is one. */
  version?: string;
  phase: 'check' | 'download' | 'install';
  /** The download folder, when it cannot be written, and why (an fs error code). */
  unwritable?: { dir: string; code: string } | null;
}

/**
 * Whether a feed URL is the placeholder a build without an update server
 * carries: a `.invalid` name (RFC 2606) never resolves, so asking it only
 * produces a network error that would send the person to check their network.
 */
export function isUnconfiguredFeed(url: string | null | undefined): boolean {
  if (!url) return false;
  try {
    return new URL(url).hostname.endsWith('.invalid');
  } catch {
    return false;
  }
}

export function noUpdateServerMessage(currentVersion: string): string {
  return `No update server is configured for this build. Enter one under Settings (Update server), or install a release of Berth, which has one built in. Berth ${currentVersion} keeps running.`;
}

/**
 * Turn an electron-updater error into a sentence a person can act on. Every
 * message says that the running version is untouched, because it is.
 */
export function describeUpdateError(err: unknown, ctx: ErrorContext): string {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as UpdaterError;
  const raw = firstLine(e.message ?? String(err));
  const server = ctx.url ? `the update server (${ctx.url})` : 'the update server';
  const keep = `Berth ${ctx.currentVersion} keeps running.`;
  const code = e.code ?? '';
  // The feed named in the error may be the build's placeholder even where ctx.url is unknown (the desktop reads app-update.yml).
  if (isUnconfiguredFeed(ctx.url) || /\b[a-z0-9.-]+\.invalid\b/i.test(raw)) return noUpdateServerMessage(ctx.currentVersion);
  if (code === 'ERR_UPDATER_CHANNEL_FILE_NOT_FOUND') {
    const file = /channel "([^"]+)"/.exec(e.message ?? '')?.[1];
    return `${cap(server)} has no ${file ?? 'update information for this channel'} (HTTP 404). Check the update URL and channel in Settings. ${keep}`;
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) || /timed out/i.test(raw)) {
    return `Could not reach ${server}: ${code || raw}. Check your network connection or the update URL in Settings. ${keep}`;
  }
  if (code === 'ERR_CHECKSUM_MISMATCH') {
    return `The download of Berth ${ctx.version ?? 'update'} did not match its published sha512 checksum and was discarded. ${keep} If this repeats, the files on ${server} are inconsistent; tell the maintainers.`;
  }
  if (code === 'ERR_UPDATER_INVALID_UPDATE_INFO' || code === 'ERR_UPDATER_INVALID_VERSION' || code === 'ERR_UPDATER_NO_FILES_PROVIDED' || code === 'ERR_UPDATER_NO_CHECKSUM') {
    return `${cap(server)} published update information Berth cannot use (${code}: ${raw}). ${keep}`;
  }
  if (typeof e.statusCode === 'number') {
    return `${cap(server)} answered HTTP ${e.statusCode} during the ${ctx.phase}. ${keep}`;
  }
  const status = /status (\d{3})/.exec(raw)?.[1];
  if (status) return `${cap(server)} answered HTTP ${status} while downloading Berth ${ctx.version ?? 'update'}. ${keep}`;
  if (code === 'ERR_BERTH_PLAIN_HTTP' || code === 'ERR_BERTH_DOWNLOAD_DROPPED') {
    return `${ctx.phase === 'check' ? 'Checking for updates' : `Downloading Berth ${ctx.version ?? 'update'}`} failed: ${raw}. ${keep}`;
  }
  if (ctx.unwritable) {
    const why = { EROFS: 'read-only file system', EACCES: 'permission denied', EPERM: 'permission denied', ENOSPC: 'the disk is full', EDQUOT: 'the disk quota is used up' }[ctx.unwritable.code] ?? ctx.unwritable.code;
    return `Berth cannot write to its download folder ${ctx.unwritable.dir} (${why}). Make it writable, or free space on its disk, then check again. ${keep}`;
  }
  if (code === 'ERR_UPDATER_OLD_FILE_NOT_FOUND') {
    return `This copy of Berth cannot replace itself: ${raw}. Reinstall Berth from its download page. ${keep}`;
  }
  const what = ctx.phase === 'check' ? 'Checking for updates failed' : ctx.phase === 'download' ? `Downloading Berth ${ctx.version ?? 'update'} failed` : `Installing Berth ${ctx.version ?? 'update'} failed`;
  return `${what}: ${raw}${code && !raw.includes(code) ? ` (${code})` : ''}. ${keep}`;
}

/**
 * Why an install failed, as the person reads it. `reason` is the format's own
 * sentence ("Squirrel.Mac could not install Berth 1.0.1: ...", capitalised)
 * or the handover's account of it ("the new process exited with code 3").
 */
export function describeInstallFailure(reason: string, ctx: { version: string; currentVersion: string }): string {
  const r = reason.trim().replace(/\.$/, '');
  const keep = `Berth ${ctx.currentVersion} keeps running.`;
  return /^[A-Z]/.test(r) ? `${r}. ${keep}` : `Installing Berth ${ctx.version} failed: ${r}. ${keep}`;
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0]!.trim().replace(/[.:]$/, '');
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
