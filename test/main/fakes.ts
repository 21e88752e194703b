/**
 * Stand-ins for the Electron objects main/ is handed (a window, a tray, a
 * menu). They behave as Electron 41's do, as far as main/ relies on it: each
 * behaviour cites the line of node_modules/electron/electron.d.ts, or the
 * Electron source or doc, that it follows. They are passed in through the
 * same factories Electron's real objects are, never patched into a module.
 * Anything else in these tests is real: sockets, files, hosts.
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

/** Electron delivers what the OS or the renderer reports on a later turn of the event loop, never inside the call that caused it. */
export const later = (fn: () => void) => void setImmediate(fn);

export class FakeWebContents extends EventEmitter {
  url = '';
  openHandler: ((d: { url: string }) => { action: string }) | null = null;
  constructor(readonly owner: FakeWindow) {
    super();
  }
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }): void {
    this.openHandler = h;
  }
  getURL(): string {
    return this.url;
  }
  focus(): void {
    this.owner.calls.push('webContents.focus');
  }
  /** What Electron does when the page tries to go somewhere: ask the listeners, then go unless prevented. */
  navigate(url: string, event = 'will-navigate'): FakeEvent {
    const e = new FakeEvent(url);
    this.emit(event, e);
    if (!e.defaultPrevented) this.url = url;
    return e;
  }
}

/**
 * A BaseWindow: a native window with no web page. The session-end events
 * are BaseWindow's ("query-session-end", "session-end", @platform win32),
 * so any window, shown or not, hears them.
 */
export class FakeBaseWindow extends EventEmitter {
  readonly calls: string[] = [];
  visible = false;
  minimized = false;
  maximized = false;
  destroyed = false;
  bounds = { x: 10, y: 20, width: 1100, height: 760 };
  constructor(readonly options: BrowserWindowConstructorOptions) {
    super();
    if (options.x !== undefined) this.bounds = { x: options.x, y: options.y!, width: options.width!, height: options.height! };
    else if (options.width !== undefined) this.bounds = { ...this.bounds, width: options.width, height: options.height! };
    // electron.d.ts, BaseWindowConstructorOptions.show: "Whether window should be shown when created. Default is `true`."
    this.visible = options.show !== false;
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
  /** electron.d.ts, maximize(): "This will also show (but not focus) the window if it isn't being displayed already." */
  maximize(): void {
    this.calls.push('maximize');
    this.maximized = true;
    this.visible = true;
    this.minimized = false;
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
  /** electron.d.ts, destroy(): "Force closing the window ... `close` event will also not be emitted ... but it guarantees the `closed` event will be emitted." */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.visible = false;
    this.emit('closed');
  }
  /**
   * electron.d.ts, close(): "Try to close the window. This has the same
   * effect as a user manually clicking the close button". The 'close' event
   * comes on a later turn (the page's beforeunload is asked first).
   */
  close(): void {
    later(() => this.userClose());
  }
  /** The user clicks the close button: Electron emits 'close', and closes unless prevented. */
  userClose(): FakeEvent {
    const e = new FakeEvent();
    if (this.destroyed) return e;
    this.emit('close', e);
    if (!e.defaultPrevented) this.destroy();
    return e;
  }
}

export class FakeWindow extends FakeBaseWindow {
  readonly webContents = new FakeWebContents(this);
  loaded: string[] = [];
  /** Its page refuses to unload (a beforeunload handler), which vetoes an app.quit(). */
  refusesUnload = false;
  private painted = false;
  async loadURL(url: string): Promise<void> {
    this.calls.push(`load ${url}`);
    this.loaded.push(url);
    this.webContents.url = url;
    // electron.d.ts, 'ready-to-show': "Emitted when the web page has been rendered (while not being shown)"; once, after the first paint.
    if (!this.painted) {
      this.painted = true;
      later(() => {
        if (!this.destroyed) this.emit('ready-to-show');
      });
    }
  }
}

export function asWindow(w: FakeWindow): WindowLike {
  return w as unknown as WindowLike;
}

/**
 * What a person's click on the tray icon does, per platform:
 * - Windows: the 'click' event; the context menu only on a right click.
 * - macOS: a tray with a context menu opens it on a click.
 * - Linux (a StatusNotifierItem): KDE and XFCE call Activate on a left
 *   click, which Electron reports as 'click' (electron.d.ts: "on Linux this
 *   event is emitted when the tray icon receives an activation"; Chromium's
 *   StatusIconLinuxDbus sets ItemIsMenu false and never shows the menu
 *   itself); only a right click makes the panel show the menu. GNOME's
 *   AppIndicator extension shows the menu on any click.
 */
export type TrayHostKind = 'windows' | 'macos' | 'kde' | 'xfce' | 'gnome-appindicator';

export class FakeTray extends EventEmitter {
  image: string;
  tooltip = '';
  menu: FakeMenu | null = null;
  destroyed = false;
  /** Menus the person saw open, in order. */
  readonly opened: FakeMenu[] = [];
  readonly history: string[] = [];
  constructor(
    image: string,
    readonly host: TrayHostKind = 'windows',
  ) {
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
  /**
   * Replacing the menu closes one that is open: the person reading it sees it
   * vanish (a Linux panel rebuilds it from the new dbusmenu layout; on every
   * system the menu shown is the object that was set, electron.d.ts
   * setContextMenu: "Sets the context menu for this icon").
   */
  setContextMenu(m: FakeMenu): void {
    if (this.openMenu) this.history.push('open menu closed');
    this.openMenu = null;
    this.menu = m;
    this.history.push('menu');
  }
  /** electron.d.ts, popUpContextMenu: "@platform darwin,win32"; on Linux it does nothing. */
  popUpContextMenu(menu?: FakeMenu): void {
    if (this.host !== 'windows' && this.host !== 'macos') return;
    this.show(menu ?? this.menu);
  }
  openMenu: FakeMenu | null = null;
  private show(m: FakeMenu | null): void {
    if (!m) return;
    this.openMenu = m;
    this.opened.push(m);
  }
  leftClick(): void {
    if (this.host === 'macos' && this.menu) return this.show(this.menu);
    if (this.host === 'gnome-appindicator') return this.show(this.menu);
    this.emit('click', new FakeEvent(), { x: 0, y: 0, width: 16, height: 16 });
  }
  rightClick(): void {
    if (this.host === 'windows' || this.host === 'macos') this.emit('right-click', new FakeEvent(), { x: 0, y: 0, width: 16, height: 16 });
    this.show(this.menu);
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

type Role = NonNullable<MenuItemConstructorOptions['role']>;

/**
 * Electron's menu roles (lib/browser/api/menu-item-roles.ts, Electron 41):
 * each role's default accelerator, and the submenu a menu role expands to.
 * `platform` matters: quit has no accelerator on Windows, appMenu is macOS's.
 */
function roleDefaults(role: string, platform: NodeJS.Platform): { accelerator?: string; submenu?: MenuItemConstructorOptions[] } {
  const mac = platform === 'darwin';
  switch (role.toLowerCase()) {
    case 'quit':
      return { accelerator: platform === 'win32' ? undefined : 'CommandOrControl+Q' };
    case 'hide':
      return { accelerator: 'Command+H' };
    case 'hideothers':
      return { accelerator: 'Command+Alt+H' };
    case 'close':
      return { accelerator: 'CommandOrControl+W' };
    case 'minimize':
      return { accelerator: 'CommandOrControl+M' };
    case 'reload':
      return { accelerator: 'CmdOrCtrl+R' };
    case 'forcereload':
      return { accelerator: 'Shift+CmdOrCtrl+R' };
    case 'toggledevtools':
      return { accelerator: mac ? 'Alt+Command+I' : 'Ctrl+Shift+I' };
    case 'togglefullscreen':
      return { accelerator: mac ? 'Control+Command+F' : 'F11' };
    case 'resetzoom':
      return { accelerator: 'CommandOrControl+0' };
    case 'zoomin':
      return { accelerator: 'CommandOrControl+Plus' };
    case 'zoomout':
      return { accelerator: 'CommandOrControl+-' };
    case 'copy':
      return { accelerator: 'CommandOrControl+C' };
    case 'paste':
      return { accelerator: 'CommandOrControl+V' };
    case 'cut':
      return { accelerator: 'CommandOrControl+X' };
    case 'selectall':
      return { accelerator: 'CommandOrControl+A' };
    case 'undo':
      return { accelerator: 'CommandOrControl+Z' };
    case 'appmenu':
      return { submenu: [{ role: 'about' }, { type: 'separator' }, { role: 'services' }, { type: 'separator' }, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, { type: 'separator' }, { role: 'quit' }] };
    case 'filemenu':
      return { submenu: [mac ? { role: 'close' } : { role: 'quit' }] };
    case 'editmenu':
      return { submenu: [{ role: 'undo' }, { role: 'redo' }, { type: 'separator' }, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] };
    case 'viewmenu':
      return { submenu: [{ role: 'reload' }, { role: 'forceReload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] };
    case 'windowmenu':
      return { submenu: [{ role: 'minimize' }, { role: 'zoom' }, ...(mac ? [{ type: 'separator' as const }, { role: 'front' as Role }] : [{ role: 'close' as Role }])] };
    default:
      return {};
  }
}

/** One key combination, as a set of lower-case parts with CmdOrCtrl resolved for the platform (Electron's accelerator syntax). */
export function normalizeAccelerator(acc: string, platform: NodeJS.Platform): string {
  const mac = platform === 'darwin';
  const parts = acc.split('+').map((p) => {
    const k = p.trim().toLowerCase();
    if (k === 'commandorcontrol' || k === 'cmdorctrl') return mac ? 'command' : 'control';
    if (k === 'cmd') return 'command';
    if (k === 'ctrl') return 'control';
    if (k === 'option') return 'alt';
    return k;
  });
  return parts.sort().join('+');
}

/** What a role does when its item is used, as far as the tests look: the app's own methods, or a record of it. */
export type RoleHandler = (role: string) => void;

/** A built menu: the template with roles expanded as Electron expands them, found and clicked by id like Menu.getMenuItemById. */
export class FakeMenu {
  readonly template: MenuItemConstructorOptions[];
  constructor(
    template: MenuItemConstructorOptions[],
    readonly ctx: { platform: NodeJS.Platform; onRole?: RoleHandler } = { platform: 'linux' },
  ) {
    const expand = (items: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] =>
      items.map((i) => {
        const d = i.role ? roleDefaults(i.role, ctx.platform) : {};
        // An item's own accelerator and submenu win over the role's defaults (Electron's MenuItem constructor).
        const submenu = Array.isArray(i.submenu) ? i.submenu : d.submenu;
        return { ...i, ...(i.accelerator === undefined && d.accelerator ? { accelerator: d.accelerator } : {}), ...(submenu ? { submenu: expand(submenu) } : {}) };
      });
    this.template = expand(template);
  }
  /** Every item, submenus included, depth first. */
  all(): MenuItemConstructorOptions[] {
    const out: MenuItemConstructorOptions[] = [];
    const walk = (items: MenuItemConstructorOptions[]) => {
      for (const i of items) {
        out.push(i);
        if (Array.isArray(i.submenu)) walk(i.submenu);
      }
    };
    walk(this.template);
    return out;
  }
  item(id: string): MenuItemConstructorOptions | undefined {
    return this.all().find((i) => i.id === id);
  }
  roles(): string[] {
    return this.all()
      .filter((i) => i.role)
      .map((i) => String(i.role).toLowerCase());
  }
  click(id: string): void {
    const i = this.item(id);
    if (!i) throw new Error(`no menu item ${id}`);
    this.use(i);
  }
  /**
   * A key press while the app has focus: the item whose accelerator it is
   * runs (its click, or its role's action). Returns whether any item had it.
   */
  press(keys: string): boolean {
    const want = normalizeAccelerator(keys, this.ctx.platform);
    const i = this.all().find((x) => x.accelerator && normalizeAccelerator(String(x.accelerator), this.ctx.platform) === want && x.visible !== false);
    if (!i || i.enabled === false) return false;
    this.use(i);
    return true;
  }
  private use(i: MenuItemConstructorOptions): void {
    if (i.enabled === false) throw new Error(`menu item ${i.id ?? i.role} is disabled`);
    if (i.click) (i.click as () => void)();
    else if (i.role) this.ctx.onRole?.(String(i.role).toLowerCase());
  }
  labels(): string[] {
    return this.template.filter((i) => i.type !== 'separator').map((i) => String(i.label));
  }
}
