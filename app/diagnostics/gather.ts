/**
 * The pieces of a diagnostics text that come from the data folder, the same
 * whether the running server makes it (routes.ts) or `berth diagnose` does
 * with no server running: paths, settings, the last log lines, the update
 * state file, and the secrets to take out.
 */
import path from 'node:path';
import { readOwnFile } from '../files/read';
import { readableLine } from '../logs/format';
import { LOG_FILE, readPage } from '../logs/reader';
import { HANDOFF_NOTE_FILE, handoffProof } from '../lifecycle/successor-protocol';
import { readToken } from '../server/token';
import { RUNTIME_FILE, registryDir } from '../runtime/record';
import { loadSettings } from '../settings/settings';

/** How many log lines a diagnostics text carries. */
export const LOG_LINES = 200;

export function dataFolderPaths(dataDir: string, logFile: string | null): Record<string, string | null> {
  return {
    'Data folder': dataDir,
    'Settings file': path.join(dataDir, 'settings.json'),
    'Log file': logFile ?? path.join(dataDir, 'logs', LOG_FILE),
    'Runtime file': path.join(dataDir, RUNTIME_FILE),
    'List of running Berths': registryDir(),
    Program: process.argv[1] ? path.resolve(process.argv[1]) : process.execPath,
  };
}

export function settingsOf(dataDir: string): { settings: unknown; warnings: string[] } {
  const loaded = loadSettings(dataDir, { readOnly: true });
  return { settings: loaded.settings, warnings: loaded.warnings };
}

/** The newest lines of the log files, oldest first, as the Logs page shows them, in `timeZone` (default: this computer's). */
export function lastLogLines(dataDir: string, timeZone?: string, count = LOG_LINES): string[] {
  const page = readPage(path.join(dataDir, 'logs'), {}, { limit: count });
  return page.entries.reverse().map((l) => readableLine(l, timeZone));
}

/** update-state.json: which version and channel were installed last (what is known with no server running). */
export function updateStateFile(dataDir: string): Record<string, unknown> | null {
  const read = readOwnFile(path.join(dataDir, 'update-state.json'), { maxBytes: 64 * 1024 });
  if (read.state !== 'read') return null;
  try {
    const v = JSON.parse(read.text) as Record<string, unknown>;
    return { state: 'not running (from update-state.json)', currentVersion: v.version, channel: v.channel };
  } catch {
    return null;
  }
}

/**
 * The values that must never be in the text: the token given, the token file's value (even where the
 * server runs with another, or the CLI would not trust the file), and the secret and proof of any handoff
 * note in the folder.
 */
export function folderSecrets(dataDir: string, token: string | null): string[] {
  let inFile: string | null = null;
  try {
    inFile = readToken(dataDir);
  } catch {
    // a token file Berth does not trust: the shape of a token is still taken out (bundle.ts)
  }
  return [token, inFile, ...handoffNoteSecrets(dataDir)].filter((s): s is string => !!s);
}

/** Every value of a Cookie header (name=value; ...), and an Authorization header's credential. */
export function requestSecrets(headers: { cookie?: string; authorization?: string }): string[] {
  const values = (headers.cookie ?? '')
    .split(';')
    .map((p) => decodeURIComponentSafe(p.slice(p.indexOf('=') + 1).trim()))
    .filter(Boolean);
  const auth = headers.authorization?.replace(/^\S+\s+/, '');
  return auth ? [...values, auth] : values;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** "2026-11-29 11:00:00 +01:00": the moment a text is made. */
export function nowText(timeZone?: string): string {
  return readableLine({ id: '', time: Date.now(), level: 'info', msg: '' }, timeZone).split(' ').slice(0, 3).join(' ').replace(/\.\d{3}/, '');
}

/**
 * The secret of whatever note is in the folder, and the proof made from it,
 * usable or not (old, of an earlier format, readable by others): a note
 * readHandoffNote would ignore still holds a secret that must not be shown,
 * as in a diagnostics text. Read as readHandoffNote (lifecycle/successor-protocol.ts) reads it.
 */
function handoffNoteSecrets(dataDir: string): string[] {
  const got = readOwnFile(path.join(dataDir, HANDOFF_NOTE_FILE), { maxBytes: 256 * 1024, secret: true });
  if (got.state !== 'read') return [];
  let n: { secret?: unknown; instance?: unknown };
  try {
    n = JSON.parse(got.text) as typeof n;
  } catch {
    return [];
  }
  if (typeof n.secret !== 'string' || !n.secret) return [];
  const proof = typeof n.instance === 'string' ? handoffProof(n.instance, n.secret).split(' ')[1]! : null;
  return proof ? [n.secret, proof] : [n.secret];
}
