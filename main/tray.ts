import path from 'node:path';
import type { Menu, MenuItemConstructorOptions, Tray } from 'electron';
import type { Logger } from '../app/log';
import { displayName, menuEntries, tooltip, trayIconName, type MenuEntry, type TrayAction, type TrayView } from './tray-model';

/** The parts of Electron's Tray used here. */
export type TrayLike = Pick<Tray, 'setImage' | 'setToolTip' | 'setContextMenu' | 'on' | 'destroy' | 'isDestroyed'>;

export interface TrayDeps {
  platform: NodeJS.Platform;
  /** build/tray, inside app.asar when packaged. */
  iconDir: string;
  /** new Tray(iconPath) */
  createTray: (iconPath: string) => TrayLike;
  /** Menu.buildFromTemplate */
  buildMenu: (template: MenuItemConstructorOptions[]) => Menu;
  /** Menu.setApplicationMenu: the same items in the menu bar, for when there is no tray icon (and on macOS). */
  setApplicationMenu?: (menu: Menu) => void;
  /** Whether the panel the icon sits on is dark right now. */
  darkPanel: () => boolean;
  /** A packaged build: its menu bar has no Reload and no DevTools. */
  packaged?: boolean;
  actions: Record<TrayAction, () => void>;
  log: Logger;
}

/** Electron menu items from the model: the model decides, this only wires clicks. */
export function toTemplate(entries: MenuEntry[], actions: Record<TrayAction, () => void>): MenuItemConstructorOptions[] {
  return entries.map((e) => {
    if (e.type === 'separator') return { id: e.id, type: 'separator' };
    const item: MenuItemConstructorOptions = { id: e.id, type: e.type, label: e.label, enabled: e.enabled ?? true };
    if (e.type === 'checkbox') item.checked = !!e.checked;
    const action = e.action;
    if (action) item.click = () => actions[action]();
    return item;
  });
}

/**
 * The app menu bar: our items under "Berth" (Quit with Cmd/Ctrl+Q), then
 * Edit (copy and paste need it on macOS), View and Window. macOS's first
 * menu also has the app menu's Hide, Hide Others and Show All (Cmd+H,
 * Cmd+Alt+H). A packaged build's View menu is zoom and full screen only:
 * Electron's viewMenu role brings Reload and DevTools (menu-item-roles.ts).
 */
export function applicationTemplate(items: MenuItemConstructorOptions[], o: { platform: NodeJS.Platform; packaged: boolean; name?: string }): MenuItemConstructorOptions[] {
  // Our Quit, not the quit role: the same drain as the tray's, and the role has no accelerator on Windows.
  const withKeys = items.map((i) => (i.id === 'quit' ? { ...i, accelerator: 'CmdOrCtrl+Q' } : i));
  const quitAt = withKeys.findIndex((i) => i.id === 'quit');
  const appItems: MenuItemConstructorOptions[] =
    o.platform === 'darwin' && quitAt >= 0 ? [...withKeys.slice(0, quitAt), { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, ...withKeys.slice(quitAt)] : withKeys;
  const view: MenuItemConstructorOptions = o.packaged
    ? { label: 'View', submenu: [{ role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] }
    : { role: 'viewMenu' };
  return [{ label: o.name ?? 'Berth', submenu: appItems }, { role: 'editMenu' }, view, { role: 'windowMenu' }];
}

/**
 * The tray icon and its menu, re-rendered whenever the view changes and only
 * then (host 'change' events arrive often; a menu rebuilt while open closes it
 * on some platforms).
 */
export class DesktopTray {
  private tray: TrayLike | null = null;
  private lastMenu = '';
  private lastIcon = '';
  private lastTip = '';

  constructor(private readonly deps: TrayDeps) {}

  /** Create the icon; returns false (and logs why) if the platform refused. */
  create(view: TrayView): boolean {
    const icon = this.iconPath(view);
    try {
      this.tray = this.deps.createTray(icon);
    } catch (err) {
      this.deps.log.warn(`no tray icon: ${(err as Error).message}`);
      this.tray = null;
    }
    this.lastIcon = icon;
    // Windows: a left click opens the window, the menu is on the right click. Linux: KDE and XFCE send a left
    // click as the StatusNotifierItem's Activate, which Electron reports as 'click' and cannot answer with the
    // menu (popUpContextMenu is macOS and Windows only): it opens the window too. macOS: a click opens the menu.
    if (this.tray && (this.deps.platform === 'win32' || this.deps.platform === 'linux')) this.tray.on('click', () => this.deps.actions['open-window']());
    this.render(view);
    return !!this.tray;
  }

  get exists(): boolean {
    return !!this.tray && !this.tray.isDestroyed();
  }

  render(view: TrayView): void {
    const entries = menuEntries(view);
    const key = JSON.stringify(entries);
    if (key !== this.lastMenu) {
      this.lastMenu = key;
      const template = toTemplate(entries, this.deps.actions);
      if (this.exists) this.tray!.setContextMenu(this.deps.buildMenu(template));
      this.deps.setApplicationMenu?.(this.deps.buildMenu(applicationTemplate(toTemplate(entries, this.deps.actions), { platform: this.deps.platform, packaged: !!this.deps.packaged, name: displayName(view) })));
    }
    if (!this.exists) return;
    const icon = this.iconPath(view);
    if (icon !== this.lastIcon) {
      this.lastIcon = icon;
      this.tray!.setImage(icon);
    }
    const tip = tooltip(view);
    if (tip !== this.lastTip) {
      this.lastTip = tip;
      this.tray!.setToolTip(tip);
    }
  }

  destroy(): void {
    if (this.exists) this.tray!.destroy();
    this.tray = null;
  }

  private iconPath(view: TrayView): string {
    const name = trayIconName({ platform: this.deps.platform, darkPanel: this.deps.darkPanel(), updateReady: view.update.state === 'ready' });
    return path.join(this.deps.iconDir, name);
  }
}
