import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from './files/write';

/**
 * Linux launch at login: an XDG autostart entry,
 * $XDG_CONFIG_HOME/autostart/berth.desktop, which every desktop that follows
 * the XDG Autostart spec starts at login. The desktop app writes it
 * (main/login-item.linux.ts); both the desktop and `berth serve` point it at
 * the new file when an AppImage update renames the app (retargetAutostart).
 */

export const AUTOSTART_NAME = 'berth.desktop';

export function autostartFile(env: NodeJS.ProcessEnv, home = os.homedir()): string {
  const config = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  return path.join(config, 'autostart', AUTOSTART_NAME);
}

// Desktop Entry spec, "The Exec key": these characters need the argument quoted.
const RESERVED = /[\s"'\\><~|&;$*?#()`]/;

/** One Exec argument, quoted and escaped as the Desktop Entry spec asks (two levels: quoting, then the string value). */
export function execArg(arg: string): string {
  let a = arg.replace(/%/g, '%%');
  if (RESERVED.test(a)) a = `"${a.replace(/["`$\\]/g, (c) => `\\${c}`)}"`;
  // The value is itself an escaped string, where a backslash is written twice.
  return a.replace(/\\/g, '\\\\');
}

/** The arguments of an Exec value: execArg undone (string escapes, then quoting, then %%). */
export function parseExec(value: string): string[] {
  const s = value.replace(/\\(.)/g, (_m, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r' })[c] ?? c);
  const args: string[] = [];
  let cur: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') {
      cur ??= '';
      for (i++; i < s.length && s[i] !== '"'; i++) cur += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
    } else if (c === ' ') {
      if (cur !== null) args.push(cur);
      cur = null;
    } else cur = (cur ?? '') + c;
  }
  if (cur !== null) args.push(cur);
  return args.map((a) => a.replace(/%%/g, '%'));
}

export function desktopEntry(command: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=Berth',
    'Comment=Local web UI in your tray',
    `Exec=${command.map(execArg).join(' ')}`,
    'Icon=berth',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Read an entry's keys, enough to tell whether it is switched off (Hidden=true, X-GNOME-Autostart-enabled=false). */
export function entryEnabled(text: string): boolean {
  let inMain = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('[')) inMain = line === '[Desktop Entry]';
    if (!inMain) continue;
    if (/^Hidden\s*=\s*true$/i.test(line)) return false;
    if (/^X-GNOME-Autostart-enabled\s*=\s*false$/i.test(line)) return false;
  }
  return true;
}

/**
 * The app's file moved (an AppImage update writes the new version under its
 * own versioned name and deletes the old file): if the autostart entry starts
 * `from`, make it start `to`, with the same arguments and every other line
 * kept. Returns whether the entry was rewritten.
 */
export function retargetAutostart(file: string, from: string, to: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  let inMain = false;
  let changed = false;
  const lines = text.split('\n').map((line) => {
    const t = line.trim();
    if (t.startsWith('[')) inMain = t === '[Desktop Entry]';
    const m = inMain ? /^Exec\s*=\s*(.*)$/.exec(line.replace(/\r$/, '')) : null;
    if (!m) return line;
    const args = parseExec(m[1]!);
    if (args[0] !== from) return line;
    changed = true;
    return `Exec=${[to, ...args.slice(1)].map(execArg).join(' ')}`;
  });
  if (!changed) return false;
  const mode = fs.statSync(file).mode & 0o777;
  writeFileAtomic(file, lines.join('\n'), mode);
  return true;
}
