/**
 * Stand-ins for the few Electron objects main/ is handed (a window, a tray, a
 * menu). They record what the code under test asked of them; they are passed
 * in through the same factories Electron's real objects are, never patched
 * into a module. Anything else in these tests is real: sockets, files, hosts.
 */
import { EventEmitter } from 'node:events';
import type { BrowserWindowConstructorOptions, MenuItemConstructorOptions } from 'electron';
import type { WindowLike } from '../../main/window';
import type { TrayLike } from '../../main/tray';

export class FakeEvent {
  defaultPrevented = false;
  constructor(readonly url = '') {}
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

export class FakeWebContents extends EventEmitter {
  url = '';
  openHandler: ((d: { url: string }) => { action: string }) | null = null;
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.openHandler = h;
  }
  getURL(): string {
    return this.url;
  }
  /** What Electron does when the page tries to go somewhere: ask the listeners, then go unless prevented. */
  navigate(url: string, event = 'will-navigate'): FakeEvent {
    const e = new FakeEvent(url);
    this.emit(event, e);
    if (!e.defaultPrevented) this.url = url;
    return e;
  }
}

export class FakeWindow extends EventEmitter {
  readonly webContents = new FakeWebContents();
  readonly calls: string[] = [];
  loaded: string[] = [];
  visible = false;
  minimized = false;
  maximized = false;
  destroyed = false;
  /** Its page refuses to unload (a beforeunload handler), which vetoes an app.quit(). */
  refusesUnload = false;
  bounds = { x: 10, y: 20, width: 1100, height: 760 };
  constructor(readonly options: BrowserWindowConstructorOptions) {
    super();
    if (options.x !== undefined) this.bounds = { x: options.x, y: options.y!, width: options.width!, height: options.height! };
    else this.bounds = { ...this.bounds, width: options.width!, height: options.height! };
  }
  async loadURL(url: string): Promise<void> {
    this.calls.push(`load ${url}`);
    this.loaded.push(url);
    this.webContents.url = url;
  }
  show(): void {
    this.calls.push('show');
    this.visible = true;
    this.minimized = false;
  }
  hide(): void {
    this.calls.push('hide');
    this.visible = false;
  }
  focus(): void {
    this.calls.push('focus');
  }
  minimize(): void {
    this.calls.push('minimize');
    this.minimized = true;
  }
  restore(): void {
    this.calls.push('restore');
    this.minimized = false;
  }
  maximize(): void {
    this.maximized = true;
  }
  isMinimized(): boolean {
    return this.minimized;
  }
  isVisible(): boolean {
    return this.visible;
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  getNormalBounds() {
    return { ...this.bounds };
  }
  /** The user clicks the close button: Electron emits 'close', and closes unless prevented. */
  userClose(): FakeEvent {
    const e = new FakeEvent();
    this.emit('close', e);
    if (!e.defaultPrevented) {
      this.destroyed = true;
      this.emit('closed');
    }
    return e;
  }
}

export function asWindow(w: FakeWindow): WindowLike {
  return w as unknown as WindowLike;
}

export class FakeTray extends EventEmitter {
  image: string;
  tooltip = '';
  menu: FakeMenu | null = null;
  destroyed = false;
  readonly history: string[] = [];
  constructor(image: string) {
    super();
    this.image = image;
  }
  setImage(image: string): void {
    this.image = image;
    this.history.push(`image ${image}`);
  }
  setToolTip(t: string): void {
    this.tooltip = t;
    this.history.push(`tooltip ${t}`);
  }
  setContextMenu(m: FakeMenu): void {
    this.menu = m;
    this.history.push('menu');
  }
  destroy(): void {
    this.destroyed = true;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

export function asTray(t: FakeTray): TrayLike {
  return t as unknown as TrayLike;
}

/** A built menu: the template, with a way to find and click items by id like Menu.getMenuItemById. */
export class FakeMenu {
  constructor(readonly template: MenuItemConstructorOptions[]) {}
  item(id: string): MenuItemConstructorOptions | undefined {
    const walk = (items: MenuItemConstructorOptions[]): MenuItemConstructorOptions | undefined => {
      for (const i of items) {
        if (i.id === id) return i;
        if (Array.isArray(i.submenu)) {
          const found = walk(i.submenu);
          if (found) return found;
        }
      }
      return undefined;
    };
    return walk(this.template);
  }
  click(id: string): void {
    const i = this.item(id);
    if (!i) throw new Error(`no menu item ${id}`);
    if (i.enabled === false) throw new Error(`menu item ${id} is disabled`);
    (i.click as () => void)();
  }
  labels(): string[] {
    return this.template.filter((i) => i.type !== 'separator').map((i) => String(i.label));
  }
}
