/**
 * Where a running Berth can be found, written down while it serves:
 *
 * - `runtime.json` in its data folder, so `berth status --data-dir X` (and
 *   open, stop, restart) reach the Berth of that folder wherever it serves;
 * - one entry per process in a per-user folder (the registry), so `berth
 *   list` can show every Berth of this user, as `jupyter server list` does.
 *
 * Both hold only what /health already publishes, plus the data folder: no
 * token, no secret. Entries of processes that are gone are ignored and
 * removed by whoever reads them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorCode } from '../errors';
import { makeFolders } from '../files/folder';
import { readOwnFile } from '../files/read';
import { currentRunner, factsOf, judgeEntry } from '../files/trust';
import { writeFileAtomic } from '../files/write';
import { isRunning } from '../processes';

export const RUNTIME_FILE = 'runtime.json';
/** Overrides where the registry is (tests, and several users of one account that want their own lists). */
export const RUNTIME_DIR_ENV = 'BERTH_RUNTIME_DIR';

export interface RunningRecord {
  app: 'berth';
  pid: number;
  instance: string;
  version: string;
  /** Where to open it on this machine. */
  url: string;
  /** The host and port it was started or moved to (what `--host`/`--port` would say). */
  host: string;
  port: number;
  dataDir: string;
  startedAt: string;
  /** The desktop app (true) or `berth serve` (false). */
  desktop: boolean;
}

/**
 * The per-user registry: BERTH_RUNTIME_DIR, else the place each system keeps
 * a user's runtime files. Linux: $XDG_RUNTIME_DIR (a 0700 tmpfs per login,
 * emptied at logout), else ~/.local/state; macOS: ~/Library/Caches;
 * Windows: %LOCALAPPDATA%.
 */
export function registryDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = os.homedir()): string {
  if (env[RUNTIME_DIR_ENV]) return path.resolve(env[RUNTIME_DIR_ENV]!);
  if (platform === 'win32') return path.win32.join(env.LOCALAPPDATA || path.win32.join(home, 'AppData', 'Local'), 'Berth', 'running');
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', 'Berth', 'running');
  if (env.XDG_RUNTIME_DIR) return path.posix.join(env.XDG_RUNTIME_DIR, 'berth');
  return path.posix.join(env.XDG_STATE_HOME || path.posix.join(home, '.local', 'state'), 'berth', 'running');
}

const MAX_BYTES = 64 * 1024;

/** A record read from disk, checked field by field: it may be from another version, or damaged. */
export function parseRecord(text: string): RunningRecord | null {
  let v: Partial<RunningRecord>;
  try {
    v = JSON.parse(text) as Partial<RunningRecord>;
  } catch {
    return null;
  }
  if (!v || v.app !== 'berth' || !Number.isInteger(v.pid) || v.pid! <= 0) return null;
  if (typeof v.url !== 'string' || typeof v.host !== 'string' || !Number.isInteger(v.port) || typeof v.dataDir !== 'string') return null;
  if (typeof v.instance !== 'string' || typeof v.version !== 'string') return null;
  return {
    app: 'berth',
    pid: v.pid!,
    instance: v.instance,
    version: v.version,
    url: v.url,
    host: v.host,
    port: v.port!,
    dataDir: v.dataDir,
    startedAt: typeof v.startedAt === 'string' ? v.startedAt : '',
    desktop: v.desktop === true,
  };
}

function readRecord(file: string): RunningRecord | null | 'refused' {
  const read = readOwnFile(file, { maxBytes: MAX_BYTES });
  if (read.state === 'refused') return 'refused';
  return read.state === 'read' ? parseRecord(read.text) : null;
}

/**
 * The registry folder, made 0700 if it is not there. Null when it cannot be
 * used: it belongs to someone else, others can write in it, or it cannot be made.
 */
function usableRegistry(dir: string, create: boolean): string | null {
  try {
    if (create) makeFolders(dir, 0o700);
    const problem = judgeEntry(dir, factsOf(fs.lstatSync(dir)), currentRunner(), { expect: 'dir' });
    return problem ? null : dir;
  } catch {
    return null;
  }
}

function entryFile(dir: string, pid: number): string {
  return path.join(dir, `${pid}.json`);
}

/** Write this process's record: the data folder's runtime file and its registry entry. Never throws: both are conveniences. */
export function writeRecord(rec: RunningRecord, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  const text = JSON.stringify(rec, null, 2) + '\n';
  try {
    // Rewritten on a move and after every start: losing it in a power cut costs nothing, so no fsync.
    writeFileAtomic(path.join(rec.dataDir, RUNTIME_FILE), text, 0o600, { durable: false });
  } catch (err) {
    problems.push(`${path.join(rec.dataDir, RUNTIME_FILE)} could not be written (${errorCode(err) ?? String(err)})`);
  }
  const dir = usableRegistry(registryDir(env), true);
  if (!dir) {
    problems.push(`the list of running Berths (${registryDir(env)}) is not usable`);
    return problems;
  }
  try {
    writeFileAtomic(entryFile(dir, rec.pid), text, 0o600, { durable: false });
  } catch (err) {
    problems.push(`${entryFile(dir, rec.pid)} could not be written (${errorCode(err) ?? String(err)})`);
  }
  return problems;
}

/** Remove what `writeRecord` wrote for `pid`; the runtime file only while it still names that process (a successor may have written its own). */
export function removeRecord(dataDir: string, pid: number, env: NodeJS.ProcessEnv = process.env): void {
  const runtime = path.join(dataDir, RUNTIME_FILE);
  const current = readRecord(runtime);
  if (current && current !== 'refused' && current.pid === pid) fs.rmSync(runtime, { force: true });
  const dir = usableRegistry(registryDir(env), false);
  if (dir) fs.rmSync(entryFile(dir, pid), { force: true });
}

/** The Berth that serves from `dataDir`, from its runtime file, if that process still runs. */
export function readRuntimeFile(dataDir: string): RunningRecord | null {
  const rec = readRecord(path.join(dataDir, RUNTIME_FILE));
  if (!rec || rec === 'refused' || !isRunning(rec.pid)) return null;
  return rec;
}

/**
 * Every Berth of this user whose process still runs, oldest first. Entries
 * of processes that are gone are removed on the way; so is any entry that
 * is not a record (a damaged or foreign file cannot pose as a Berth).
 */
export function listRecords(env: NodeJS.ProcessEnv = process.env): RunningRecord[] {
  const dir = usableRegistry(registryDir(env), false);
  if (!dir) return [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const found: RunningRecord[] = [];
  for (const name of names) {
    const m = /^(\d+)\.json$/.exec(name);
    if (!m) continue;
    const file = path.join(dir, name);
    const rec = readRecord(file);
    if (rec === 'refused') continue;
    if (!rec || rec.pid !== Number(m[1]) || !isRunning(rec.pid)) {
      forget(file);
      continue;
    }
    found.push(rec);
  }
  return found.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.pid - b.pid);
}

/** An entry that turned out not to be a running Berth. */
export function forgetEntry(pid: number, env: NodeJS.ProcessEnv = process.env): void {
  const dir = usableRegistry(registryDir(env), false);
  if (dir) forget(entryFile(dir, pid));
}

function forget(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // read-only: the next reader skips it again
  }
}
