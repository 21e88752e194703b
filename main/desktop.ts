import fs from 'node:fs';
import path from 'node:path';
import type {
  App,
  BrowserWindow as BrowserWindowClass,
  Clipboard,
  Dialog,
  Menu as MenuClass,
  NativeTheme,
  Notification as NotificationClass,
  PowerMonitor,
  Screen,
  Shell,
  Tray as TrayClass,
} from 'electron';
import type * as ElectronApi from 'electron';
import type { AppUpdater } from 'electron-updater';
import { resolveConfig, resolveDataDir, type ResolvedConfig } from '../app/config';
import { BerthError, ExitCode } from '../app/errors';
import { createLogSink, type LogSink, type Logger } from '../app/log';
import { appVersion, rendererDir } from '../app/paths';
import { ServerHost } from '../app/lifecycle/host';
import { coreApi } from '../app/lifecycle/api';
import { ensureToken } from '../app/server/token';
import { loadSettings, saveSettings } from '../app/settings/settings';
import { apiRequestBlockers, updateApi, updateEvents } from '../app/update/api';
import { installingRelauncher, takeHandoffEnv, type InstallingRelauncher } from '../app/update/handoff';
import type { UpdateService } from '../app/update/service';
import { parseDesktopArgs, type DesktopArgs } from './args';
import { DesktopLifecycle, QUIT_DRAIN_DEADLINE } from './lifecycle';
import { createLoginItem, startedAtLogin, type LoginItem } from './login-item';
import { acquireSingleInstanceLock, isLaunchData } from './single-instance';
import { startServer } from './startup';
import { DesktopTray } from './tray';
import { checkTrayHost } from './tray-host.linux';
import { darkPanel, type TrayAction, type TrayView } from './tray-model';
import { createDesktopUpdates } from './updater';
import { DesktopWindow } from './window';

/** The Electron objects the shell uses, handed in by main/index.ts (the only file that loads Electron). */
export interface ElectronModules {
  app: App;
  BrowserWindow: typeof BrowserWindowClass;
  Tray: typeof TrayClass;
  Menu: typeof MenuClass;
  Notification: typeof NotificationClass;
  nativeTheme: NativeTheme;
  dialog: Dialog;
  shell: Shell;
  clipboard: Clipboard;
  session: typeof ElectronApi.session;
  powerMonitor: PowerMonitor;
  screen: Screen;
}

export interface DesktopOptions {
  electron: ElectronModules;
  /** electron-updater's autoUpdater; read only when the app is packaged (reading it builds the platform's updater). */
  autoUpdater: () => AppUpdater;
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Log uncaught errors instead of Electron's crash dialog (default true; tests in a shared process say false). */
  processHandlers?: boolean;
}

/** What exists before Electron is ready. */
interface Basics {
  e: ElectronModules;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  args: DesktopArgs;
  handoff: { instance: string; pid: number | null } | null;
  dataDir: string;
  logs: LogSink;
  log: Logger;
  lifecycle: DesktopLifecycle;
  version: string;
  autoUpdater: () => AppUpdater;
  /** A second launch asked for the window before the server was up. */
  openWhenServing: boolean;
}

/** What the features share once the app is ready. */
interface Desktop extends Basics {
  config: ResolvedConfig;
  token: string;
  relaunchers: InstallingRelauncher;
  window: DesktopWindow;
  loginItem: LoginItem;
  updates: UpdateService;
  tray: DesktopTray | null;
  /** Why there is no tray icon (Linux without a StatusNotifier host), or null. */
  noTrayReason: string | null;
  host: ServerHost | null;
}

/**
 * Berth's desktop app, top to bottom. The single-instance lock comes first;
 * then, once Electron is ready, the shell (window, login item, updater, tray
 * and menu) and last the server, whose start-up verdict decides what the
 * person sees.
 */
export async function startDesktop(opts: DesktopOptions): Promise<void> {
  const env = opts.env ?? process.env;
  // electron-updater's AppImage install runs the new file once with this set and waits for it: leave at once.
  if (env.APPIMAGE_EXIT_AFTER_INSTALL === 'true') return opts.electron.app.exit(0);

  const basics = setupBasics(opts, env);
  if (!(await setupSingleInstance(basics))) return;
  setupSecondInstance(basics);
  setupQuitHandling(basics);
  setupPlatform(basics);

  await opts.electron.app.whenReady();
  const d = setupConfig(basics);
  if (!d) return basics.lifecycle.quit('bad configuration');
  setupActivation(d);
  setupPowerEvents(d);
  setupWindow(d);
  setupLoginItem(d);
  setupUpdates(d);
  await setupTray(d);
  await setupServer(d);
}

function setupBasics(opts: DesktopOptions, env: NodeJS.ProcessEnv): Basics {
  const { app } = opts.electron;
  const platform = opts.platform ?? process.platform;
  const argv = opts.argv ?? process.argv;
  const args = parseDesktopArgs(argv.slice(1));
  // Installers drop our arguments, so an update's successor learns its predecessor from the environment.
  const fromEnv = takeHandoffEnv(env);
  const handoff = args.handoff ? { instance: args.handoff, pid: args.handoffPid } : fromEnv;
  // --data-dir / BERTH_DATA_DIR move userData itself: the lock, the browser profile and Berth's files stay together.
  const wanted = resolveDataDir({ flags: { dataDir: args.dataDir }, env });
  if (wanted.source !== 'default') app.setPath('userData', wanted.dataDir);
  const dataDir = app.getPath('userData');
  const logs = createLogSink({ dir: path.join(dataDir, 'logs'), console: process.stderr });
  const log = logs.root.child({ scope: 'desktop' });
  const version = appVersion();
  const lifecycle = new DesktopLifecycle({
    app,
    log: logs.root.child({ scope: 'lifecycle' }),
    args: argv.slice(1),
    // AppImage: relaunch the image file, not the executable inside its temporary mount.
    execPath: env.APPIMAGE || undefined,
    drainDeadline: QUIT_DRAIN_DEADLINE,
    flushLogs: () => logs.close(),
    installerQuitsApp: platform === 'darwin',
  });
  log.info(`Berth ${version} desktop starting (Electron ${process.versions.electron ?? '?'}, pid ${process.pid}, data ${dataDir}${handoff ? `, replacing ${handoff.instance}` : ''})`);
  if (opts.processHandlers !== false) {
    process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception in the main process'));
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection in the main process'));
  }
  return { e: opts.electron, platform, env, args, handoff, dataDir, logs, log, lifecycle, version, autoUpdater: opts.autoUpdater, openWhenServing: false };
}

async function setupSingleInstance(b: Basics): Promise<boolean> {
  const lock = await acquireSingleInstanceLock(b.e.app, {
    data: { hidden: b.args.hidden, handoff: b.handoff?.instance ?? null },
    log: b.logs.root.child({ scope: 'single-instance' }),
  });
  if (lock.acquired) return true;
  // The running Berth has been told (second-instance) and shows itself; this copy leaves quietly.
  await b.lifecycle.quit('another Berth is running');
  return false;
}

function setupQuitHandling(b: Basics): void {
  // Cmd+Q, OS logout, an installer closing us, Playwright's close(): every quit drains first.
  b.e.app.on('before-quit', (event) => b.lifecycle.onBeforeQuit(event));
  // A tray app keeps running with no window open.
  b.e.app.on('window-all-closed', () => undefined);
}

function setupPlatform(b: Basics): void {
  // Windows: notifications need the app's AppUserModelID (electron-builder's appId).
  if (b.platform === 'win32') b.e.app.setAppUserModelId('dev.berth.app');
}

function setupConfig(b: Basics): Desktop | null {
  let config: ResolvedConfig;
  try {
    config = resolveConfig({ flags: { host: b.args.host, port: b.args.port, dataDir: b.dataDir }, env: b.env });
  } catch (err) {
    const message = err instanceof BerthError ? err.message : String(err);
    b.log.error(`bad configuration: ${message}`);
    b.e.dialog.showErrorBox('Berth cannot start', message);
    return null;
  }
  for (const w of config.warnings) b.log.warn(w);
  const token = ensureToken(b.dataDir);
  if (token.warning) b.log.warn(token.warning);
  // The same object grows into the Desktop, so listeners set up before ready (second-instance) see it.
  return Object.assign(b, {
    config,
    token: token.token,
    // Restart app and update installs both go through the host's relaunch, then through the lifecycle.
    relaunchers: installingRelauncher(b.lifecycle.relauncher(), b.env),
    tray: null,
    noTrayReason: null,
    host: null,
  }) as Desktop;
}

/** Registered as soon as the lock is ours, so a launch during start-up is not lost: the window opens once serving. */
function setupSecondInstance(d: Basics): void {
  const successors = new Set<string>();
  d.e.app.on('second-instance', (_event, argv, _cwd, data) => {
    if (isLaunchData(data) && data.handoff) {
      // Our own successor knocking while we exit; it retries (every 100 ms) until we are gone.
      if (!successors.has(data.handoff)) d.log.info(`the successor of ${data.handoff} is waiting for the lock`);
      successors.add(data.handoff);
      return;
    }
    // A login item starting a second copy: the first one is already where it should be.
    if (isLaunchData(data) && data.hidden) return;
    d.log.info(`second launch (${argv.slice(1).join(' ') || 'no arguments'}): showing the window`);
    showWindow(d);
  });
}

function setupActivation(d: Desktop): void {
  // macOS: clicking the Dock icon (or opening the app again from Finder) shows the window.
  d.e.app.on('activate', () => showWindow(d));
}

function setupPowerEvents(d: Desktop): void {
  // Linux and macOS: the machine is shutting down; drain while there is time.
  d.e.powerMonitor.on('shutdown', () => void d.lifecycle.quit('system shutdown'));
}

function setupWindow(d: Desktop): void {
  const { e } = d;
  d.window = new DesktopWindow({
    createWindow: (options) => {
      const win = new e.BrowserWindow(options);
      // Windows: the session is ending (logout, shutdown) and cannot be stopped, so drain now.
      win.on('session-end', () => void d.lifecycle.quit('Windows session end'));
      return win;
    },
    setCookie: (details) => e.session.defaultSession.cookies.set(details),
    openExternal: (url) => e.shell.openExternal(url),
    displays: () => e.screen.getAllDisplays().map((s) => s.workArea),
    stateDir: d.dataDir,
    log: d.logs.root.child({ scope: 'window' }),
    leaving: () => d.lifecycle.leaving,
    hasTray: () => !!d.tray?.exists && !d.noTrayReason,
    // Linux: the window's own icon, when the build ships one (packaged, the .desktop entry names it instead).
    icon: d.platform === 'linux' ? existing(path.join(e.app.getAppPath(), 'build', 'icon.png')) : undefined,
  });
  // The UI needs no browser permissions (camera, notifications, geolocation...): refuse them all.
  e.session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
}

function existing(file: string): string | undefined {
  return fs.existsSync(file) ? file : undefined;
}

function showWindow(d: Basics & Partial<Desktop>, how: { background?: boolean } = {}): void {
  const host = d.host;
  if (!host || host.state !== 'serving' || !d.window || !d.token) {
    d.openWhenServing = true;
    return;
  }
  d.window.open(host.url, d.token, how).catch((err: Error) => d.log.warn(`could not open the window: ${err.message}`));
}

function setupLoginItem(d: Desktop): void {
  const { app } = d.e;
  d.loginItem = createLoginItem({
    platform: d.platform,
    app,
    env: d.env,
    // Read when the entry is written: an AppImage update renames the file (APPIMAGE follows it).
    command: () => (app.isPackaged ? [d.env.APPIMAGE || process.execPath] : [process.execPath, app.getAppPath()]),
  });
  syncLoginItem(d, d.config.settings.launchAtLogin);
}

/** Settings say what launch at login should be; make the OS agree, touching it only when they differ. */
function syncLoginItem(d: Desktop, wanted: boolean): void {
  const li = d.loginItem;
  if (!li.supported) return;
  try {
    if (li.isEnabled() !== wanted) {
      li.setEnabled(wanted);
      d.log.info(`launch at login ${wanted ? 'on' : 'off'} (${li.where})`);
    }
  } catch (err) {
    d.log.warn(`could not change launch at login (${li.where}): ${(err as Error).message}`);
  }
}

function toggleLoginItem(d: Desktop): void {
  const on = !d.loginItem.isEnabled();
  try {
    d.loginItem.setEnabled(on);
    saveSettings(d.dataDir, { ...loadSettings(d.dataDir).settings, launchAtLogin: on });
    d.log.info(`launch at login ${on ? 'on' : 'off'} (${d.loginItem.where})`);
  } catch (err) {
    d.log.error(`could not change launch at login: ${(err as Error).message}`);
    d.e.dialog.showErrorBox('Launch at login', (err as Error).message);
  }
  render(d);
}

function setupUpdates(d: Desktop): void {
  const { e } = d;
  d.updates = createDesktopUpdates({
    platform: d.platform,
    isPackaged: e.app.isPackaged,
    appImage: d.env.APPIMAGE || null,
    env: d.env,
    autoUpdater: d.autoUpdater,
    currentVersion: d.version,
    settings: () => loadSettings(d.dataDir).settings.update,
    dataDir: d.dataDir,
    hooks: {
      handOver: async (apply, how) => {
        const host = d.host;
        if (!host) throw new BerthError('The server is not running, so there is no port to hand over.', ExitCode.unexpected);
        try {
          await d.relaunchers.hooksFor(host).handOver(() => {
            // From here a quit passes through, and the new version may take the lock.
            d.lifecycle.beginInstall();
            apply();
          }, how);
        } catch (err) {
          d.lifecycle.installFailed(err);
          throw err;
        }
      },
    },
    notify: (title, body, onClick) => {
      if (!e.Notification.isSupported()) return;
      const n = new e.Notification({ title, body });
      n.on('click', onClick);
      n.show();
    },
    log: d.logs.root.child({ scope: 'update' }),
  });
  d.updates.on('change', () => render(d));
  d.updates.start();
}

async function setupTray(d: Desktop): Promise<void> {
  const { e } = d;
  if (d.platform === 'linux') {
    const check = await checkTrayHost(d.env);
    if (check.available === false) d.noTrayReason = check.reason;
    if (check.available !== true) d.log.warn(`tray: ${check.reason}; the window and its menu bar work without it`);
  }
  d.tray = new DesktopTray({
    platform: d.platform,
    iconDir: path.join(e.app.getAppPath(), 'build', 'tray'),
    createTray: (icon) => new e.Tray(icon),
    buildMenu: (template) => e.Menu.buildFromTemplate(template),
    setApplicationMenu: (menu) => e.Menu.setApplicationMenu(menu),
    darkPanel: () =>
      darkPanel({
        platform: d.platform,
        shouldUseDarkColors: e.nativeTheme.shouldUseDarkColors,
        systemUsesDark: d.platform === 'win32' ? e.nativeTheme.shouldUseDarkColorsForSystemIntegratedUI : undefined,
        desktop: d.env.XDG_CURRENT_DESKTOP,
      }),
    actions: trayActions(d),
    log: d.logs.root.child({ scope: 'tray' }),
  });
  if (!d.tray.create(trayView(d)) && !d.noTrayReason) d.noTrayReason = 'the system refused to create a tray icon';
  e.nativeTheme.on('updated', () => render(d));
}

function trayActions(d: Desktop): Record<TrayAction, () => void> {
  const { e } = d;
  const fail = (what: string) => (err: Error) => d.log.error(`${what}: ${err.message}`);
  return {
    'open-window': () => showWindow(d),
    'open-browser': () => {
      if (d.host) e.shell.openExternal(`${d.host.url}/?token=${encodeURIComponent(d.token)}`).catch(fail('could not open the browser'));
    },
    'copy-url': () => {
      if (d.host) e.clipboard.writeText(d.host.url);
    },
    'restart-server': () => {
      d.host?.restart().catch(fail('restart failed'));
    },
    'restart-app': () => {
      d.lifecycle.relaunch().catch(fail('restart app failed'));
    },
    'check-updates': () => void d.updates.check(),
    'install-update': () => {
      d.updates.install().catch(fail('the update could not be installed'));
    },
    'toggle-login': () => toggleLoginItem(d),
    'show-logs': () => {
      if (d.logs.file) e.shell.showItemInFolder(d.logs.file);
      else e.shell.openPath(d.dataDir).catch(fail('could not open the data folder'));
    },
    about: () => {
      showAbout(d).catch(fail('about'));
    },
    quit: () => void d.lifecycle.quit('Quit from the menu'),
  };
}

function trayView(d: Desktop): TrayView {
  const h = d.host;
  const li = d.loginItem;
  let login: TrayView['launchAtLogin'];
  try {
    login = li.supported ? { enabled: li.isEnabled() } : { unavailable: li.reason ?? 'not available' };
  } catch {
    login = { unavailable: 'could not be read' };
  }
  return {
    version: d.version,
    host: h ? { state: h.state, url: h.url, port: h.port } : null,
    update: d.updates.status(),
    launchAtLogin: login,
    noTrayReason: d.noTrayReason,
  };
}

function render(d: Desktop): void {
  d.tray?.render(trayView(d));
}

async function showAbout(d: Desktop): Promise<void> {
  const s = d.host?.status();
  await d.e.dialog.showMessageBox({
    type: 'info',
    title: 'About Berth',
    message: `Berth ${d.version}`,
    detail: [
      s ? `${s.state === 'serving' ? 'Serving' : s.state} on ${s.url} (pid ${s.pid})` : 'Not serving',
      `Data folder: ${d.dataDir}`,
      `Electron ${process.versions.electron ?? '?'}, Node ${process.versions.node}`,
    ].join('\n'),
    buttons: ['OK'],
  });
}

function createHost(d: Desktop, port: number): ServerHost {
  const host = new ServerHost({
    host: d.config.host,
    port,
    dataDir: d.dataDir,
    version: d.version,
    token: d.token,
    logs: d.logs,
    rendererDir: rendererDir(),
    handoffFrom: d.handoff?.instance ?? null,
    handoffPid: d.handoff?.pid ?? null,
    drainDeadline: QUIT_DRAIN_DEADLINE,
    relauncher: d.relaunchers.relauncher,
    beforeRelaunch: () => d.updates.blockers.waitUntilClear(),
  });
  // An update install waits for API requests in flight (settings saves...), up to its bound.
  host.addRoutes(apiRequestBlockers(d.updates.blockers));
  host.addRoutes(
    coreApi({
      host,
      logs: d.logs,
      dataDir: d.dataDir,
      onSettingsSaved: (settings) => {
        syncLoginItem(d, settings.launchAtLogin);
        render(d);
      },
      // The web UI follows the same update state as the tray.
      feeds: [updateEvents(d.updates)],
    }),
  );
  host.addRoutes(updateApi(d.updates));
  let url = host.url;
  host.on('change', () => {
    if (host.url !== url) {
      // Settings moved the server: an open window follows it, signed in on the new origin.
      url = host.url;
      d.window.serverMoved(url, d.token).catch((err: Error) => d.log.warn(`the window could not follow the server: ${err.message}`));
    }
    render(d);
  });
  // A stop or relaunch asked through the API has drained the host; the lifecycle ends the process.
  host.on('exit', (code) => void d.lifecycle.onHostExit(code));
  return host;
}

async function setupServer(d: Desktop): Promise<void> {
  const { e } = d;
  const outcome = await startServer({
    createHost: (port) => createHost(d, port),
    port: d.config.port,
    host: d.config.host,
    onHost: (host) => {
      d.host = host;
      d.lifecycle.follow(host);
      render(d);
    },
    ask: async (dialog) =>
      (
        await e.dialog.showMessageBox({
          type: dialog.type,
          title: dialog.title,
          message: dialog.message,
          detail: dialog.detail,
          buttons: dialog.buttons,
          defaultId: dialog.defaultId,
          cancelId: dialog.cancelId,
          noLink: true,
        })
      ).response,
    savePort: (port) => saveSettings(d.dataDir, { ...loadSettings(d.dataDir).settings, port }),
    openRunning: (url) => void e.shell.openExternal(`${url}/?token=${encodeURIComponent(d.token)}`),
    showLogs: () => {
      if (d.logs.file) e.shell.showItemInFolder(d.logs.file);
    },
    log: d.logs.root.child({ scope: 'startup' }),
    logFile: d.logs.file,
  });
  if ('quit' in outcome) {
    await d.lifecycle.quit(`start-up ended: ${outcome.quit}`);
    return;
  }
  render(d);
  const hidden = startedAtLogin({ platform: d.platform, hiddenArg: d.args.hidden, app: e.app });
  if (!hidden || d.openWhenServing) showWindow(d);
  // Started at login with no tray icon to be found by: a minimized window in the taskbar instead.
  else if (d.noTrayReason) showWindow(d, { background: true });
  d.log.info(`ready on ${outcome.serving.url}${hidden ? ' (started hidden)' : ''}`);
}
