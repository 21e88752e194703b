/**
 * A stand-in for the Electron objects main/index.ts hands to startDesktop,
 * built from the small fakes in fakes.ts. It is passed in as an argument,
 * exactly where the real modules go; nothing is patched globally. The
 * single-instance lock is shared between the fake apps of one test, keyed on
 * userData like Electron's, so two "processes" can meet.
 */
import { EventEmitter } from 'node:events';
import type { MessageBoxOptions } from 'electron';
import type { ElectronModules } from '../../main/electron-modules';
import { FakeEvent, FakeMenu, FakeTray, FakeWindow } from './fakes';

export class LockRegistry {
  readonly holders = new Map<string, FakeApp>();
}

export class FakeApp extends EventEmitter {
  readonly calls: { call: string; arg?: unknown }[] = [];
  readonly paths = new Map<string, string>();
  ended: 'quit' | 'exit' | null = null;
  exitCode: number | null = null;
  loginItem = { openAtLogin: false, wasOpenedAtLogin: false };
  isPackaged = false;

  constructor(
    private readonly locks: LockRegistry,
    private readonly appPath: string,
    readonly argv: string[],
  ) {
    super();
    this.paths.set('userData', '/nonexistent/default-user-data');
  }
  private record(call: string, arg?: unknown): void {
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
  whenReady(): Promise<void> {
    this.record('whenReady');
    return Promise.resolve();
  }
  requestSingleInstanceLock(data?: Record<string, unknown>): boolean {
    this.record('requestSingleInstanceLock', data);
    const key = this.getPath('userData');
    const holder = this.locks.holders.get(key);
    if (holder && holder !== this) {
      // Like Electron: the running instance hears of it later (it comes from another process), not within this call.
      setImmediate(() => holder.emit('second-instance', new FakeEvent(), this.argv, '/', data));
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
  /** The windows this app has open (set by fakeElectron). */
  windows: () => FakeWindow[] = () => [];

  /**
   * Like Electron's app.quit(): before-quit first (a listener may prevent it);
   * then every window is closed, and one that refuses (its 'close' prevented,
   * or its page's beforeunload) cancels the quit; then will-quit (preventable).
   */
  quit(): void {
    const e = new FakeEvent();
    this.emit('before-quit', e);
    if (e.defaultPrevented) return this.record('quit', 'prevented');
    for (const w of this.windows()) {
      if (w.destroyed) continue;
      if (w.refusesUnload || w.userClose().defaultPrevented) return this.record('quit', 'vetoed by a window');
    }
    const wq = new FakeEvent();
    this.emit('will-quit', wq);
    if (wq.defaultPrevented) return this.record('quit', 'prevented');
    this.record('quit', 'went');
    this.ended = 'quit';
  }
  exit(code = 0): void {
    this.record('exit', code);
    this.ended = 'exit';
    this.exitCode = code;
  }
  relaunch(opts?: { args?: string[]; execPath?: string }): void {
    this.record('relaunch', opts);
  }
  setAppUserModelId(id: string): void {
    this.record('setAppUserModelId', id);
  }
  getLoginItemSettings() {
    return { ...this.loginItem };
  }
  setLoginItemSettings(s: { openAtLogin?: boolean }): void {
    this.record('setLoginItemSettings', s);
    this.loginItem.openAtLogin = !!s.openAtLogin;
  }
}

export interface FakeElectron {
  modules: ElectronModules;
  app: FakeApp;
  windows: FakeWindow[];
  trays: FakeTray[];
  appMenu: () => FakeMenu | null;
  dialogs: MessageBoxOptions[];
  errorBoxes: string[];
  external: string[];
  clipboard: string[];
  cookies: { url: string; name?: string; value?: string; httpOnly?: boolean; sameSite?: string }[];
  nativeTheme: EventEmitter & { shouldUseDarkColors: boolean };
}

/** `answers`: the button index each message box returns, in order (default 0). */
export function fakeElectron(opts: { locks: LockRegistry; appPath: string; argv: string[]; answers?: number[] }): FakeElectron {
  const app = new FakeApp(opts.locks, opts.appPath, opts.argv);
  const windows: FakeWindow[] = [];
  const trays: FakeTray[] = [];
  let appMenu: FakeMenu | null = null;
  const dialogs: MessageBoxOptions[] = [];
  const errorBoxes: string[] = [];
  const external: string[] = [];
  const clipboard: string[] = [];
  const cookies: FakeElectron['cookies'] = [];
  const answers = [...(opts.answers ?? [])];
  const nativeTheme = Object.assign(new EventEmitter(), { shouldUseDarkColors: false, shouldUseDarkColorsForSystemIntegratedUI: true });
  app.windows = () => windows;
  class BrowserWindow extends FakeWindow {
    constructor(o: ConstructorParameters<typeof FakeWindow>[0]) {
      super(o);
      windows.push(this);
    }
  }
  class Tray extends FakeTray {
    constructor(image: string) {
      super(image);
      trays.push(this);
    }
  }
  class Notification extends EventEmitter {
    static isSupported() {
      return false;
    }
  }
  const modules = {
    app,
    BrowserWindow,
    Tray,
    Menu: {
      buildFromTemplate: (t: ConstructorParameters<typeof FakeMenu>[0]) => new FakeMenu(t),
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
      showErrorBox: (title: string, content: string) => errorBoxes.push(`${title}: ${content}`),
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
        setPermissionRequestHandler: () => undefined,
      },
    },
    powerMonitor: new EventEmitter(),
    screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
  } as unknown as ElectronModules;
  return { modules, app, windows, trays, appMenu: () => appMenu, dialogs, errorBoxes, external, clipboard, cookies, nativeTheme };
}
