import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../errors';
import { isRunning } from '../processes';
import { randomBytes } from '../random';

const CAUSES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'the operation is not permitted (the file or folder may be immutable or locked)',
  ENOENT: 'the folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'a folder is in the way',
  ELOOP: 'a symbolic link is in the way',
  EEXIST: 'something is already there',
  EIO: 'an input/output error (a failing disk?)',
  EFBIG: 'the file is larger than this process or file system allows',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EBUSY: 'the file is in use',
};

/** An fs error in words a person can act on, with its code: "the disk is full (ENOSPC)". */
export function describeFsError(err: unknown): string {
  const code = errorCode(err);
  if (code && CAUSES[code]) return `${CAUSES[code]} (${code})`;
  return code ?? (err instanceof Error ? err.message : String(err));
}

/** The HTTP status for a failed save: 507 Insufficient Storage for a full disk, else 500. */
export function httpStatusForFsError(err: unknown): number {
  const code = errorCode(err);
  return code === 'ENOSPC' || code === 'EDQUOT' ? 507 : 500;
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  // A short write (a disk filling up) is followed by the call that reports why.
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
}

/**
 * Write `data` to a fresh temp file beside `file` and make it durable. The
 * temp is created exclusively (O_EXCL never follows a planted link), and is
 * removed again on any failure: a full disk leaves nothing behind.
 */
function writeTemp(file: string, data: string, mode: number, durable: boolean): string {
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    writeAll(fd, Buffer.from(data, 'utf8'));
    if (durable) fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  try {
    fs.closeSync(fd);
  } catch (err) {
    // close can report a deferred write error (NFS): the temp is not trustworthy
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  return tmp;
}

export interface WriteOptions {
  /**
   * fsync the file and its folder (default true). False for a file whose loss
   * in a power cut costs little and whose write sits on a hot path (the
   * handoff note, written between closing the listener and the successor's bind).
   */
  durable?: boolean;
}

/**
 * Write a file so that a crash at any moment leaves either the old content or
 * the new, never a torn or empty file: write a temp file beside it, fsync it,
 * rename it over the target, then fsync the folder so the rename itself is
 * durable. Every failure removes the temp file before it is reported.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600, opts: WriteOptions = {}): void {
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  removeStaleTemps(dir, path.basename(file));
  const tmp = writeTemp(file, data, mode, durable);
  try {
    // rename replaces a link at `file` itself; it never writes through it.
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (durable) syncDir(dir);
}

/**
 * Create `file` with `data` only if nothing is there yet (EEXIST otherwise),
 * atomically: other readers see no file or the whole file, never an empty
 * one, and a failure (a full disk) leaves no file at all. The temp file is
 * hard-linked into place, which fails if the name is taken, like O_EXCL.
 */
export function createFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  removeStaleTemps(dir, path.basename(file));
  const tmp = writeTemp(file, data, mode, true);
  try {
    try {
      fs.linkSync(tmp, file);
    } catch (err) {
      // File systems without hard links (FAT, some network shares): a rename is atomic but replaces, so look first.
      if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'].includes(errorCode(err) ?? '')) throw err;
      if (exists(file)) throw Object.assign(new Error(`EEXIST: file already exists, link '${tmp}' -> '${file}'`), { code: 'EEXIST' });
      fs.renameSync(tmp, file);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  syncDir(dir);
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * A save killed before its rename leaves its temp file behind (the target is
 * intact). Remove those of processes that no longer run, so crashes do not
 * pile them up; a temp of a live process is a save in progress and is left alone.
 * They only ever hold a copy of data that was being written, never the only copy.
 */
export function removeStaleTemps(dir: string, base: string): number {
  const prefix = `.${base}.`;
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || isRunning(Number(m[1]))) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed++;
    } catch {
      // read-only folder: the save itself will report it
    }
  }
  return removed;
}

function syncDir(dir: string): void {
  // Windows: directories cannot be opened for fsync; NTFS journals the rename.
  if (process.platform === 'win32') return;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename already happened.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
