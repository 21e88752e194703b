import fs from 'node:fs';
import path from 'node:path';
import type { LoginItemSettings, Settings } from 'electron';
import { describe, expect, it } from 'vitest';
import { LOGIN_AGENT, createLoginItem, startedAtLogin, type LoginItemApp } from '../../main/login-item';
import { AUTOSTART_NAME, autostartFile, desktopEntry, execArg } from '../../main/login-item.linux';
import { parseExec, retargetAutostart } from '../../app/autostart';
import { ROOT, tempDataDir } from '../helpers';
import { LockRegistry, fakeElectron, loginLaunchArgs, plistArguments } from './fake-electron';

function recordingApp(openAtLogin = false, wasOpenedAtLogin = false) {
  const set: Settings[] = [];
  const asked: unknown[] = [];
  const app: LoginItemApp = {
    setLoginItemSettings: (s: Settings) => {
      set.push(s);
      openAtLogin = !!s.openAtLogin;
    },
    getLoginItemSettings: (o?: unknown) => {
      asked.push(o);
      return { openAtLogin, wasOpenedAtLogin } as LoginItemSettings;
    },
  };
  return { app, set, asked };
}

describe('launch at login: Linux XDG autostart', () => {
  it('writes, reads and removes $XDG_CONFIG_HOME/autostart/berth.desktop, starting hidden', () => {
    const config = tempDataDir('berth-xdg-');
    const li = createLoginItem({ platform: 'linux', app: recordingApp().app, env: { XDG_CONFIG_HOME: config }, command: ['/opt/Berth/berth'] });
    const file = path.join(config, 'autostart', AUTOSTART_NAME);
    expect(li.where).toBe(file);
    expect(li.isEnabled()).toBe(false);
    li.setEnabled(true);
    expect(li.isEnabled()).toBe(true);
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n')).toEqual(
      expect.arrayContaining(['[Desktop Entry]', 'Type=Application', 'Name=Berth', 'Exec=/opt/Berth/berth --hidden', 'Terminal=false', 'X-GNOME-Autostart-enabled=true']),
    );
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    li.setEnabled(true); // idempotent
    li.setEnabled(false);
    expect(fs.existsSync(file)).toBe(false);
    expect(li.isEnabled()).toBe(false);
    li.setEnabled(false); // nothing to remove is fine
  });

  it('respects an entry the person switched off in their desktop settings', () => {
    const config = tempDataDir('berth-xdg-');
    const li = createLoginItem({ platform: 'linux', app: recordingApp().app, env: { XDG_CONFIG_HOME: config }, command: ['/opt/Berth/berth'] });
    li.setEnabled(true);
    const file = li.where;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('X-GNOME-Autostart-enabled=true', 'X-GNOME-Autostart-enabled=false'));
    expect(li.isEnabled()).toBe(false);
    fs.writeFileSync(file, desktopEntry(['/x']) + 'Hidden=true\n');
    expect(li.isEnabled()).toBe(false);
  });

  it('falls back to ~/.config when XDG_CONFIG_HOME is unset or relative (the spec ignores relative paths)', () => {
    expect(autostartFile({}, '/home/ann')).toBe('/home/ann/.config/autostart/berth.desktop');
    expect(autostartFile({ XDG_CONFIG_HOME: 'rel/dir' }, '/home/ann')).toBe('/home/ann/.config/autostart/berth.desktop');
  });

  it('quotes Exec arguments as the Desktop Entry spec asks', () => {
    expect(execArg('/opt/Berth/berth')).toBe('/opt/Berth/berth');
    expect(execArg('/home/ann/My Apps/Berth.AppImage')).toBe('"/home/ann/My Apps/Berth.AppImage"');
    // Inside quotes: \" \` \$ \\ ; then every backslash doubled again for the string value.
    expect(execArg('/tmp/a"b')).toBe('"/tmp/a\\\\"b"');
    expect(execArg('/tmp/$HOME')).toBe('"/tmp/\\\\$HOME"');
    expect(execArg('/tmp/back\\slash')).toBe('"/tmp/back\\\\\\\\slash"');
    expect(execArg('/tmp/100%')).toBe('/tmp/100%%');
    const dev = desktopEntry(['/usr/lib/electron/electron', '/home/ann/src/berth']);
    expect(dev).toContain('Exec=/usr/lib/electron/electron /home/ann/src/berth\n');
  });
});

describe('launch at login after an AppImage update renamed the app', () => {
  it('reads Exec back exactly as it was written, however the path is quoted', () => {
    for (const cmd of [['/opt/Berth/berth', '--hidden'], ['/home/ann/My Apps/Berth-1.0.0-linux-x86_64.AppImage', '--hidden'], ['/tmp/a"b$c`d\\e 100%', '--hidden']]) {
      const line = desktopEntry(cmd).split('\n').find((l) => l.startsWith('Exec='))!;
      expect(parseExec(line.slice('Exec='.length))).toEqual(cmd);
    }
  });

  it('points an entry that starts the old file at the new one, keeping its arguments and every other line', () => {
    const dir = tempDataDir('berth-xdg-');
    const file = path.join(dir, 'berth.desktop');
    const from = '/home/ann/Apps/Berth-1.0.0-linux-x86_64.AppImage';
    const to = '/home/ann/Apps/Berth-1.0.1-linux-x86_64.AppImage';
    fs.writeFileSync(file, desktopEntry([from, '--hidden']) + 'X-Custom=kept\n', { mode: 0o640 });
    expect(retargetAutostart(file, from, to)).toBe(true);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe(desktopEntry([to, '--hidden']) + 'X-Custom=kept\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    // Another program's entry, or none at all: nothing is touched.
    expect(retargetAutostart(file, '/somewhere/else', to)).toBe(false);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(retargetAutostart(path.join(dir, 'missing.desktop'), from, to)).toBe(false);
    // A name with spaces is quoted as the spec asks.
    expect(retargetAutostart(file, to, '/home/ann/My Apps/Berth-1.0.2-linux-x86_64.AppImage')).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toContain('Exec="/home/ann/My Apps/Berth-1.0.2-linux-x86_64.AppImage" --hidden\n');
  });
});

describe('launch at login: Windows and macOS through Electron', () => {
  const appFor = (platform: NodeJS.Platform) => fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv: ['C:\\Berth\\Berth.exe'], platform }).app;

  it('Windows registers the Run value with --hidden, switched on in Task Manager too, and reads it back with the same arguments', () => {
    const app = appFor('win32');
    const li = createLoginItem({ platform: 'win32', app, env: {}, command: [] });
    expect(li.isEnabled()).toBe(false);
    li.setEnabled(true);
    expect(app.calls.filter((c) => c.call === 'setLoginItemSettings').map((c) => c.arg)).toEqual([{ openAtLogin: true, args: ['--hidden'], enabled: true }]);
    expect(app.runValue).toMatchObject({ args: ['--hidden'], approved: true });
    expect(li.isEnabled()).toBe(true);
    expect(li.disabledByUser!()).toBe(false);
  });

  it('Windows: switched off in Task Manager, it is off (executableWillLaunchAtLogin), and known to be the person\'s choice', () => {
    const app = appFor('win32');
    const li = createLoginItem({ platform: 'win32', app, env: {}, command: [] });
    li.setEnabled(true);
    app.runValue!.approved = false;
    expect(app.getLoginItemSettings({ args: ['--hidden'] }).openAtLogin).toBe(true);
    expect(li.isEnabled()).toBe(false);
    expect(li.disabledByUser!()).toBe(true);
    li.setEnabled(false);
    expect(app.runValue).toBeNull();
    expect(li.disabledByUser!()).toBe(false);
  });

  it('macOS 13 and later: an SMAppService agent whose plist passes --hidden; a main-app item from before is taken away', () => {
    const app = appFor('darwin');
    app.setLoginItemSettings({ openAtLogin: true });
    const li = createLoginItem({ platform: 'darwin', app, env: {}, command: [], darwinRelease: '23.4.0', macAgent: true });
    expect(li.isEnabled()).toBe(false);
    li.setEnabled(true);
    expect(li.isEnabled()).toBe(true);
    expect(app.getLoginItemSettings().openAtLogin).toBe(false);
    expect(loginLaunchArgs(app, path.join(ROOT, 'build', 'LaunchAgents'))).toEqual(['--hidden']);
    expect(plistArguments(fs.readFileSync(path.join(ROOT, 'build', 'LaunchAgents', LOGIN_AGENT), 'utf8'))[0]).toBe('Contents/MacOS/Berth');
    li.setEnabled(false);
    expect(li.isEnabled()).toBe(false);
  });

  it('macOS 12 and earlier, or an app without the agent in its bundle: the plain login item (no arguments; wasOpenedAtLogin works before 13)', () => {
    for (const [darwinRelease, macAgent] of [['21.6.0', true], ['23.4.0', false]] as const) {
      const app = appFor('darwin');
      const li = createLoginItem({ platform: 'darwin', app, env: {}, command: [], darwinRelease, macAgent });
      li.setEnabled(true);
      li.setEnabled(false);
      expect(app.calls.filter((c) => c.call === 'setLoginItemSettings').map((c) => c.arg)).toEqual([{ openAtLogin: true }, { openAtLogin: false }]);
    }
  });

  it('elsewhere says it is not available', () => {
    const li = createLoginItem({ platform: 'aix', app: recordingApp().app, env: {}, command: [] });
    expect(li.supported).toBe(false);
    expect(li.reason).toBe('not available on aix');
  });

  it('a launch from the login item starts hidden: --hidden, or macOS wasOpenedAtLogin', () => {
    expect(startedAtLogin({ platform: 'win32', hiddenArg: true, app: recordingApp().app })).toBe(true);
    expect(startedAtLogin({ platform: 'linux', hiddenArg: false, app: recordingApp(false, true).app })).toBe(false);
    expect(startedAtLogin({ platform: 'darwin', hiddenArg: false, app: recordingApp(false, true).app })).toBe(true);
    expect(startedAtLogin({ platform: 'darwin', hiddenArg: false, app: recordingApp(false, false).app })).toBe(false);
  });
});
