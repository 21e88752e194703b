import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { errorCode } from '../errors';

export const TOKEN_FILE = 'auth-token';

export interface TokenResult {
  token: string;
  file: string;
  /** Set when the token is not (or no longer) as it should be on disk; the message says what was done. */
  warning?: string;
  /** False when the token lives only in memory (read-only data dir): CLI commands cannot authenticate. */
  persisted: boolean;
}

function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/**
 * The per-user secret that state-changing requests must carry. Created 0600 on
 * first start; a file others can read is tightened, not replaced (the running
 * UI and scripts keep working); a read-only data dir gets an in-memory token.
 */
export function ensureToken(dataDir: string): TokenResult {
  const file = path.join(dataDir, TOKEN_FILE);
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(existing)) {
      let warning: string | undefined;
      if (process.platform !== 'win32') {
        const mode = fs.statSync(file).mode & 0o777;
        if (mode & 0o077) {
          try {
            fs.chmodSync(file, 0o600);
            warning = `${file} was readable by other users (mode ${mode.toString(8)}); it is now 0600.`;
          } catch (err) {
            warning = `${file} is readable by other users (mode ${mode.toString(8)}) and could not be tightened (${errorCode(err)}); run: chmod 600 "${file}"`;
          }
        }
      }
      return { token: existing, file, warning, persisted: true };
    }
    // Unusable content: keep it for inspection rather than deleting it.
    const aside = `${file}.invalid-${Date.now()}`;
    fs.renameSync(file, aside);
    return { ...writeNew(file), warning: `${file} did not hold a valid token; it was kept as ${aside} and a new token was created.` };
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') {
      return {
        token: newToken(),
        file,
        persisted: false,
        warning: `Could not read ${file} (${errorCode(err) ?? err}); using a token kept in memory for this run.`,
      };
    }
  }
  try {
    return writeNew(file);
  } catch (err) {
    return {
      token: newToken(),
      file,
      persisted: false,
      warning: `Could not create ${file} (${errorCode(err) ?? err}); using a token kept in memory for this run, so 'berth stop' and friends cannot authenticate.`,
    };
  }
}

function writeNew(file: string): TokenResult {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const token = newToken();
  // 'wx' so two first starts racing never overwrite each other's token.
  try {
    fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return { token: fs.readFileSync(file, 'utf8').trim(), file, persisted: true };
    throw err;
  }
  return { token, file, persisted: true };
}

/** Read the token without creating one: for CLI commands talking to a running server. */
export function readToken(dataDir: string): string | null {
  try {
    const t = fs.readFileSync(path.join(dataDir, TOKEN_FILE), 'utf8').trim();
    return t || null;
  } catch {
    return null;
  }
}
