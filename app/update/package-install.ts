/**
 * Installing a downloaded .deb while Berth still serves. electron-updater's
 * DebUpdater runs `pkexec dpkg -i` synchronously from install(), after the
 * listener has closed: the port stays down while the person types a
 * password, and for good if they cancel. Here the same install runs as a
 * child process before anything closes, and its outcome decides: installed,
 * then relaunch; anything else, keep serving and say why.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export interface PackageInstallOptions {
  /** The privilege prompt (default pkexec; none when already root). */
  elevate?: string[];
  log?: { info(m: string): void };
}

export function debPackageInstall(opts: PackageInstallOptions = {}): (file: string) => Promise<void> {
  return (file) => {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const elevate = opts.elevate ?? (root ? [] : ['pkexec']);
    const command = [...elevate, 'dpkg', '-i', file];
    opts.log?.info(`installing ${file}: ${command.join(' ')}`);
    return new Promise((resolve, reject) => {
      const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
      child.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(err.code === 'ENOENT' ? `${command[0]} is not installed, so the package cannot be installed` : `${command[0]} could not be started: ${err.message}`)),
      );
      child.once('exit', (code, signal) => {
        if (code === 0) return resolve();
        const last = stderr.trim().split('\n').pop() ?? '';
        // pkexec: 126 when the person dismissed the password prompt or was not authorized, 127 when authentication failed.
        if (elevate[0] && path.basename(elevate[0]) === 'pkexec' && (code === 126 || code === 127)) {
          return reject(new Error('the password prompt was cancelled or refused, so nothing was installed'));
        }
        reject(new Error(`dpkg could not install ${file} (${signal ? `killed by ${signal}` : `exit ${code}`})${last ? `: ${last}` : ''}`));
      });
    });
  };
}
