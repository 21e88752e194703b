import path from 'node:path';
import type { Menu, MenuItemConstructorOptions, Tray } from 'electron';
import type { Logger } from '../app/log';
import { menuEntries, tooltip, trayIconName, type MenuEntry, type TrayAction, type TrayView } from './tray-model';

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

/** The app menu bar: our items under "Berth", plus the standard Edit and Window menus (copy and paste need Edit on macOS). */
export function applicationTemplate(items: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return [{ label: 'Berth', submenu: items }, { role: 'editMenu' }, { role: 'viewMenu' }, { role: 'windowMenu' }];
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
    // Windows: a left click opens the window (macOS and Linux show the menu).
    if (this.tray && this.deps.platform === 'win32') this.tray.on('click', () => this.deps.actions['open-window']());
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
      this.deps.setApplicationMenu?.(this.deps.buildMenu(applicationTemplate(toTemplate(entries, this.deps.actions))));
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
