import fs from 'node:fs';
import path from 'node:path';
import { autostartFile, desktopEntry, entryEnabled } from '../app/autostart';
import { writeFileAtomic } from '../app/files/write';
import type { LoginItem } from './login-item';

/**
 * Linux: launch at login is an XDG autostart entry (app/autostart.ts), which
 * Berth writes itself: Electron's setLoginItemSettings does nothing on Linux.
 */
export { AUTOSTART_NAME, autostartFile, desktopEntry, execArg } from '../app/autostart';

export function linuxLoginItem(opts: { env: NodeJS.ProcessEnv; home?: string; command: readonly string[] | (() => readonly string[]) }): LoginItem {
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
      const command = typeof opts.command === 'function' ? opts.command() : opts.command;
      writeFileAtomic(file, desktopEntry([...command, '--hidden']), 0o644);
    },
    where: file,
  };
}
