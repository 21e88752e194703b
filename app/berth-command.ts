import fs from 'node:fs';
import path from 'node:path';
import { defaultDataDir } from './paths';
import { DEFAULT_HOST, DEFAULT_PORT } from './settings/settings';

/**
 * How a person runs this `berth` program, for every command Berth prints
 * (hints, exit-3 and exit-4 messages, the pages' banners): `berth` where that
 * name on PATH is this very program (`npm link`, a global install), and
 * otherwise `node <path to bin/berth.js>` (a source checkout). A command that
 * names a program the shell cannot find does not work when pasted.
 */
export interface Invocation {
  /** The script node runs (process.argv[1]). */
  script: string | undefined;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  /** Where the person is: a script below it is named relative to it. Null: always the full path (a page in a browser). */
  cwd: string | null;
}

export function currentInvocation(cwd: string | null = process.cwd()): Invocation {
  return { script: process.argv[1], env: process.env, platform: process.platform, cwd };
}

function realpath(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/** The `berth` that PATH finds first, if any. */
function berthOnPath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | null {
  const dirs = (env.PATH ?? env.Path ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  // Windows: npm makes berth.cmd (and a PowerShell berth.ps1) that call node on the script.
  const names = platform === 'win32' ? ['berth.cmd', 'berth.exe', 'berth.ps1'] : ['berth'];
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      try {
        if (fs.statSync(candidate).isFile()) return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** The words that run `berth` here: ['berth'] or ['node', 'bin/berth.js']. */
export function berthWords(inv: Invocation = currentInvocation()): string[] {
  const script = inv.script ? path.resolve(inv.script) : null;
  if (!script) return ['berth'];
  const onPath = berthOnPath(inv.env, inv.platform);
  if (onPath) {
    // POSIX: the name is a link to the script. Windows: npm's shim (berth.cmd) cannot be followed to its script; one on PATH is taken to be this Berth.
    if (inv.platform === 'win32' || realpath(onPath) === realpath(script)) return ['berth'];
  }
  const rel = inv.cwd ? path.relative(inv.cwd, script) : null;
  const shown = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : script;
  return ['node', shown];
}

/**
 * A word as a shell reads it: plain when safe, otherwise in double quotes,
 * which POSIX shells, PowerShell and cmd.exe all read. Backslashes stay as
 * they are (Windows paths); a quote, $ or backquote is escaped for POSIX shells.
 */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(value) ? value : `"${value.replace(/(["$`])/g, '\\$1')}"`;
}

/** A whole `berth` command line, ready to paste: `node bin/berth.js open --port 9000`. */
export function berthCommandLine(args: readonly string[], inv: Invocation = currentInvocation()): string {
  return [...berthWords(inv), ...args].map(shellWord).join(' ');
}

/**
 * The flags that reach the Berth of `config` from any shell: each of host,
 * port and data folder that is not the default (a value that came from the
 * environment is not in the next terminal, and a settings file may change).
 */
export function addressFlags(config: { host: string; port: number; dataDir: string }): string[] {
  const flags: string[] = [];
  if (config.host !== DEFAULT_HOST) flags.push('--host', config.host);
  if (config.port !== DEFAULT_PORT) flags.push('--port', String(config.port));
  if (path.resolve(config.dataDir) !== path.resolve(defaultDataDir())) flags.push('--data-dir', config.dataDir);
  return flags;
}

