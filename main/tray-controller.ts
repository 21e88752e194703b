import path from 'node:path';
import type { ChildServer } from '../app/hosting/child';
import type { Logger } from '../app/log';
import { packageRoot } from '../app/paths';
import { writeSignInPage } from '../app/server/sign-in';
import type { ServerHost } from '../app/lifecycle/host';
import type { UpdateService } from '../app/update/service';
import type { DesktopLifecycle } from './lifecycle';
import type { LoginItem } from './login-item';
import { DesktopTray } from './tray';
import { checkTrayHost } from './tray-host.linux';
import { darkPanel, type TrayAction, type TrayView } from './tray-model';
import type { ElectronModules } from './electron-modules';

export interface TrayControllerDeps {
  e: ElectronModules;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** The name people see: Berth's, or the hosted app's. */
  name: string;
  version: string;
  dataDir: string;
  token: string;
  logFile: string | null;
  host: () => ServerHost | null;
  /** A hosted app's child server (one for the process's life), or null. */
  appServer: ChildServer | null;
  updates: UpdateService;
  loginItem: LoginItem;
  lifecycle: DesktopLifecycle;
  showWindow: () => void;
  toggleLogin: () => void;
  log: Logger;
}

/**
 * The tray icon and menu bar: what they show (a view of the host, the
 * updater and the login item) and what their items do. Decisions stay in
 * tray-model.ts; this wires them to Electron and to the rest of the shell.
 */
export class TrayController {
  private tray: DesktopTray | null = null;
  /** Why there is no tray icon (Linux without a StatusNotifier host, or the system refused), or null. */
  noTrayReason: string | null = null;

  constructor(private readonly d: TrayControllerDeps) {}

  get exists(): boolean {
    return !!this.tray?.exists && !this.noTrayReason;
  }

  async create(): Promise<void> {
    const { d } = this;
    const { e } = d;
    if (d.platform === 'linux') {
      const check = await checkTrayHost(d.env);
      if (check.available === false) this.noTrayReason = check.reason;
      if (check.available !== true) d.log.warn(`tray: ${check.reason}; the window and its menu bar work without it`);
    }
    this.tray = new DesktopTray({
      platform: d.platform,
      // Berth's own tray images, also for an app it hosts (they ship in Berth's package).
      iconDir: path.join(packageRoot(), 'build', 'tray'),
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
      packaged: e.app.isPackaged,
      actions: this.actions(),
      log: d.log,
    });
    if (!this.tray.create(this.view()) && !this.noTrayReason) this.noTrayReason = 'the system refused to create a tray icon';
    e.nativeTheme.on('updated', () => this.render());
    d.updates.on('change', () => this.render());
    d.appServer?.on('change', () => this.render());
  }

  render(): void {
    this.tray?.render(this.view());
  }

  private actions(): Record<TrayAction, () => void> {
    const { d } = this;
    const { e } = d;
    const fail = (what: string) => (err: Error) => d.log.error(`${what}: ${err.message}`);
    return {
      'open-window': () => d.showWindow(),
      'open-browser': () => {
        const h = d.host();
        // A sign-in page in the data folder, not the token: the address reaches a launcher's world-readable command line.
        if (!h) return;
        Promise.resolve()
          .then(() => e.shell.openExternal(writeSignInPage(d.dataDir, h.url, d.token)))
          .catch(fail('could not open the browser'));
      },
      'copy-url': () => {
        const h = d.host();
        if (h) e.clipboard.writeText(h.url);
      },
      'restart-server': () => {
        d.host()?.restart().catch(fail('restart failed'));
      },
      'restart-app-server': () => {
        d.appServer?.restart().catch(fail(`restarting ${d.name} failed`));
      },
      'restart-app': () => {
        d.lifecycle.relaunch().catch(fail('restart app failed'));
      },
      'check-updates': () => void d.updates.check(),
      'retry-download': () => void d.updates.retryDownload(),
      'install-update': () => {
        d.updates.install().catch(fail('the update could not be installed'));
      },
      'toggle-login': () => d.toggleLogin(),
      'show-logs': () => {
        if (d.logFile) e.shell.showItemInFolder(d.logFile);
        else e.shell.openPath(d.dataDir).catch(fail('could not open the data folder'));
      },
      about: () => {
        this.showAbout().catch(fail('about'));
      },
      quit: () => void d.lifecycle.quit('Quit from the menu'),
    };
  }

  private view(): TrayView {
    const { d } = this;
    const h = d.host();
    const li = d.loginItem;
    let login: TrayView['launchAtLogin'];
    try {
      login = li.supported ? { enabled: li.isEnabled() } : { unavailable: li.reason ?? 'not available' };
    } catch {
      login = { unavailable: 'could not be read' };
    }
    return {
      name: d.name,
      version: d.version,
      host: h ? { state: h.state, url: h.url, port: h.port } : null,
      update: d.updates.status(),
      launchAtLogin: login,
      noTrayReason: this.noTrayReason,
      appServer: d.appServer ? { state: d.appServer.state } : null,
    };
  }

  private async showAbout(): Promise<void> {
    const { d } = this;
    const s = d.host()?.status();
    await d.e.dialog.showMessageBox({
      type: 'info',
      title: `About ${d.name}`,
      message: `${d.name} ${d.version}`,
      detail: [
        s ? `${s.state === 'serving' ? 'Serving' : s.state} on ${s.url} (pid ${s.pid})` : 'Not serving',
        `Data folder: ${d.dataDir}`,
        `Electron ${process.versions.electron ?? '?'}, Node ${process.versions.node}`,
      ].join('\n'),
      buttons: ['OK'],
    });
  }
}
