import fs from 'node:fs';
import tty from 'node:tty';

/**
 * Let a process whose terminal was closed under it end with its own exit code.
 * On its way out, Node restores the settings of every terminal it started on
 * and aborts if that fails, which it does once the terminal has hung up
 * (nodejs/node#51519; Node 20 has no fix): a Berth whose window was closed
 * would end in SIGABRT or SIGSEGV instead of exit 0. Node leaves alone a
 * descriptor that points somewhere else by then, so each one whose terminal
 * is gone is pointed at /dev/null as the process exits.
 */
export function exitCleanlyWithoutTerminal(): void {
  if (process.platform === 'win32') return;
  const wasTerminal = [0, 1, 2].map((fd) => tty.isatty(fd));
  process.once('exit', () => {
    for (const fd of [0, 1, 2]) {
      if (!wasTerminal[fd] || tty.isatty(fd)) continue;
      try {
        fs.closeSync(fd);
        // The lowest free descriptor: the one just closed.
        const opened = fs.openSync('/dev/null', fd === 0 ? 'r' : 'w');
        if (opened !== fd) fs.closeSync(opened);
      } catch {
        // already closed: Node skips a closed descriptor too
      }
    }
  });
}
