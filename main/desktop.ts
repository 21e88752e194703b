import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import type { UpdaterClass } from '../app/update/formats/index';
import { createBerth, openLogs, type Berth } from '../app/berth';
import { resolveConfig, resolveDataDir, type ResolvedConfig } from '../app/config';
import { BerthError } from '../app/errors';
import { resolveSuccession, whomDoIReplace, type Handoff, type Succession } from '../app/lifecycle/successor-protocol';
import type { HostedApp } from '../app/hosting/definition';
import type { LogSink, Logger } from '../app/log';
import { appVersion, packageRoot, rendererDir } from '../app/paths';
import { dataDirRefusal } from '../app/files/trust';
import { writeSignInPage } from '../app/server/sign-in';
import { loadSettings, saveSettings } from '../app/settings/settings';
import { parseDesktopArgs, relaunchArgs, type DesktopArgs } from './args';
import type { ElectronModules } from './electron-modules';
import { DesktopLifecycle, QUIT_DRAIN_DEADLINE } from './lifecycle';
import { LOGIN_AGENT, createLoginItem, startedAtLogin, type LoginItem } from './login-item';
import { Notifications } from './notifications';
import { setPermissions } from './permissions';
import { successorSwitches } from './sandbox';
import { listenForWindowsSessionEnd } from './session-end';
import { acquireSingleInstanceLock, isLaunchData } from './single-instance';
import { startServer } from './startup';
import { TrayController } from './tray-controller';
import { createDesktopUpdates } from './updater';
import { DesktopWindow } from './window';

export type { ElectronModules } from './electron-modules';

export interface DesktopOptions {
  electron: ElectronModules;
  /** Builds electron-updater's updater of a class (the install format's); called only when the app is packaged. */
  autoUpdater: (updaterClass: UpdaterClass) => AppUpdater;
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Log uncaught errors instead of Electron's crash dialog (default true; tests in a shared process say false). */
  processHandlers?: boolean;
  /** macOS: the app bundle's Contents folder (default: the one the executable is in). */
  macBundleContents?: string;
  /** The kernel release (default os.release()): on macOS it says which login item API there is. */
  osRelease?: string;
  /** The app this desktop app hosts (app/hosting): its name, id and version are the shell's. Absent: Berth's console. */
  app?: HostedApp;
}

/** What exists before Electron is ready. */
interface Basics {
  e: ElectronModules;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  args: DesktopArgs;
  /** The instance this launch says it replaces (command line, or an installer's environment): it may wait for the lock. */
  successorOf: string | null;
  /** Whom this launch says it replaces (command line, else an installer's environment), read once. */
  claimed: Handoff | null;
  dataDir: string;
  logs: LogSink;
  log: Logger;
  lifecycle: DesktopLifecycle;
  version: string;
  /** The name people see in dialogs: Berth's, or the hosted app's. */
  name: string;
  app: HostedApp | undefined;
  autoUpdater: (updaterClass: UpdaterClass) => AppUpdater;
  notifications: Notifications;
  /** Whether the window is open now, once there is one (a relaunch comes back --hidden only when it is not). */
  windowOpen: (() => boolean) | null;
  /** macOS: Berth.app/Contents (Contents/MacOS/Berth is the executable). */
  macBundleContents: string;
  osRelease: string;
}

/**
 * Opens the window once there is something to show: a second launch or a
 * tray click before the server serves is remembered, not lost.
 */
class WindowRequests {
  private pending = false;
  private open: ((how: { background?: boolean }) => boolean) | null = null;

  request(how: { background?: boolean } = {}): void {
    if (!this.open?.(how)) this.pending = true;
  }
  /** The window and the server exist: from now on requests open it (a remembered one at once). */
  connect(open: (how: { background?: boolean }) => boolean): boolean {
    this.open = open;
    const was = this.pending;
    this.pending = false;
    return was;
  }
}

/**
 * Berth's desktop app, top to bottom. The single-instance lock comes first;
 * then, once Electron is ready, the Berth itself (app/berth.ts, the same
 * composition `berth serve` uses), the window, the login item and the tray;
 * last the server, whose start-up verdict decides what the person sees.
 */
export async function startDesktop(opts: DesktopOptions): Promise<void> {
  const env = opts.env ?? process.env;
  // electron-updater's AppImage install runs the new file once with this set and waits for it: leave at once.
  if (env.APPIMAGE_EXIT_AFTER_INSTALL === 'true') return opts.electron.app.exit(0);

  const b = setupBasics(opts, env);
  if ('refused' in b) return refuseDataDir(opts, b.refused);
  const windowRequests = new WindowRequests();
  if (!(await setupSingleInstance(b))) return;
  setupSecondInstance(b, windowRequests);
  setupQuitHandling(b);
  setupPlatform(b);

  await b.e.app.whenReady();
  // macOS: a tray app has a Dock icon only while its window is open.
  b.e.app.dock?.hide();
  const config = setupConfig(b);
  if (!config) return b.lifecycle.quit('bad configuration');
  let tray: TrayController | null = null;
  const render = () => tray?.render();
  // Made once the Berth is (a bad token file or listen address ends the start first); saved settings reach it after.
  let loginItem: LoginItem | null = null;
  let berth: Berth;
  try {
    berth = await setupBerth(b, config, { render, syncLoginItem: (on) => loginItem && syncLoginItem(b, loginItem, on) });
  } catch (err) {
    const message = err instanceof BerthError ? err.message : String(err);
    b.log.error(`cannot start: ${message}`);
    b.e.dialog.showErrorBox(`${b.name} cannot start`, message);
    return b.lifecycle.quit('bad configuration');
  }
  loginItem = setupLoginItem(b, config);
  const window = setupWindow(b, () => !!tray?.exists, () => berth.host.url);
  b.windowOpen = () => window.isOpen;
  b.e.app.on('activate', () => windowRequests.request()); // macOS: the Dock icon, or opening the app again from Finder
  setupSystemEnd(b, berth);
  tray = new TrayController({
    e: b.e,
    platform: b.platform,
    env: b.env,
    name: b.name,
    version: b.version,
    dataDir: b.dataDir,
    token: berth.token,
    logFile: b.logs.file,
    host: () => berth.host,
    appServer: berth.app?.child ?? null,
    updates: berth.updates,
    loginItem,
    lifecycle: b.lifecycle,
    showWindow: () => windowRequests.request(),
    toggleLogin: () => {
      toggleLoginItem(b, loginItem);
      render();
    },
    log: b.logs.root.child({ scope: 'tray' }),
  });
  await tray.create();
  // What a person waits for, from the moment the process started: the icon, then the server.
  const trayAt = performance.now();
  followHost(b, berth, window, berth.token, render);
  await setupServer(b, config, berth, { window, windowRequests, token: berth.token, noTray: () => tray?.noTrayReason ?? null, render, trayAt });
}

function setupBasics(opts: DesktopOptions, env: NodeJS.ProcessEnv): Basics | { refused: string } {
  const { app } = opts.electron;
  const platform = opts.platform ?? process.platform;
  const argv = opts.argv ?? process.argv;
  const args = parseDesktopArgs(argv.slice(1));
  // --data-dir / BERTH_DATA_DIR move userData itself: the lock, the browser profile and Berth's files stay together.
  const wanted = resolveDataDir({ flags: { dataDir: args.dataDir }, env });
  if (wanted.source !== 'default') app.setPath('userData', wanted.dataDir);
  const dataDir = app.getPath('userData');
  // Nothing is read from, or written into, a data folder someone else could have prepared (this dialog works before ready).
  const refusal = dataDirRefusal(dataDir);
  if (refusal) return { refused: refusal };
  // Installers drop our arguments, so an update's successor may learn its predecessor from the environment, or from the note alone.
  // The address of a handoff on the command line is where this process serves (relaunches pass --host/--port).
  const { claimed, problem } = whomDoIReplace({ handoff: args.handoff, handoffPid: args.handoffPid, host: args.host, port: args.port }, env);
  const successorOf = claimed?.instance ?? args.handoff ?? null;
  const logs = openLogs(dataDir, { console: process.stderr });
  const log = logs.root.child({ scope: 'desktop' });
  const version = opts.app?.version ?? appVersion();
  const name = opts.app?.name ?? 'Berth';
  const basics = { windowOpen: null as (() => boolean) | null };
  const lifecycle = new DesktopLifecycle({
    app,
    log: logs.root.child({ scope: 'lifecycle' }),
    // Berth's own flags only; hidden again only if there is no window to come back to.
    args: () => relaunchArgs(argv.slice(1), { appPath: app.isPackaged ? null : app.getAppPath(), hidden: basics.windowOpen ? !basics.windowOpen() : args.hidden }),
    switches: () => successorSwitches({ platform, env, argv: argv.slice(1) }),
    // AppImage: Restart app starts the image file again (read then: an update may have renamed it).
    appImage: () => (platform === 'linux' && env.APPIMAGE) || undefined,
    env,
    drainDeadline: QUIT_DRAIN_DEADLINE,
    flushLogs: () => logs.close(),
    guardian: { dataDir, version },
  });
  log.info(`${name} ${version} desktop starting (Electron ${process.versions.electron ?? '?'}, pid ${process.pid}, data ${dataDir}${successorOf ? `, replacing ${successorOf}` : ''})`);
  if (problem) log.warn(`${problem} Starting as a new Berth.`);
  if (opts.processHandlers !== false) {
    process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception in the main process'));
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection in the main process'));
  }
  return Object.assign(basics, { e: opts.electron, platform, env, args, successorOf, claimed, dataDir, logs, log, lifecycle, version, name, app: opts.app, autoUpdater: opts.autoUpdater, notifications: new Notifications(opts.electron), macBundleContents: opts.macBundleContents ?? path.resolve(path.dirname(process.execPath), '..'), osRelease: opts.osRelease ?? os.release() });
}

/**
 * A data folder Berth must not use: say so on standard error and in a
 * dialog, then exit 2. Linux shows no dialog before Electron is ready
 * (electron.d.ts, showErrorBox: "before the app `ready` event on Linux, the
 * message will be emitted to stderr"), so wait for it there, with Chromium's
 * own profile moved to a private temporary folder first: nothing is written
 * into the refused one.
 */
async function refuseDataDir(opts: DesktopOptions, refusal: string): Promise<void> {
  const { app, dialog } = opts.electron;
  process.stderr.write(`berth: ${refusal}\n`);
  if ((opts.platform ?? process.platform) === 'linux' && !app.isReady()) {
    app.setPath('userData', fs.mkdtempSync(path.join(os.tmpdir(), 'berth-refused-')));
    await app.whenReady();
  }
  dialog.showErrorBox(`${opts.app?.name ?? 'Berth'} cannot use its data folder`, refusal);
  app.exit(2);
}

async function setupSingleInstance(b: Basics): Promise<boolean> {
  const lock = await acquireSingleInstanceLock(b.e.app, {
    data: { hidden: b.args.hidden, handoff: b.successorOf },
    log: b.logs.root.child({ scope: 'single-instance' }),
  });
  if (lock.acquired) return true;
  // The running Berth has been told (second-instance) and shows itself; this copy leaves quietly.
  await b.lifecycle.quit('another Berth is running');
  return false;
}

/** Registered as soon as the lock is ours, so a launch during start-up is not lost: the window opens once serving. */
function setupSecondInstance(b: Basics, windowRequests: WindowRequests): void {
  const successors = new Set<string>();
  b.e.app.on('second-instance', (_event, argv, _cwd, data) => {
    if (isLaunchData(data) && data.handoff) {
      // Our own successor knocking while we exit; it retries (every 100 ms) until we are gone.
      if (!successors.has(data.handoff)) b.log.info(`the successor of ${data.handoff} is waiting for the lock`);
      successors.add(data.handoff);
      return;
    }
    // A login item starting a second copy: the first one is already where it should be.
    if (isLaunchData(data) && data.hidden) return;
    b.log.info(`second launch (${argv.slice(1).join(' ') || 'no arguments'}): showing the window`);
    windowRequests.request();
  });
}

function setupQuitHandling(b: Basics): void {
  // Cmd+Q, OS logout, an installer closing us, Playwright's close(): every quit drains first.
  b.e.app.on('before-quit', (event) => b.lifecycle.onBeforeQuit(event));
  // A tray app keeps running with no window open.
  b.e.app.on('window-all-closed', () => undefined);
}

function setupPlatform(b: Basics): void {
  // Windows: notifications need the app's AppUserModelID (electron-builder's appId).
  if (b.platform === 'win32') b.e.app.setAppUserModelId(b.app?.id ?? 'dev.berth.app');
}

function setupConfig(b: Basics): ResolvedConfig | null {
  try {
    const config = resolveConfig({ flags: { host: b.args.host, port: b.args.port, dataDir: b.dataDir }, env: b.env });
    for (const w of config.warnings) b.log.warn(w);
    return config;
  } catch (err) {
    const message = err instanceof BerthError ? err.message : String(err);
    b.log.error(`bad configuration: ${message}`);
    b.e.dialog.showErrorBox(`${b.name} cannot start`, message);
    return null;
  }
}

/**
 * Whether this launch is a relaunch's successor. Another process's relaunch
 * in the same data folder is left alone: this launch starts as a new Berth,
 * which finds the running one and shows it.
 */
function successionOf(b: Basics): Succession {
  const s = resolveSuccession(b.claimed, b.dataDir);
  if (s.kind !== 'bystander') return s;
  b.log.info(`a relaunch of pid ${s.note.pid} is in progress in this data folder; starting as a new Berth`);
  return { kind: 'fresh', unproven: null };
}

/** The Berth, composed like `berth serve`; what differs is Electron's updater, its relaunch, and the lifecycle owner's install hooks. */
function setupBerth(b: Basics, config: ResolvedConfig, hooks: { render: () => void; syncLoginItem: (on: boolean) => void }): Promise<Berth> {
  const { e } = b;
  return createBerth({
    host: config.host,
    port: config.port,
    dataDir: b.dataDir,
    version: b.version,
    logs: b.logs,
    log: b.log,
    hostFrom: config.hostFrom,
    remoteAllowedBy: config.remoteAllowedBy,
    rendererDir: rendererDir(),
    succession: successionOf(b),
    drainDeadline: QUIT_DRAIN_DEADLINE,
    updates: (updateHooks) =>
      createDesktopUpdates({
        platform: b.platform,
        isPackaged: e.app.isPackaged,
        appImage: b.env.APPIMAGE || null,
        env: b.env,
        packageType: b.platform === 'linux' && e.app.isPackaged && !b.env.APPIMAGE ? packageType() : null,
        autoUpdater: b.autoUpdater,
        currentVersion: b.version,
        settings: () => loadSettings(b.dataDir).settings.update,
        dataDir: b.dataDir,
        hooks: updateHooks,
        notify: (title, body, onClick) => b.notifications.show(title, body, onClick),
        log: b.logs.root.child({ scope: 'update' }),
      }),
    relaunchPlan: () => b.lifecycle.relaunchPlan(),
    installHooks: b.lifecycle.installHooks(),
    onSettingsSaved: (settings) => {
      hooks.syncLoginItem(settings.launchAtLogin);
      hooks.render();
    },
    // A stop or relaunch asked through the API has drained the host; the lifecycle ends the process.
    exit: (code) => void b.lifecycle.onHostExit(code),
    // The desktop shows a lost port in the tray and keeps running, so the person can choose what to do.
    exitOnConflict: false,
    app: b.app,
  });
}

function setupWindow(b: Basics, hasTray: () => boolean, serverUrl: () => string): DesktopWindow {
  const { e } = b;
  const dock = e.app.dock;
  const window = new DesktopWindow({
    createWindow: (options) => new e.BrowserWindow(options),
    setCookie: (details) => e.session.defaultSession.cookies.set(details),
    openExternal: (url) => e.shell.openExternal(url),
    displays: () => e.screen.getAllDisplays().map((s) => s.workArea),
    stateDir: b.dataDir,
    log: b.logs.root.child({ scope: 'window' }),
    leaving: () => b.lifecycle.leaving,
    hasTray,
    // Linux: the window's own icon, when the build ships one (packaged, the .desktop entry names it instead).
    icon: b.platform === 'linux' ? existing(b.app?.icons?.png ?? path.join(packageRoot(), 'build', 'icon.png')) : undefined,
    // Before the first paint: the page's own background (--bg in renderer/src/styles/app.css), not white.
    backgroundColor: () => (e.nativeTheme.shouldUseDarkColors ? '#0e141a' : '#f4f6f8'),
    // macOS: the Dock icon comes with the window (the window shows once the app is a regular one again) and goes with it.
    beforeShow: dock ? () => dock.show() : undefined,
    afterHide: dock ? () => dock.hide() : undefined,
  });
  // The UI may write the clipboard (Copy), from its own origin; every other permission, and every other origin, is refused.
  setPermissions(e.session.defaultSession, () => {
    try {
      return new URL(serverUrl()).origin;
    } catch {
      return null;
    }
  });
  return window;
}

/**
 * The system going down. Windows (logoff, shutdown): a hidden window hears it
 * and does only synchronous work (session-end.ts). Linux and macOS:
 * powerMonitor 'shutdown', where preventDefault() asks the system to wait
 * (a logind delay lock on Linux) while the drain runs, and the quit follows.
 */
function setupSystemEnd(b: Basics, berth: Berth): void {
  if (b.platform === 'win32') {
    listenForWindowsSessionEnd({
      BaseWindow: b.e.BaseWindow,
      log: b.log,
      stopAccepting: () => void berth.host.currentListener?.unlisten(),
      flushLogSync: () => b.logs.flushSync(),
      quit: (reason) => void b.lifecycle.quit(reason),
    });
  }
  b.e.powerMonitor.on('shutdown', (event?: { preventDefault?: () => void }) => {
    event?.preventDefault?.();
    void b.lifecycle.quit('system shutdown');
  });
}

/** Linux: electron-builder writes how the app was packaged (deb, rpm, pacman) into resources/package-type. */
function packageType(): string | null {
  try {
    return fs.readFileSync(path.join(process.resourcesPath, 'package-type'), 'utf8').trim();
  } catch {
    return null;
  }
}

function existing(file: string): string | undefined {
  return fs.existsSync(file) ? file : undefined;
}

function setupLoginItem(b: Basics, config: ResolvedConfig): LoginItem {
  const { app } = b.e;
  const loginItem = createLoginItem({
    platform: b.platform,
    app,
    env: b.env,
    // Read when the entry is written: an AppImage update renames the file (APPIMAGE follows it).
    command: () => (app.isPackaged ? [b.env.APPIMAGE || process.execPath] : [process.execPath, app.getAppPath()]),
    macAgent: b.platform === 'darwin' && fs.existsSync(path.join(b.macBundleContents, 'Library', 'LaunchAgents', LOGIN_AGENT)),
    darwinRelease: b.osRelease,
  });
  // At start-up the OS's own switch wins: switched off in Task Manager or System Settings means off.
  if (config.settings.launchAtLogin && loginItem.supported && followUserSwitch(b, loginItem)) return loginItem;
  syncLoginItem(b, loginItem, config.settings.launchAtLogin);
  return loginItem;
}

/** The person switched launch at login off where the OS keeps that switch: settings follow, nothing is re-enabled. */
function followUserSwitch(b: Basics, li: LoginItem): boolean {
  try {
    if (!li.disabledByUser?.()) return false;
    saveSettings(b.dataDir, { ...loadSettings(b.dataDir).settings, launchAtLogin: false });
    b.log.info(`launch at login was switched off outside Berth (${li.where}); settings now say off`);
    return true;
  } catch (err) {
    b.log.warn(`could not read launch at login (${li.where}): ${(err as Error).message}`);
    return false;
  }
}

/** Settings say what launch at login should be; make the OS agree, touching it only when they differ. */
function syncLoginItem(b: Basics, li: LoginItem, wanted: boolean): void {
  if (!li.supported) return;
  try {
    if (li.isEnabled() !== wanted) {
      li.setEnabled(wanted);
      b.log.info(`launch at login ${wanted ? 'on' : 'off'} (${li.where})`);
    }
  } catch (err) {
    b.log.warn(`could not change launch at login (${li.where}): ${(err as Error).message}`);
  }
}

function toggleLoginItem(b: Basics, li: LoginItem): void {
  const on = !li.isEnabled();
  try {
    li.setEnabled(on);
    saveSettings(b.dataDir, { ...loadSettings(b.dataDir).settings, launchAtLogin: on });
    b.log.info(`launch at login ${on ? 'on' : 'off'} (${li.where})`);
  } catch (err) {
    b.log.error(`could not change launch at login: ${(err as Error).message}`);
    b.e.dialog.showErrorBox('Launch at login', (err as Error).message);
  }
}

/** The tray follows the host's state, and an open window follows the server when Settings move it. */
function followHost(b: Basics, berth: Berth, window: DesktopWindow, token: string, render: () => void): void {
  const host = berth.host;
  b.lifecycle.follow(host);
  let url = host.url;
  host.on('change', () => {
    if (host.url !== url && host.state === 'serving') {
      url = host.url;
      window.serverMoved(url, token).catch((err: Error) => b.log.warn(`the window could not follow the server: ${err.message}`));
    }
    render();
  });
}

async function setupServer(
  b: Basics,
  config: ResolvedConfig,
  berth: Berth,
  ui: { window: DesktopWindow; windowRequests: WindowRequests; token: string; noTray: () => string | null; render: () => void; trayAt: number },
): Promise<void> {
  const { e } = b;
  const host = berth.host;
  let first = true;
  const outcome = await startServer({
    // One Berth: "Choose another port…" points the same host at the new port.
    createHost: (port) => {
      if (!first) host.retarget(config.host, port);
      first = false;
      return { start: () => berth.start(), get port() { return host.port; }, get url() { return host.url; } };
    },
    port: host.port,
    host: config.host,
    onHost: () => ui.render(),
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
    savePort: (port) => saveSettings(b.dataDir, { ...loadSettings(b.dataDir).settings, port }),
    // A sign-in page in the data folder, not the token: the address reaches a launcher's world-readable command line.
    openRunning: (url) =>
      void Promise.resolve()
        .then(() => e.shell.openExternal(writeSignInPage(b.dataDir, url, ui.token)))
        .catch((err: Error) => b.log.warn(`could not open the browser: ${err.message}`)),
    showLogs: () => {
      if (b.logs.file) e.shell.showItemInFolder(b.logs.file);
    },
    log: b.logs.root.child({ scope: 'startup' }),
    logFile: b.logs.file,
  });
  if ('quit' in outcome) {
    await b.lifecycle.quit(`start-up ended: ${outcome.quit}`);
    return;
  }
  ui.render();
  const open = (how: { background?: boolean }) => {
    if (host.state !== 'serving') return false;
    ui.window.open(host.url, ui.token, how).catch((err: Error) => b.log.warn(`could not open the window: ${err.message}`));
    return true;
  };
  // What a guardian did while no Berth ran (app/guardian): a notification, beside the history row and the console banner
  // the click opens (held, so a click minutes later still does).
  for (const r of berth.recovered) b.notifications.show('Berth', r.message, () => open({}));
  const asked = ui.windowRequests.connect(open);
  const hidden = startedAtLogin({ platform: b.platform, hiddenArg: b.args.hidden, app: e.app });
  if (!hidden || asked) open({});
  // Started at login with no tray icon to be found by: a minimized window in the taskbar instead.
  else if (ui.noTray()) open({ background: true });
  const servingAt = performance.now();
  // The desktop e2e suite reads these figures from the log (docs/STARTUP.md).
  const icon = ui.noTray() ? 'menu' : 'tray icon';
  b.log.info(`ready on ${outcome.serving.url}${hidden ? ' (started hidden)' : ''}; since the process started: ${icon} after ${Math.round(ui.trayAt)} ms, serving after ${Math.round(servingAt)} ms`);
}
