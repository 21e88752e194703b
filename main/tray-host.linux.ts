import { execFile } from 'node:child_process';

/**
 * Linux: Electron's tray icon is a StatusNotifierItem, which only shows when
 * something on the session bus hosts them (KDE, XFCE, Cinnamon; GNOME only
 * with the AppIndicator extension). Without one the icon silently never
 * appears, so ask the bus first and tell the person why there is no icon.
 */

export type TrayHostCheck = { available: true } | { available: false; reason: string } | { available: 'unknown'; reason: string };

export type RunCommand = (file: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv) => Promise<{ code: number | null; stdout: string; missing?: boolean }>;

const WATCHER = 'org.kde.StatusNotifierWatcher';

export const runCommand: RunCommand = (file, args, timeoutMs, env) =>
  new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, windowsHide: true, env }, (err, stdout) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), missing: (err as NodeJS.ErrnoException | null)?.code === 'ENOENT' });
    });
  });

export async function checkTrayHost(env: NodeJS.ProcessEnv, run: RunCommand = runCommand): Promise<TrayHostCheck> {
  if (!env.DBUS_SESSION_BUS_ADDRESS) {
    return { available: false, reason: 'there is no D-Bus session bus, so no panel can host tray icons' };
  }
  const r = await run(
    'dbus-send',
    ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${WATCHER}`],
    2000,
    env,
  );
  if (r.missing) return { available: 'unknown', reason: 'dbus-send is not installed, so the tray host could not be checked' };
  if (r.code !== 0) return { available: 'unknown', reason: 'the session bus did not answer' };
  if (/boolean\s+true/.test(r.stdout)) return { available: true };
  if (/boolean\s+false/.test(r.stdout)) {
    const gnome = /gnome/i.test(env.XDG_CURRENT_DESKTOP ?? '');
    return {
      available: false,
      reason: gnome
        ? 'GNOME shows tray icons only with the AppIndicator extension (gnome-shell-extension-appindicator)'
        : 'the desktop has no StatusNotifier host for tray icons',
    };
  }
  return { available: 'unknown', reason: 'unexpected answer from the session bus' };
}
