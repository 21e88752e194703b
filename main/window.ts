import type { BrowserWindow, BrowserWindowConstructorOptions, CookiesSetDetails, Event as ElectronEvent, WebContents } from 'electron';
import type { Logger } from '../app/log';
import { classifyNavigation, type NavigationKind } from '../app/navigation';
import { cookieName } from '../app/server/security';
import { loadWindowState, saveWindowState, type Rect, type WindowState } from './window-state';

/** The parts of a BrowserWindow this module uses: the real one, or a test double. */
export type WindowLike = Pick<
  BrowserWindow,
  'loadURL' | 'show' | 'hide' | 'focus' | 'minimize' | 'restore' | 'isMinimized' | 'isVisible' | 'isMaximized' | 'maximize' | 'getNormalBounds' | 'isDestroyed' | 'on' | 'once'
> & {
  webContents: Pick<WebContents, 'setWindowOpenHandler' | 'on' | 'getURL'>;
};

export interface WindowDeps {
  createWindow: (options: BrowserWindowConstructorOptions) => WindowLike;
  /** session.defaultSession.cookies.set */
  setCookie: (details: CookiesSetDetails) => Promise<void>;
  /** shell.openExternal: the user's default browser. */
  openExternal: (url: string) => Promise<void>;
  /** The screens' work areas now, to keep a remembered position reachable. */
  displays: () => Rect[];
  /** Where window-state.json lives (userData). */
  stateDir: string;
  log: Logger;
  /** True once the app is quitting: closing then really closes. */
  leaving: () => boolean;
  /** Without a tray icon a hidden window could not be found again, so closing minimizes instead. */
  hasTray: () => boolean;
  icon?: string;
  /** The colour a new window is filled with before its page paints (the page's own background, not white). */
  backgroundColor?: () => string;
  /** Before the window shows (macOS: the Dock icon comes back first, so the window opens on a regular app). */
  beforeShow?: () => Promise<void> | void;
  /** After the window was hidden or closed (macOS: the Dock icon goes). */
  afterHide?: () => void;
  setTimer?: (fn: () => void, ms: number) => { unref?: () => void } | number;
  clearTimer?: (t: unknown) => void;
}

/** How long a new window waits for its page to paint before it shows anyway (a page that never paints must not keep it hidden). */
const PAINT_WAIT_MS = 3000;

/** The options every Berth window is built with: a web page with no Node, no preload, sandboxed. */
export function windowOptions(state: WindowState, icon?: string, backgroundColor?: string): BrowserWindowConstructorOptions {
  return {
    ...(state.x !== undefined && state.y !== undefined ? { x: state.x, y: state.y } : {}),
    width: state.width,
    height: state.height,
    minWidth: 480,
    minHeight: 360,
    // Shown once its page has painted (ready-to-show), never blank.
    show: false,
    title: 'Berth',
    ...(icon ? { icon } : {}),
    ...(backgroundColor ? { backgroundColor } : {}),
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  };
}

/**
 * Berth's one window: the web UI, signed in with the auth cookie, kept on the
 * server's origin. Closing it hides it to the tray; it remembers where it was.
 */
export class DesktopWindow {
  private win: WindowLike | null = null;
  private serverUrl: string | null = null;
  private saveTimer: unknown = null;
  /** Resolves once the current window's page first painted (or the wait ran out). */
  private painted: Promise<void> = Promise.resolve();
  /** Remembered maximized: applied when the window first shows, since maximize() shows a hidden window. */
  private maximizeOnShow = false;

  constructor(private readonly deps: WindowDeps) {}

  get isOpen(): boolean {
    return !!this.win && !this.win.isDestroyed() && this.win.isVisible();
  }

  /**
   * Show the UI at `serverUrl`, signed in; creates the window the first time.
   * `background`: minimized in the taskbar, without taking focus.
   */
  async open(serverUrl: string, token: string, how: { background?: boolean } = {}): Promise<void> {
    const win = this.ensureWindow();
    await this.signIn(serverUrl, token);
    if (this.needsLoad(win, serverUrl)) this.load(win, serverUrl);
    if (how.background) {
      win.minimize();
      return;
    }
    await this.painted;
    if (win.isDestroyed()) return;
    await this.deps.beforeShow?.();
    if (win.isMinimized()) win.restore();
    if (this.maximizeOnShow) {
      this.maximizeOnShow = false;
      win.maximize();
    } else win.show();
    win.focus();
  }

  /** The server moved (settings changed its port): a window that is open follows it. */
  async serverMoved(serverUrl: string, token: string): Promise<void> {
    const win = this.win;
    this.serverUrl = serverUrl;
    if (!win || win.isDestroyed()) return;
    await this.signIn(serverUrl, token);
    if (this.needsLoad(win, serverUrl)) this.load(win, serverUrl);
  }

  hide(): void {
    if (this.win && !this.win.isDestroyed()) this.win.hide();
    this.deps.afterHide?.();
  }

  private async signIn(serverUrl: string, token: string): Promise<void> {
    this.serverUrl = serverUrl;
    // HttpOnly, so the page's scripts never see the token; SameSite=Strict, as the server itself sets it.
    const url = new URL('/', serverUrl);
    // An http address without a port is on 80.
    await this.deps.setCookie({ url: url.href, name: cookieName(Number(url.port) || 80), value: token, path: '/', httpOnly: true, sameSite: 'strict' });
  }

  private needsLoad(win: WindowLike, serverUrl: string): boolean {
    const current = win.webContents.getURL();
    if (!current) return true;
    try {
      return new URL(current).origin !== new URL(serverUrl).origin;
    } catch {
      return true;
    }
  }

  private load(win: WindowLike, url: string): void {
    win.loadURL(url).catch((err: Error) => this.deps.log.warn(`the window could not load ${url}: ${err.message}`));
  }

  private ensureWindow(): WindowLike {
    if (this.win && !this.win.isDestroyed()) return this.win;
    const state = loadWindowState(this.deps.stateDir, this.deps.displays());
    const win = this.deps.createWindow(windowOptions(state, this.deps.icon, this.deps.backgroundColor?.()));
    this.maximizeOnShow = state.maximized;
    this.win = win;
    this.painted = new Promise<void>((resolve) => {
      win.once('ready-to-show', () => resolve());
      const t = (this.deps.setTimer ?? setTimeout)(() => resolve(), PAINT_WAIT_MS);
      if (typeof t === 'object' && t.unref) t.unref();
    });
    this.route(win);
    win.on('close', (event: ElectronEvent) => {
      this.saveNow(win);
      if (this.deps.leaving()) return;
      event.preventDefault();
      if (this.deps.hasTray()) {
        win.hide();
        this.deps.afterHide?.();
      } else win.minimize();
    });
    win.on('closed', () => {
      if (this.win === win) this.win = null;
      this.deps.afterHide?.();
    });
    const later = () => this.saveSoon(win);
    win.on('resize', later);
    win.on('move', later);
    win.on('maximize', later);
    win.on('unmaximize', later);
    return win;
  }

  /** Every way a page can leave goes through the navigation policy. */
  private route(win: WindowLike): void {
    const decide = (target: string, kind: NavigationKind) => {
      const verdict = this.serverUrl ? classifyNavigation({ target, serverUrl: this.serverUrl, kind }) : 'block';
      if (verdict === 'external') {
        this.deps.openExternal(target).catch((err: Error) => this.deps.log.warn(`could not open ${target} in the browser: ${err.message}`));
      } else if (verdict === 'block') {
        this.deps.log.warn(`blocked ${kind === 'new-window' ? 'a new window' : 'navigation'} to ${target.slice(0, 200)}`);
      }
      return verdict;
    };
    win.webContents.setWindowOpenHandler(({ url }) => {
      // Never a second Electron window: same-origin links load here, the rest go to the browser.
      if (decide(url, 'new-window') === 'in-window') this.load(win, url);
      return { action: 'deny' };
    });
    const guard = (event: ElectronEvent & { url: string; isMainFrame: boolean }) => {
      if (decide(event.url, 'navigate') !== 'in-window') event.preventDefault();
    };
    win.webContents.on('will-navigate', guard);
    win.webContents.on('will-redirect', guard);
  }

  private saveSoon(win: WindowLike): void {
    const clear = this.deps.clearTimer ?? ((t: unknown) => clearTimeout(t as NodeJS.Timeout));
    if (this.saveTimer) clear(this.saveTimer);
    const t = (this.deps.setTimer ?? setTimeout)(() => this.saveNow(win), 500);
    if (typeof t === 'object' && t.unref) t.unref();
    this.saveTimer = t;
  }

  private saveNow(win: WindowLike): void {
    if (win.isDestroyed()) return;
    const b = win.getNormalBounds();
    try {
      // A window never shown yet keeps the maximized state it was given.
      saveWindowState(this.deps.stateDir, { ...b, maximized: win.isMaximized() || this.maximizeOnShow });
    } catch (err) {
      this.deps.log.warn(`could not remember the window position: ${(err as Error).message}`);
    }
  }
}
