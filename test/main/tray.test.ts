import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { MenuItemConstructorOptions, Menu } from 'electron';
import { DesktopTray } from '../../main/tray';
import { darkPanel, menuEntries, statusLine, tooltip, trayIconName, type TrayAction, type TrayView } from '../../main/tray-model';
import { ROOT } from '../helpers';
import { FakeMenu, FakeTray, asTray } from './fakes';

const serving: TrayView = {
  version: '1.4.0',
  host: { state: 'serving', url: 'http://127.0.0.1:8787', port: 8787 },
  update: { state: 'idle' },
  launchAtLogin: { enabled: false },
};
const view = (over: Partial<TrayView> = {}): TrayView => ({ ...serving, ...over });
const byId = (v: TrayView) => Object.fromEntries(menuEntries(v).map((e) => [e.id, e]));

describe('tray model', () => {
  it('has the menu the issue lists, in order', () => {
    const labels = menuEntries(serving).filter((e) => e.type !== 'separator').map((e) => e.label);
    expect(labels).toEqual([
      'Open Berth',
      'Open in browser',
      'Copy URL',
      'Serving on :8787',
      'Restart server',
      'Restart app',
      'Check for updates…',
      'Launch at login',
      'Show logs',
      'About Berth',
      'Quit Berth',
    ]);
  });

  it("a hosted app's name is on every label, and its own server has a Restart item that follows the child's state", () => {
    const hosted = view({ name: 'Bookmarks', version: '2.1.0', appServer: { state: 'ready' } });
    const labels = menuEntries(hosted).filter((e) => e.type !== 'separator').map((e) => e.label);
    expect(labels).toEqual([
      'Open Bookmarks',
      'Open in browser',
      'Copy URL',
      'Serving on :8787',
      'Restart Bookmarks',
      'Restart server',
      'Restart app',
      'Check for updates…',
      'Launch at login',
      'Show logs',
      'About Bookmarks',
      'Quit Bookmarks',
    ]);
    expect(tooltip(hosted)).toBe('Bookmarks 2.1.0: Serving — http://127.0.0.1:8787');
    expect(byId(hosted)['restart-app-server']).toMatchObject({ enabled: true, action: 'restart-app-server' });
    // While the child (re)starts, the item waits and the status says why requests are held; a crashed one can be restarted at once.
    const restarting = view({ name: 'Bookmarks', appServer: { state: 'restarting' } });
    expect(byId(restarting)['restart-app-server']!.enabled).toBe(false);
    expect(statusLine(restarting)).toBe('Bookmarks starting');
    const crashed = view({ name: 'Bookmarks', appServer: { state: 'crashed' } });
    expect(byId(crashed)['restart-app-server']!.enabled).toBe(true);
    expect(statusLine(crashed)).toBe('Bookmarks stopped: restarting');
    // Not while Berth's own server is not serving; and an app in process (no child) has no such item.
    expect(byId(view({ name: 'Bookmarks', appServer: { state: 'ready' }, host: { ...serving.host!, state: 'restarting' } }))['restart-app-server']!.enabled).toBe(false);
    expect(byId(view({ name: 'Notes' }))['restart-app-server']).toBeUndefined();
  });

  it('status line follows the host first, then the update', () => {
    expect(statusLine(view({ host: null }))).toBe('Starting');
    expect(statusLine(view({ host: { ...serving.host!, state: 'starting' } }))).toBe('Starting');
    expect(statusLine(view({ host: { ...serving.host!, state: 'restarting' } }))).toBe('Restarting');
    expect(statusLine(view({ host: { ...serving.host!, state: 'draining' } }))).toBe('Draining');
    expect(statusLine(view({ host: { ...serving.host!, state: 'conflict' } }))).toBe('Port conflict');
    expect(statusLine(view({ update: { state: 'downloading', version: '1.5.0', percent: 42.7 } }))).toBe('Update downloading 42%');
    expect(statusLine(view({ update: { state: 'ready', version: '1.5.0' } }))).toBe('Update ready');
    // A server problem outranks an update.
    expect(statusLine(view({ host: { ...serving.host!, state: 'conflict' }, update: { state: 'ready', version: '1.5.0' } }))).toBe('Port conflict');
  });

  it('server actions are only offered while serving; Restart app also after a conflict', () => {
    const conflict = byId(view({ host: { ...serving.host!, state: 'conflict' } }));
    expect(conflict['open-window']!.enabled).toBe(false);
    expect(conflict['restart-server']!.enabled).toBe(false);
    expect(conflict['restart-app']!.enabled).toBe(true);
    const restarting = byId(view({ host: { ...serving.host!, state: 'restarting' } }));
    expect(restarting['restart-app']!.enabled).toBe(false);
    expect(byId(serving)['restart-server']).toMatchObject({ enabled: true, action: 'restart-server' });
  });

  it('the update item follows the updater', () => {
    expect(byId(view({ update: { state: 'disabled', reason: 'Updates are off in a development build (not packaged)' } })).updates).toMatchObject({
      label: 'Updates are off in a development build (not packaged)',
      enabled: false,
    });
    expect(byId(view({ update: { state: 'checking' } })).updates).toMatchObject({ label: 'Checking for updates…', enabled: false });
    expect(byId(view({ update: { state: 'downloading', version: '2.0.0', percent: 7 } })).updates).toMatchObject({ label: 'Downloading v2.0.0…', enabled: false });
    expect(byId(view({ update: { state: 'ready', version: '2.0.0' } })).updates).toMatchObject({ label: 'Restart to update to v2.0.0', enabled: true, action: 'install-update' });
    const err = byId(view({ update: { state: 'error', error: 'Could not reach the update server (https://u.test/): ENOTFOUND. Check your network. Berth 1.4.0 keeps running.' } }));
    expect(err['update-error']!.label).toBe('Update failed: Could not reach the update server (https://u.test/): ENOTFOUND.');
    expect(err.updates).toMatchObject({ label: 'Check for updates…', action: 'check-updates' });
  });

  it('launch at login is a checkbox, or says why it is unavailable', () => {
    expect(byId(view({ launchAtLogin: { enabled: true } }))['launch-at-login']).toMatchObject({ type: 'checkbox', checked: true, enabled: true });
    expect(byId(view({ launchAtLogin: { unavailable: 'not available on aix' } }))['launch-at-login']).toMatchObject({ label: 'Launch at login (not available on aix)', enabled: false });
  });

  it('says why there is no tray icon, in the menu that is left (the app menu)', () => {
    expect(byId(view({ noTrayReason: 'GNOME shows tray icons only with the AppIndicator extension' }))['no-tray']!.label).toBe(
      'No tray icon: GNOME shows tray icons only with the AppIndicator extension',
    );
  });

  it('tooltip gives state and URL, within the Windows limit', () => {
    expect(tooltip(serving)).toBe('Berth 1.4.0: Serving — http://127.0.0.1:8787');
    expect(tooltip(view({ host: { ...serving.host!, state: 'conflict' } }))).toBe('Berth 1.4.0: Port conflict');
    expect(tooltip(view({ host: { state: 'serving', url: `http://${'a'.repeat(200)}:1`, port: 1 } })).length).toBeLessThanOrEqual(127);
  });

  it('picks an icon per platform, and every one it can pick exists in build/tray (PNGs with @2x)', () => {
    expect(trayIconName({ platform: 'darwin', darkPanel: true, updateReady: false })).toBe('trayTemplate.png');
    expect(trayIconName({ platform: 'darwin', darkPanel: false, updateReady: true })).toBe('trayUpdateTemplate.png');
    expect(trayIconName({ platform: 'linux', darkPanel: false, updateReady: true })).toBe('tray-light-update.png');
    for (const platform of ['darwin', 'win32', 'linux'] as const) {
      for (const dark of [true, false]) {
        for (const updateReady of [true, false]) {
          const name = trayIconName({ platform, darkPanel: dark, updateReady });
          expect(fs.existsSync(path.join(ROOT, 'build', 'tray', name)), name).toBe(true);
          if (name.endsWith('.png')) expect(fs.existsSync(path.join(ROOT, 'build', 'tray', name.replace('.png', '@2x.png'))), name).toBe(true);
        }
      }
    }
  });

  it('Windows: an ICO, with each size the notification area asks for at 100-200 % scaling drawn in it', () => {
    expect(trayIconName({ platform: 'win32', darkPanel: true, updateReady: false })).toBe('tray-dark.ico');
    expect(trayIconName({ platform: 'win32', darkPanel: false, updateReady: true })).toBe('tray-light-update.ico');
    for (const name of ['tray-dark.ico', 'tray-light.ico', 'tray-dark-update.ico', 'tray-light-update.ico']) {
      const ico = fs.readFileSync(path.join(ROOT, 'build', 'tray', name));
      // ICONDIR: reserved 0, type 1 (icon), count; then 16-byte entries whose first byte is the width (0 = 256).
      expect([ico.readUInt16LE(0), ico.readUInt16LE(2)], name).toEqual([0, 1]);
      const sizes = Array.from({ length: ico.readUInt16LE(4) }, (_, i) => ico[6 + i * 16]!);
      expect(sizes, name).toEqual([16, 20, 24, 32, 40, 48, 64]);
    }
  });

  it('dark panel: Windows follows the system theme, GNOME is always dark, others the app theme', () => {
    expect(darkPanel({ platform: 'win32', shouldUseDarkColors: false, systemUsesDark: true })).toBe(true);
    expect(darkPanel({ platform: 'linux', shouldUseDarkColors: false, desktop: 'ubuntu:GNOME' })).toBe(true);
    expect(darkPanel({ platform: 'linux', shouldUseDarkColors: false, desktop: 'KDE' })).toBe(false);
    expect(darkPanel({ platform: 'darwin', shouldUseDarkColors: true })).toBe(true);
  });
});

function trayWith(platform: NodeJS.Platform, dark = false, createTray?: (icon: string) => FakeTray, packaged = false) {
  const trays: FakeTray[] = [];
  const appMenus: FakeMenu[] = [];
  const clicked: TrayAction[] = [];
  const actions = Object.fromEntries(
    (['open-window', 'open-browser', 'copy-url', 'restart-server', 'restart-app-server', 'restart-app', 'check-updates', 'install-update', 'toggle-login', 'show-logs', 'about', 'quit'] as TrayAction[]).map((a) => [a, () => clicked.push(a)]),
  ) as unknown as Record<TrayAction, () => void>;
  let isDark = dark;
  const tray = new DesktopTray({
    platform,
    iconDir: '/icons',
    createTray: (icon) => {
      const t = createTray ? createTray(icon) : new FakeTray(icon, platform === 'win32' ? 'windows' : platform === 'darwin' ? 'macos' : 'kde');
      trays.push(t);
      return asTray(t);
    },
    buildMenu: (template: MenuItemConstructorOptions[]) => new FakeMenu(template, { platform, onRole: (r) => clicked.push(`role ${r}` as TrayAction) }) as unknown as Menu,
    setApplicationMenu: (m) => appMenus.push(m as unknown as FakeMenu),
    darkPanel: () => isDark,
    packaged,
    actions,
    log: memoryLogSink().root,
  });
  return { tray, trays, appMenus, clicked, setDark: (d: boolean) => (isDark = d) };
}

describe('tray controller', () => {
  it('creates the icon with menu and tooltip, and menu clicks reach the actions', () => {
    const t = trayWith('linux');
    expect(t.tray.create(serving)).toBe(true);
    const fake = t.trays[0]!;
    expect(fake.image).toBe(path.join('/icons', 'tray-light.png'));
    expect(fake.tooltip).toBe('Berth 1.4.0: Serving — http://127.0.0.1:8787');
    fake.menu!.click('restart-server');
    fake.menu!.click('quit');
    expect(t.clicked).toEqual(['restart-server', 'quit']);
    // The same items in the app menu bar, under "Berth", with the standard menus after.
    const appMenu = t.appMenus[0]!;
    expect(appMenu.template.map((m) => m.label ?? m.role)).toEqual(['Berth', 'editMenu', 'viewMenu', 'windowMenu']);
    expect(appMenu.template[0]!.submenu).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'quit', accelerator: 'CmdOrCtrl+Q' })]));
    appMenu.click('restart-app');
    expect(t.clicked).toEqual(['restart-server', 'quit', 'restart-app']);
  });

  it("a hosted app's menu bar is under its own name, and its Restart item reaches the action", () => {
    const t = trayWith('darwin');
    t.tray.create(view({ name: 'Bookmarks', appServer: { state: 'ready' } }));
    const bar = t.appMenus.at(-1)!;
    expect(bar.template[0]!.label).toBe('Bookmarks');
    bar.click('restart-app-server');
    expect(t.clicked).toEqual(['restart-app-server']);
  });

  it('re-renders only what changed: host change events that change nothing do not rebuild the menu', () => {
    const t = trayWith('win32');
    t.tray.create(serving);
    const fake = t.trays[0]!;
    const before = fake.history.length;
    t.tray.render(serving);
    t.tray.render({ ...serving });
    expect(fake.history.length).toBe(before);
    t.tray.render(view({ update: { state: 'downloading', version: '2.0.0', percent: 10 } }));
    expect(fake.history.slice(before)).toEqual(['menu', 'tooltip Berth 1.4.0: Update downloading 10% — http://127.0.0.1:8787']);
    t.tray.render(view({ update: { state: 'downloading', version: '2.0.0', percent: 20 } }));
    expect(fake.history.slice(before)).toEqual(['menu', 'tooltip Berth 1.4.0: Update downloading 10% — http://127.0.0.1:8787', 'tooltip Berth 1.4.0: Update downloading 20% — http://127.0.0.1:8787']);
    t.tray.render(view({ update: { state: 'ready', version: '2.0.0' } }));
    expect(fake.image).toBe(path.join('/icons', 'tray-light-update.ico'));
    expect(fake.menu!.item('updates')!.label).toBe('Restart to update to v2.0.0');
  });

  it('switches the icon when the theme changes', () => {
    const t = trayWith('win32', false);
    t.tray.create(serving);
    t.setDark(true);
    t.tray.render(serving);
    expect(t.trays[0]!.image).toBe(path.join('/icons', 'tray-dark.ico'));
  });

  it('Windows: a left click on the icon opens the window', () => {
    const t = trayWith('win32');
    t.tray.create(serving);
    t.trays[0]!.leftClick();
    expect(t.clicked).toEqual(['open-window']);
  });

  it('Linux (KDE, XFCE): a left click is an activation, and opens the window; the menu is on the right click', () => {
    const t = trayWith('linux');
    t.tray.create(serving);
    t.trays[0]!.leftClick();
    expect(t.clicked).toEqual(['open-window']);
    t.trays[0]!.rightClick();
    expect(t.trays[0]!.openMenu).toBe(t.trays[0]!.menu);
  });

  it('macOS: a click opens the menu', () => {
    const t = trayWith('darwin');
    t.tray.create(serving);
    t.trays[0]!.leftClick();
    expect(t.trays[0]!.opened).toHaveLength(1);
    expect(t.clicked).toEqual([]);
  });

  it('download progress leaves an open tray menu alone: the percentage is in the tooltip', () => {
    const t = trayWith('win32');
    t.tray.create(view({ update: { state: 'downloading', version: '2.0.0', percent: 1 } }));
    const fake = t.trays[0]!;
    fake.rightClick();
    for (const percent of [10, 37, 64, 99]) t.tray.render(view({ update: { state: 'downloading', version: '2.0.0', percent } }));
    expect(fake.history).not.toContain('open menu closed');
    expect(fake.openMenu).not.toBeNull();
    expect(fake.tooltip).toBe('Berth 1.4.0: Update downloading 99% — http://127.0.0.1:8787');
    // A change that matters (the download finished) does rebuild it.
    t.tray.render(view({ update: { state: 'ready', version: '2.0.0' } }));
    expect(fake.menu!.item('updates')!.label).toBe('Restart to update to v2.0.0');
  });

  it('when the platform refuses a tray, the app menu still carries every item', () => {
    const t = trayWith('linux', false, () => {
      throw new Error('no status area');
    });
    expect(t.tray.create(view({ noTrayReason: 'the desktop has no StatusNotifier host for tray icons' }))).toBe(false);
    expect(t.tray.exists).toBe(false);
    const menu = t.appMenus[0]!;
    expect(menu.item('no-tray')!.label).toBe('No tray icon: the desktop has no StatusNotifier host for tray icons');
    menu.click('open-window');
    expect(t.clicked).toEqual(['open-window']);
  });

  it('the menu bar: Quit has its accelerator everywhere; macOS adds the app menu roles (Hide, Hide Others, Show All)', () => {
    for (const platform of ['win32', 'linux', 'darwin'] as const) {
      const t = trayWith(platform);
      t.tray.create(serving);
      const bar = t.appMenus.at(-1)!;
      expect(bar.press('CmdOrCtrl+Q'), platform).toBe(true);
      expect(t.clicked.at(-1), platform).toBe('quit');
      if (platform === 'darwin') {
        expect(bar.press('Command+H')).toBe(true);
        expect(bar.roles()).toEqual(expect.arrayContaining(['hide', 'hideothers', 'unhide']));
      }
    }
  });

  it('a packaged build has no Reload and no DevTools; a development one keeps them', () => {
    const devtools = (m: FakeMenu) => m.roles().filter((r) => ['reload', 'forcereload', 'toggledevtools'].includes(r));
    for (const platform of ['win32', 'linux', 'darwin'] as const) {
      const packaged = trayWith(platform, false, undefined, true);
      packaged.tray.create(serving);
      expect(devtools(packaged.appMenus.at(-1)!), platform).toEqual([]);
      expect(packaged.appMenus.at(-1)!.press('CmdOrCtrl+R'), platform).toBe(false);
      const dev = trayWith(platform);
      dev.tray.create(serving);
      expect(devtools(dev.appMenus.at(-1)!), platform).toEqual(['reload', 'forcereload', 'toggledevtools']);
    }
  });
});
