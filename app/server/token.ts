import fs from 'node:fs';
import path from 'node:path';
import { BerthError, ExitCode, errorCode } from '../errors';
import { readOwnFile, type ReadOutcome } from '../files/read';
import { FileRefused } from '../files/trust';
import { createFileAtomic, describeFsError } from '../files/write';
import { randomBytes } from '../random';
import { makeFolders } from '../files/folder';

export const TOKEN_FILE = 'auth-token';

/** A token is 43 characters; a file much larger than that is not a token file and is not read. */
const MAX_TOKEN_BYTES = 4096;

export interface TokenResult {
  token: string;
  file: string;
  /** Set when the token is not (or no longer) as it should be on disk; the message says what was done. */
  warning?: string;
  /** False when the token lives only in memory (read-only data dir): CLI commands cannot authenticate. */
  persisted: boolean;
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

const isToken = (t: string) => /^[A-Za-z0-9_-]{32,}$/.test(t);

function readTokenFile(file: string): ReadOutcome {
  return readOwnFile(file, { maxBytes: MAX_TOKEN_BYTES, secret: true });
}

/**
 * The per-user secret that state-changing requests must carry. Created 0600
 * on first start, atomically (never an empty file, even on a full disk); a
 * file of ours others can read is tightened, not replaced (the running UI and
 * scripts keep working); a read-only data dir gets an in-memory token. A token
 * file another account owns or can write is refused (FileRefused): its value
 * may be one they know.
 */
export function ensureToken(dataDir: string): TokenResult {
  const file = path.join(dataDir, TOKEN_FILE);
  const read = readTokenFile(file);
  switch (read.state) {
    case 'refused':
      throw new FileRefused(read.problem);
    case 'failed':
      return {
        token: newToken(),
        file,
        persisted: false,
        warning: `Could not read ${file}: ${read.cause}; using a token kept in memory for this run.`,
      };
    case 'missing':
      return createNew(file);
    case 'read':
    case 'too-large': {
      const existing = read.state === 'read' ? read.text.trim() : '';
      if (read.state === 'read' && isToken(existing)) return { token: existing, file, warning: tightened(file, read.stat), persisted: true };
      if (read.state === 'read' && existing === '') {
        // Nothing to keep: an empty file is what an interrupted first start of an older Berth left (a full disk).
        try {
          fs.rmSync(file, { force: true });
        } catch (err) {
          return { token: newToken(), file, persisted: false, warning: `${file} is empty and could not be replaced (${describeFsError(err)}); using a token kept in memory for this run.` };
        }
        const made = createNew(file);
        return { ...made, warning: made.warning ?? `${file} was empty (an earlier start could not finish writing it); a new token was created.` };
      }
      // Unusable content: keep it for inspection rather than deleting it.
      const aside = `${file}.invalid-${Date.now()}`;
      try {
        fs.renameSync(file, aside);
      } catch (err) {
        return { token: newToken(), file, persisted: false, warning: `${file} does not hold a valid token and could not be set aside (${describeFsError(err)}); using a token kept in memory for this run.` };
      }
      const made = createNew(file);
      return { ...made, warning: [`${file} did not hold a valid token; it was kept as ${aside} and a new token was created.`, made.warning].filter(Boolean).join(' ') };
    }
  }
}

function tightened(file: string, st: fs.Stats): string | undefined {
  if (process.platform === 'win32') return undefined;
  const mode = st.mode & 0o777;
  if (!(mode & 0o077)) return undefined;
  try {
    fs.chmodSync(file, 0o600);
    return `${file} was readable by other users (mode ${mode.toString(8)}); it is now 0600.`;
  } catch (err) {
    return `${file} is readable by other users (mode ${mode.toString(8)}) and could not be tightened (${errorCode(err)}); run: chmod 600 "${file}"`;
  }
}

/** A new token, written atomically; if it cannot be written, one kept in memory, with the reason. */
function createNew(file: string): TokenResult {
  const token = newToken();
  try {
    makeFolders(path.dirname(file));
    createFileAtomic(file, token + '\n', 0o600);
    return { token, file, persisted: true };
  } catch (err) {
    // Two first starts raced: the other one's token is the token.
    if (errorCode(err) === 'EEXIST') {
      const other = readTokenFile(file);
      if (other.state === 'read' && isToken(other.text.trim())) return { token: other.text.trim(), file, persisted: true };
      if (other.state === 'refused') throw new FileRefused(other.problem);
    }
    return {
      token,
      file,
      persisted: false,
      warning: `Could not create ${file}: ${describeFsError(err)}; using a token kept in memory for this run, so 'berth stop' and friends cannot authenticate.`,
    };
  }
}

/**
 * Read the token without creating one: for CLI commands talking to a running
 * server. Null when there is none; throws a BerthError (exit 2) when the file
 * is there but not Berth's to trust.
 */
export function readToken(dataDir: string): string | null {
  const read = readTokenFile(path.join(dataDir, TOKEN_FILE));
  if (read.state === 'refused') throw new FileRefused(read.problem);
  if (read.state === 'failed') throw new BerthError(`Could not read ${path.join(dataDir, TOKEN_FILE)}: ${read.cause}.`, ExitCode.usage);
  if (read.state !== 'read') return null;
  return read.text.trim() || null;
}
