/**
 * A stand-in for the Electron objects main/index.ts hands to startDesktop,
 * built from the small fakes in fakes.ts. It is passed in as an argument,
 * exactly where the real modules go; nothing is patched globally.
 *
 * It tells the truth: every behaviour main/ relies on is modelled on Electron
 * 41's, with the line of node_modules/electron/electron.d.ts (or the Electron
 * source) it follows cited beside it. Where the real thing is asynchronous,
 * so is this; where the OS can take something away (an unreferenced
 * notification, a relaunch helper inside an AppImage mount, a Windows session
 * that ends), so does this.
 *
 * The single-instance lock is shared between the fake apps of one test,
 * keyed on userData like Electron's, so two "processes" can meet.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { LoginItemSettings, MessageBoxOptions } from 'electron';
import type { ElectronModules } from '../../main/electron-modules';
import { FakeBaseWindow, FakeEvent, FakeMenu, FakeTray, FakeWindow, later, type TrayHostKind } from './fakes';

export class LockRegistry {
  readonly holders = new Map<string, FakeApp>();
}

/** A relaunch Electron carried out when the app ended: what it ran, or why nothing came back. */
export interface Relaunch {
  execPath: string;
  args: string[];
  /** Set when the relaunch never happened. */
  lost?: string;
}

/** Windows' Run key entry, as Electron's login item API writes it. */
interface RunValue {
  name: string;
  path: string;
  args: string[];
  /** The StartupApproved\Run state: false once the person disables Berth in Task Manager. */
  approved: boolean;
}

export class FakeApp extends EventEmitter {
  readonly calls: { call: string; arg?: unknown }[] = [];
  readonly paths = new Map<string, string>();
  ended: 'quit' | 'exit' | 'killed' | null = null;
  exitCode: number | null = null;
  isPackaged = false;
  ready = false;
  /** What Electron will relaunch when this app ends (app.relaunch), and what happened to it once it did. */
  readonly relaunchRequests: { args?: string[]; execPath?: string }[] = [];
  readonly relaunches: Relaunch[] = [];
  /** Windows: the Run value and its Task Manager state. macOS: the SMAppService registrations, by service. */
  runValue: RunValue | null = null;
  readonly services = new Map<string, LoginItemSettings['status']>();
  readonly dock: FakeDock | undefined;

  constructor(
    private readonly locks: LockRegistry,
    private readonly appPath: string,
    readonly argv: string[],
    readonly platform: NodeJS.Platform,
    /** process.execPath: the Electron binary (inside the AppImage's mount, for an AppImage). */
    readonly execPath: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    super();
    this.paths.set('userData', '/nonexistent/default-user-data');
    // electron.d.ts, app.dock: "`Dock` on macOS, `undefined` on all other platforms".
    this.dock = platform === 'darwin' ? new FakeDock(this) : undefined;
  }
  record(call: string, arg?: unknown): void {
    this.calls.push({ call, arg });
  }
  names(): string[] {
    return this.calls.map((c) => c.call);
  }
  setPath(name: string, p: string): void {
    this.record('setPath', `${name}=${p}`);
    this.paths.set(name, p);
  }
  getPath(name: string): string {
    return this.paths.get(name)!;
  }
  getAppPath(): string {
    return this.appPath;
  }
  getVersion(): string {
    return '0.0.0';
  }
  isReady(): boolean {
    return this.ready;
  }
  /** Ready comes from the OS's event loop, on a later turn than the call that waits for it. */
  whenReady(): Promise<void> {
    this.record('whenReady');
    return new Promise((resolve) =>
      later(() => {
        if (!this.ready) {
          this.ready = true;
          this.emit('ready');
        }
        resolve();
      }),
    );
  }
  requestSingleInstanceLock(data?: Record<string, unknown>): boolean {
    this.record('requestSingleInstanceLock', data);
    const key = this.getPath('userData');
    const holder = this.locks.holders.get(key);
    if (holder && holder !== this) {
      // Like Electron: the running instance hears of it later (it comes from another process), not within this call.
      later(() => holder.emit('second-instance', new FakeEvent(), this.argv, '/', data));
      return false;
    }
    this.locks.holders.set(key, this);
    return true;
  }
  releaseSingleInstanceLock(): void {
    this.record('releaseSingleInstanceLock');
    const key = this.getPath('userData');
    if (this.locks.holders.get(key) === this) this.locks.holders.delete(key);
  }
  hasLock(): boolean {
    return this.locks.holders.get(this.getPath('userData')) === this;
  }
  /** Every window this app has (BaseWindows and BrowserWindows; set by fakeElectron). */
  windows: () => FakeBaseWindow[] = () => [];

  /**
   * electron.d.ts, quit(): "Try to close all windows. The `before-quit`
   * event will be emitted first. If all windows are successfully closed, the
   * `will-quit` event will be emitted and by default the application will
   * terminate." before-quit is emitted inside the call (Electron's
   * Browser::Quit); closing the windows asks each page for its beforeunload,
   * so the rest happens on later turns, and a window that refuses cancels it.
   */
  quit(): void {
    const e = new FakeEvent();
    this.emit('before-quit', e);
    if (e.defaultPrevented) return this.record('quit', 'prevented');
    this.record('quit', 'asked');
    const open = this.windows().filter((w) => !w.destroyed);
    const closeNext = (i: number): void => {
      if (this.ended) return;
      if (i >= open.length) {
        const wq = new FakeEvent();
        this.emit('will-quit', wq);
        if (wq.defaultPrevented) return this.record('quit', 'prevented');
        this.record('quit', 'went');
        this.emit('quit');
        this.end('quit', 0);
        return;
      }
      const w = open[i]!;
      if (w.destroyed) return closeNext(i + 1);
      if ((w as FakeWindow).refusesUnload || w.userClose().defaultPrevented) return this.record('quit', 'vetoed by a window');
      later(() => closeNext(i + 1));
    };
    later(() => closeNext(0));
  }
  /** electron.d.ts, exit(): "Exits immediately ... the `before-quit` and `will-quit` events will not be emitted." */
  exit(code = 0): void {
    this.record('exit', code);
    for (const w of this.windows()) w.destroy();
    this.end('exit', code);
  }
  /**
   * electron.d.ts, relaunch(): "Relaunches the app when the current instance
   * exits. ... When `app.relaunch` is called multiple times, multiple
   * instances will be started". Electron's relauncher is a helper run from
   * the current executable (/proc/self/exe) that waits for this process to
   * exit. Inside an AppImage that executable lives in the image's FUSE
   * mount, which goes away when the app exits (electron-builder#1727,
   * #4650): nothing is started.
   */
  relaunch(opts?: { args?: string[]; execPath?: string }): void {
    this.record('relaunch', opts);
    this.relaunchRequests.push(opts ?? {});
  }
  private end(how: 'quit' | 'exit' | 'killed', code: number): void {
    if (this.ended) return;
    this.ended = how;
    this.exitCode = code;
    if (how === 'killed') return;
    const mount = this.env.APPDIR;
    for (const r of this.relaunchRequests) {
      const relaunch: Relaunch = { execPath: r.execPath ?? this.execPath, args: r.args ?? this.argv.slice(1) };
      if (mount && this.execPath.startsWith(mount + path.sep)) relaunch.lost = `the relaunch helper (${this.execPath}) was inside the AppImage mount ${mount}, which is gone`;
      this.relaunches.push(relaunch);
    }
  }
  /** The OS ends the process (Windows after session-end, a kill): nothing more of it runs. */
  kill(): void {
    this.record('killed');
    this.end('killed', 1);
  }
  setAppUserModelId(id: string): void {
    this.record('setAppUserModelId', id);
  }
  hide(): void {
    this.record('hide');
  }

  /**
   * electron.d.ts, getLoginItemSettings(): Windows: "`openAtLogin` ... If
   * you provided `path` and `args` options to `app.setLoginItemSettings`,
   * then you need to pass the same arguments here"; "`executableWillLaunchAtLogin`
   * ... true if app is set to open at login and its run key is not
   * deactivated ... ignores the `args` option". macOS: SMAppService's
   * `status` per service; `wasOpenedAtLogin` is false for an SMAppService
   * launch (macOS 13 and later have no way to tell: Electron #37244, Apple
   * FB10207829).
   */
  getLoginItemSettings(o: { args?: string[]; type?: string; serviceName?: string; path?: string } = {}): LoginItemSettings {
    if (this.platform === 'win32') {
      const v = this.runValue;
      const sameArgs = !!v && JSON.stringify(v.args) === JSON.stringify(o.args ?? []) && v.path === (o.path ?? this.execPath);
      return {
        openAtLogin: sameArgs,
        executableWillLaunchAtLogin: !!v && v.path === (o.path ?? this.execPath) && v.approved,
        launchItems: v ? [{ name: v.name, path: v.path, args: v.args, scope: 'user', enabled: v.approved }] : [],
        openAsHidden: false,
        wasOpenedAtLogin: false,
        wasOpenedAsHidden: false,
        restoreState: false,
        status: 'not-registered',
      };
    }
    if (this.platform === 'darwin') {
      const status = this.services.get(serviceKey(o)) ?? 'not-registered';
      return { openAtLogin: status === 'enabled', status, wasOpenedAtLogin: false, openAsHidden: false, wasOpenedAsHidden: false, restoreState: false, executableWillLaunchAtLogin: false, launchItems: [] };
    }
    // electron.d.ts: "@platform darwin,win32"; elsewhere nothing is registered.
    return { openAtLogin: false, executableWillLaunchAtLogin: false, launchItems: [], wasOpenedAtLogin: false, openAsHidden: false, wasOpenedAsHidden: false, restoreState: false, status: 'not-registered' };
  }
  /**
   * electron.d.ts, setLoginItemSettings(): Windows writes the Run value
   * (`name` "Defaults to the app's AppUserModelId()"; `enabled` "true will
   * change the startup approved registry key ... Defaults to true"). macOS
   * registers the SMAppService of `type` ("Defaults to `mainAppService`").
   */
  setLoginItemSettings(s: { openAtLogin?: boolean; args?: string[]; enabled?: boolean; name?: string; path?: string; type?: string; serviceName?: string }): void {
    this.record('setLoginItemSettings', s);
    if (this.platform === 'win32') {
      this.runValue = s.openAtLogin ? { name: s.name ?? this.appUserModelId(), path: s.path ?? this.execPath, args: s.args ?? [], approved: s.enabled ?? true } : null;
    } else if (this.platform === 'darwin') {
      this.services.set(serviceKey(s), s.openAtLogin ? 'enabled' : 'not-registered');
    }
  }
  private appUserModelId(): string {
    const set = [...this.calls].reverse().find((c) => c.call === 'setAppUserModelId');
    return String(set?.arg ?? 'electron.app.Electron');
  }
}

function serviceKey(o: { type?: string; serviceName?: string }): string {
  return `${o.type ?? 'mainAppService'}:${o.serviceName ?? ''}`;
}

/** electron.d.ts, class Dock: hide() "Hides the dock icon", show() "Show the dock icon" (a Promise), isVisible(). A regular app starts with its icon. */
export class FakeDock {
  visible = true;
  readonly history: string[] = [];
  constructor(private readonly app: FakeApp) {}
  hide(): void {
    this.visible = false;
    this.history.push('hide');
  }
  show(): Promise<void> {
    this.visible = true;
    this.history.push('show');
    return Promise.resolve();
  }
  isVisible(): boolean {
    return this.visible;
  }
}

/** A main-process notification as the OS holds it: weakly, so one nobody references can be collected with its handlers (electron#16922). */
interface Shown {
  title: string;
  body: string;
  ref: WeakRef<EventEmitter>;
}

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

/** The page's Permissions flow, as Chromium runs it for navigator.clipboard.writeText and the like. */
type CheckHandler = (wc: unknown, permission: string, origin: string, details: { requestingUrl?: string; isMainFrame: boolean }) => boolean;
type RequestHandler = (wc: unknown, permission: string, callback: (granted: boolean) => void, details: { requestingUrl: string; isMainFrame: boolean }) => void;

export interface FakeElectron {
  modules: ElectronModules;
  app: FakeApp;
  windows: FakeWindow[];
  baseWindows: FakeBaseWindow[];
  trays: FakeTray[];
  appMenu: () => FakeMenu | null;
  dialogs: MessageBoxOptions[];
  errorBoxes: string[];
  /** What reached standard error through Electron itself (showErrorBox before ready on Linux). */
  stderr: string[];
  external: string[];
  clipboard: string[];
  notifications: Shown[];
  cookies: { url: string; name?: string; value?: string; httpOnly?: boolean; sameSite?: string }[];
  nativeTheme: EventEmitter & { shouldUseDarkColors: boolean };
  /** The person clicks the notification with this title, a while after it was shown. Resolves false if it was lost. */
  clickNotification(title: string): Promise<boolean>;
  /** The page in `win` (or a frame in it at `frameUrl`) asks for a permission (camera, notifications...): whether the request handler grants it. */
  pageRequestsPermission(win: FakeWindow, permission: string, frameUrl?: string): Promise<boolean>;
  /** The page in `win` (or a frame in it at `frameUrl`) calls navigator.clipboard.writeText(text). Resolves whether it was allowed (and written). */
  pageWritesClipboard(win: FakeWindow, text: string, frameUrl?: string): Promise<boolean>;
  /** The page asks navigator.permissions.query for `permission`: whether the check handler grants it. */
  pageQueriesPermission(win: FakeWindow, permission: string, frameUrl?: string): boolean;
  /**
   * Windows logoff or shutdown: every window (BaseWindow included) hears
   * query-session-end then session-end; before-quit and will-quit are not
   * emitted; once the handlers return, the OS ends the process.
   */
  endWindowsSession(reasons?: ('shutdown' | 'logoff' | 'critical' | 'close-app')[]): void;
  /** Linux/macOS: the system is about to shut down (powerMonitor 'shutdown'). Returns whether a listener asked for a delay. */
  systemShutdown(): boolean;
}

export interface FakeElectronOptions {
  locks: LockRegistry;
  appPath: string;
  argv: string[];
  /** The button index each message box returns, in order (default 0). */
  answers?: number[];
  platform?: NodeJS.Platform;
  /** The process environment the app runs in (APPDIR for an AppImage's mount). */
  env?: NodeJS.ProcessEnv;
  /** process.execPath (default argv[0]). */
  execPath?: string;
  trayHost?: TrayHostKind;
  isPackaged?: boolean;
}

export function fakeElectron(opts: FakeElectronOptions): FakeElectron {
  const platform = opts.platform ?? 'win32';
  const app = new FakeApp(opts.locks, opts.appPath, opts.argv, platform, opts.execPath ?? opts.argv[0] ?? '/usr/lib/electron/electron', opts.env ?? {});
  app.isPackaged = opts.isPackaged ?? false;
  const windows: FakeWindow[] = [];
  const baseWindows: FakeBaseWindow[] = [];
  const trays: FakeTray[] = [];
  let appMenu: FakeMenu | null = null;
  const dialogs: MessageBoxOptions[] = [];
  const errorBoxes: string[] = [];
  const stderr: string[] = [];
  const external: string[] = [];
  const clipboard: string[] = [];
  const notifications: Shown[] = [];
  const cookies: FakeElectron['cookies'] = [];
  const answers = [...(opts.answers ?? [])];
  const nativeTheme = Object.assign(new EventEmitter(), { shouldUseDarkColors: false, shouldUseDarkColorsForSystemIntegratedUI: true });
  let checkHandler: CheckHandler | null = null;
  let requestHandler: RequestHandler | null = null;
  const trayHost: TrayHostKind = opts.trayHost ?? (platform === 'win32' ? 'windows' : platform === 'darwin' ? 'macos' : 'kde');
  app.windows = () => [...baseWindows, ...windows];

  class BaseWindow extends FakeBaseWindow {
    constructor(o: ConstructorParameters<typeof FakeBaseWindow>[0]) {
      super(o);
      baseWindows.push(this);
    }
  }
  class BrowserWindow extends FakeWindow {
    constructor(o: ConstructorParameters<typeof FakeWindow>[0]) {
      super(o);
      windows.push(this);
    }
  }
  class Tray extends FakeTray {
    constructor(image: string) {
      super(image, trayHost);
      trays.push(this);
    }
  }
  class Notification extends EventEmitter {
    /** electron.d.ts: "Whether or not desktop notifications are supported on the current system": Windows, macOS and a Linux desktop all have them. */
    static isSupported(): boolean {
      return true;
    }
    constructor(readonly options: { title: string; body: string }) {
      super();
    }
    show(): void {
      // The OS's notification centre keeps the text, and only a weak hold on the object that handles its click.
      notifications.push({ title: this.options.title, body: this.options.body, ref: new WeakRef(this) });
      later(() => this.emit('show'));
    }
    close(): void {
      this.emit('close');
    }
  }
  const onRole = (role: string) => {
    if (role === 'quit') app.quit();
    else if (role === 'hide') app.hide();
    else app.record(`role ${role}`);
  };
  const modules = {
    app,
    BaseWindow,
    BrowserWindow,
    Tray,
    Menu: {
      buildFromTemplate: (t: ConstructorParameters<typeof FakeMenu>[0]) => new FakeMenu(t, { platform, onRole }),
      setApplicationMenu: (m: FakeMenu) => {
        appMenu = m;
      },
    },
    Notification,
    nativeTheme,
    dialog: {
      showMessageBox: async (o: MessageBoxOptions) => {
        dialogs.push(o);
        return { response: answers.shift() ?? 0, checkboxChecked: false };
      },
      /** electron.d.ts, showErrorBox: "If called before the app `ready` event on Linux, the message will be emitted to stderr, and no GUI dialog will appear." */
      showErrorBox: (title: string, content: string) => {
        if (platform === 'linux' && !app.ready) stderr.push(`${title}\n${content}\n`);
        else errorBoxes.push(`${title}: ${content}`);
      },
    },
    shell: {
      openExternal: async (url: string) => {
        external.push(url);
      },
      showItemInFolder: (p: string) => external.push(`folder:${p}`),
      openPath: async (p: string) => {
        external.push(`path:${p}`);
        return '';
      },
    },
    clipboard: { writeText: (t: string) => clipboard.push(t) },
    session: {
      defaultSession: {
        cookies: {
          set: async (d: FakeElectron['cookies'][number]) => {
            cookies.push(d);
          },
        },
        setPermissionRequestHandler: (h: RequestHandler | null) => {
          requestHandler = h;
        },
        setPermissionCheckHandler: (h: CheckHandler | null) => {
          checkHandler = h;
        },
      },
    },
    powerMonitor: new EventEmitter(),
    screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
  } as unknown as ElectronModules;

  return {
    modules,
    app,
    windows,
    baseWindows,
    trays,
    appMenu: () => appMenu,
    dialogs,
    errorBoxes,
    stderr,
    external,
    clipboard,
    notifications,
    cookies,
    nativeTheme,
    async clickNotification(title) {
      const shown = notifications.find((n) => n.title === title);
      if (!shown) throw new Error(`no notification "${title}" was shown`);
      // A while later: the garbage collector has run by then.
      await new Promise((r) => setTimeout(r, 0));
      collectGarbage();
      const n = shown.ref.deref();
      if (!n) return false;
      n.emit('click', new FakeEvent());
      return true;
    },
    async pageRequestsPermission(win, permission, frameUrl) {
      const requestingUrl = frameUrl ?? win.webContents.getURL();
      // electron.d.ts, setPermissionRequestHandler: "Calling `callback(true)` will allow the permission and `callback(false)` will reject it";
      // with no handler set, Electron grants it.
      const h = requestHandler;
      return h ? new Promise<boolean>((resolve) => h(win.webContents, permission, resolve, { requestingUrl, isMainFrame: frameUrl === undefined })) : true;
    },
    async pageWritesClipboard(win, text, frameUrl) {
      // Blink's ClipboardPromise asks with a request (PermissionService::RequestPermission), which Electron names 'clipboard-sanitized-write'.
      const granted = await this.pageRequestsPermission(win, 'clipboard-sanitized-write', frameUrl);
      if (granted) clipboard.push(text);
      return granted;
    },
    pageQueriesPermission(win, permission, frameUrl) {
      const requestingUrl = frameUrl ?? win.webContents.getURL();
      // navigator.permissions.query is a check: electron.d.ts, setPermissionCheckHandler: "Returning `true` will allow the permission".
      if (!checkHandler) return true;
      return checkHandler(win.webContents, permission, new URL(requestingUrl).origin, { requestingUrl, isMainFrame: frameUrl === undefined });
    },
    endWindowsSession(reasons = ['logoff']) {
      if (platform !== 'win32') throw new Error('session-end is a Windows event (electron.d.ts: "@platform win32")');
      const listeners = app.windows().filter((w) => !w.destroyed);
      for (const w of listeners) w.emit('query-session-end', Object.assign(new FakeEvent(), { reasons }));
      for (const w of listeners) w.emit('session-end', Object.assign(new FakeEvent(), { reasons }));
      // electron.d.ts, 'session-end': "Once this event fires, there is no way to prevent the session from ending."
      app.kill();
    },
    systemShutdown() {
      // electron.d.ts, powerMonitor 'shutdown': "@platform linux,darwin"; "If the event handler invokes `e.preventDefault()`, Electron will attempt to delay system shutdown".
      if (platform === 'win32') return false;
      const e = new FakeEvent();
      modules.powerMonitor.emit('shutdown', e);
      return e.defaultPrevented;
    },
  };
}

/** The launch a registered login item makes at login: the arguments Berth gets (macOS agents: ProgramArguments from the plist in the bundle). */
export function loginLaunchArgs(app: FakeApp, bundle: string): string[] {
  if (app.platform === 'win32') return app.runValue?.approved ? app.runValue.args : [];
  if (app.platform === 'darwin') {
    for (const [key, status] of app.services) {
      if (status !== 'enabled') continue;
      const [type, name] = key.split(':');
      // An agent service runs its plist's ProgramArguments; the main app service opens the app with none.
      if (type === 'agentService' && name) return plistArguments(fs.readFileSync(path.join(bundle, name), 'utf8')).slice(1);
    }
    return [];
  }
  return [];
}

/** ProgramArguments of a launchd plist (the plain XML form). */
export function plistArguments(xml: string): string[] {
  const m = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(xml);
  if (!m) return [];
  return [...m[1]!.matchAll(/<string>([^<]*)<\/string>/g)].map((x) => x[1]!);
}
