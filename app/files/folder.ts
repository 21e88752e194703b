import fs from 'node:fs';
import path from 'node:path';
import { BerthError, ExitCode, errorCode } from '../errors';
import { describeFsError } from './write';

/**
 * `mkdir -p`, one level at a time from the first missing folder down, so
 * every failure is final and names the folder that could not be made.
 *
 * Node's own `mkdirSync(p, { recursive: true })` never returns for a path
 * under /proc (and other file systems that answer ENOENT for a child they
 * cannot hold): it reads ENOENT as "the parent is missing", makes the
 * parent (EEXIST, fine), tries the child again, and spins at full CPU.
 */
export function makeFolders(dir: string, mode = 0o700): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    try {
      const st = fs.statSync(at);
      if (!st.isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: at });
      break;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err;
      const parent = path.dirname(at);
      missing.push(at);
      if (parent === at) break;
      at = parent;
    }
  }
  for (const folder of missing.reverse()) {
    try {
      fs.mkdirSync(folder, { mode });
    } catch (err) {
      // Another process made it meanwhile: as good as ours (the trust check looks at who owns it).
      if (errorCode(err) === 'EEXIST' && fs.statSync(folder).isDirectory()) continue;
      throw err;
    }
  }
}

/**
 * What `berth serve` needs of its data folder before anything else: that it
 * is a folder this user can open, or can be made one. Any other path (under
 * /proc, a file, a device, a folder without permission) is refused at once,
 * naming the folder, with exit 2. A folder Berth can read but not write in is
 * used as it is: Berth serves with what is there and says what it cannot save.
 */
export function checkDataFolder(dataDir: string, from = '--data-dir'): void {
  const refuse = (why: string) =>
    new BerthError(`Berth cannot use ${dataDir} as its data folder: ${why}. Choose another folder with ${from === '--data-dir' ? '--data-dir' : `${from} or --data-dir`}.`, ExitCode.usage, {
      dataDir,
      problem: why,
    });
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dataDir);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw refuse(`it cannot be looked at (${describeFsError(err)})`);
  }
  if (st && !st.isDirectory()) throw refuse(`it is ${st.isFile() ? 'a file' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a folder'}`);
  if (!st) {
    try {
      makeFolders(dataDir);
    } catch (err) {
      const where = (err as NodeJS.ErrnoException).path ?? dataDir;
      // The parent is there, yet the child is "not found": a file system that holds no new folders (/proc, /sys).
      if (errorCode(err) === 'ENOENT') throw refuse(`${path.dirname(where)} does not take new folders (ENOENT)`);
      throw refuse(`${where === dataDir ? 'it' : where} cannot be created: ${describeFsError(err)}`);
    }
  }
  try {
    fs.accessSync(dataDir, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    throw refuse(`this user cannot open it (${describeFsError(err)})`);
  }
}
