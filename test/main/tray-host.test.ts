import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkTrayHost, type RunCommand } from '../../main/tray-host.linux';

const hasDbus = ['/usr/bin/dbus-daemon', '/usr/bin/dbus-send'].every((f) => fs.existsSync(f));

describe('Linux tray host check', () => {
  it('no session bus: no tray, and it says why', async () => {
    expect(await checkTrayHost({})).toEqual({ available: false, reason: 'there is no D-Bus session bus, so no panel can host tray icons' });
  });

  // A private session bus of our own: nothing on it hosts StatusNotifier items, like GNOME without the extension.
  describe.skipIf(!hasDbus)('against a real session bus (dbus-daemon)', () => {
    let address = '';
    let pid = 0;
    beforeAll(() => {
      const out = execFileSync('dbus-daemon', ['--session', '--fork', '--print-address=1', '--print-pid=1'], { encoding: 'utf8' }).trim().split('\n');
      address = out[0]!;
      pid = Number(out[1]);
    });
    afterAll(() => {
      if (pid) process.kill(pid, 'SIGTERM');
    });

    it('finds no StatusNotifierWatcher and names the GNOME fix', async () => {
      expect(await checkTrayHost({ DBUS_SESSION_BUS_ADDRESS: address, XDG_CURRENT_DESKTOP: 'ubuntu:GNOME' })).toEqual({
        available: false,
        reason: 'GNOME shows tray icons only with the AppIndicator extension (gnome-shell-extension-appindicator)',
      });
      expect(await checkTrayHost({ DBUS_SESSION_BUS_ADDRESS: address, XDG_CURRENT_DESKTOP: 'XFCE' })).toEqual({ available: false, reason: 'the desktop has no StatusNotifier host for tray icons' });
    });
  });

  it('a watcher on the bus means a tray; an unanswered or missing dbus-send means "unknown", not "no tray"', async () => {
    const reply = (stdout: string, code: number | null = 0, missing = false): RunCommand => async () => ({ code, stdout, missing });
    const env = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' };
    expect(await checkTrayHost(env, reply('method return time=1 sender=org.freedesktop.DBus\n   boolean true\n'))).toEqual({ available: true });
    expect((await checkTrayHost(env, reply('', null, true))).available).toBe('unknown');
    expect((await checkTrayHost(env, reply('', 1))).available).toBe('unknown');
  });

  it('a bus address that leads nowhere is "unknown" (a real dbus-send failing)', async () => {
    if (!hasDbus) return;
    expect((await checkTrayHost({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' })).available).toBe('unknown');
  });
});
