import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/**
 * Write a file so that a crash at any moment leaves either the old content or
 * the new, never a torn or empty file: write a temp file beside it, fsync it,
 * rename it over the target, then fsync the folder so the rename itself is durable.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
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
