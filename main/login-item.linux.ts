import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../app/files/write';
import type { LoginItem } from './login-item';

/**
 * Linux: launch at login is an XDG autostart entry,
 * $XDG_CONFIG_HOME/autostart/berth.desktop, which every desktop that follows
 * the XDG Autostart spec starts at login. Electron's setLoginItemSettings does
 * nothing on Linux, so Berth writes the file itself.
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
function entryEnabled(text: string): boolean {
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

export function linuxLoginItem(opts: { env: NodeJS.ProcessEnv; home?: string; command: readonly string[] }): LoginItem {
  const file = autostartFile(opts.env, opts.home);
  return {
    supported: true,
    isEnabled() {
      try {
        return entryEnabled(fs.readFileSync(file, 'utf8'));
      } catch {
        return false;
      }
    },
    setEnabled(on) {
      if (!on) {
        fs.rmSync(file, { force: true });
        return;
      }
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, desktopEntry([...opts.command, '--hidden']), 0o644);
    },
    where: file,
  };
}
