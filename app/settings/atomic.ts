import fs from 'node:fs';
import path from 'node:path';
import { isRunning } from '../errors';

/**
 * Write a file so that a crash at any moment leaves either the old content or
 * the new, never a torn or empty file: write a temp file beside it, fsync it,
 * rename it over the target, then fsync the folder so the rename itself is durable.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  removeStaleTemps(dir, path.basename(file));
  // Unique among this process's writers; no need for node:crypto, which reading settings would then load too.
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(16).slice(2, 10).padEnd(8, '0')}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
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
