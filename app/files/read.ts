import fs from 'node:fs';
import { errorCode } from '../errors';
import { currentRunner, factsOf, judgeEntry, judgeFolderOf, type Runner, type TrustProblem } from './trust';
import { describeFsError } from './write';

export type ReadOutcome =
  | { state: 'read'; text: string; stat: fs.Stats }
  | { state: 'missing' }
  /** Not Berth's to trust: a link, a FIFO, someone else's file, or one others can change. */
  | { state: 'refused'; problem: TrustProblem }
  | { state: 'too-large'; size: number; limit: number }
  /** Could not be read for another reason (EACCES, EIO...): `cause` says it in words. */
  | { state: 'failed'; code: string; cause: string };

export interface ReadOptions {
  /** Larger files are not read at all. */
  maxBytes: number;
  /** The file holds a secret (see JudgeOptions.secret). */
  secret?: boolean;
  runner?: Runner;
}

// O_NOFOLLOW: a symbolic link in the last component fails the open (ELOOP) instead of being followed.
// O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; fstat then refuses it.
// Windows has neither (both are 0 there); it is checked by lstat before and fstat after the open.
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

function lstatOrNull(file: string): fs.Stats | null {
  try {
    return fs.lstatSync(file);
  } catch {
    return null;
  }
}

/**
 * Read one of Berth's own files so that it cannot be redirected or swapped:
 * open without following links, then check what was actually opened (fstat:
 * a regular file, ours, not writable by others, within `maxBytes`), and check
 * its folder too. Never throws; never hangs on a FIFO.
 */
export function readOwnFile(file: string, opts: ReadOptions): ReadOutcome {
  const runner = opts.runner ?? currentRunner();
  const judge = (st: fs.Stats) => judgeEntry(file, factsOf(st), runner, { expect: 'file', secret: opts.secret });
  const folder = judgeFolderOf(file, runner);
  if (folder) return { state: 'refused', problem: folder };
  const before = process.platform === 'win32' ? lstatOrNull(file) : null;
  if (before?.isSymbolicLink()) return { state: 'refused', problem: judge(before)! };
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (err) {
    const code = errorCode(err) ?? 'unknown';
    if (code === 'ENOENT') return { state: 'missing' };
    // ELOOP (Linux, macOS) / EMLINK (FreeBSD): a link; ENXIO: a socket; EACCES: maybe someone else's.
    const st = lstatOrNull(file);
    const problem = st ? judge(st) : null;
    if (problem) return { state: 'refused', problem };
    return { state: 'failed', code, cause: describeFsError(err) };
  }
  try {
    const st = fs.fstatSync(fd);
    const problem = judge(st);
    if (problem) return { state: 'refused', problem };
    // Windows: the file opened must be the one looked at (a swap in between would be a different file id).
    if (before && before.ino !== 0 && st.ino !== before.ino) {
      return { state: 'refused', problem: { path: file, kind: 'symlink', message: `${file} changed while Berth was opening it.`, fix: 'start Berth again' } };
    }
    if (st.size > opts.maxBytes) return { state: 'too-large', size: st.size, limit: opts.maxBytes };
    // Read at most one byte past the limit: a file still growing is refused too.
    const buf = Buffer.allocUnsafe(opts.maxBytes + 1);
    let size = 0;
    for (;;) {
      if (size === buf.length) break;
      const n = fs.readSync(fd, buf, size, buf.length - size, null);
      if (n === 0) break;
      size += n;
    }
    if (size > opts.maxBytes) return { state: 'too-large', size, limit: opts.maxBytes };
    return { state: 'read', text: buf.subarray(0, size).toString('utf8'), stat: st };
  } catch (err) {
    return { state: 'failed', code: errorCode(err) ?? 'unknown', cause: describeFsError(err) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Human words for a size: "40.0 MB", "512 bytes". */
export function sizeWords(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)} MB`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)} kB`;
  return `${n} bytes`;
}
