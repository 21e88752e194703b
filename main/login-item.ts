import os from 'node:os';
import type { App, Settings } from 'electron';
import { linuxLoginItem } from './login-item.linux';

/** macOS 13 and later: the SMAppService agent in Berth.app/Contents/Library/LaunchAgents (build/LaunchAgents), which starts Berth with --hidden. */
export const LOGIN_AGENT = 'dev.berth.app.login.plist';

/** Launch at login, one interface for every OS. Berth always starts hidden to the tray from it. */
export interface LoginItem {
  readonly supported: boolean;
  /** Why not, when unsupported. */
  readonly reason?: string;
  isEnabled(): boolean;
  setEnabled(on: boolean): void;
  /**
   * Registered, but switched off by the person where the OS keeps that
   * switch (Windows: Task Manager's Startup apps; macOS: System Settings >
   * Login Items). Berth follows that choice instead of overriding it.
   */
  disabledByUser?(): boolean;
  /** Where the setting lives, for the log. */
  readonly where: string;
}

export type LoginItemApp = Pick<App, 'setLoginItemSettings' | 'getLoginItemSettings'>;

export interface LoginItemContext {
  platform: NodeJS.Platform;
  app: LoginItemApp;
  env: NodeJS.ProcessEnv;
  home?: string;
  /**
   * The command that starts this app (Linux autostart Exec): the AppImage, the installed binary, or electron + app path.
   * A function is read each time the entry is written: an AppImage update can rename the file.
   */
  command: readonly string[] | (() => readonly string[]);
  /** macOS: the Darwin release (os.release()); 22 and later is macOS 13 and later. */
  darwinRelease?: string;
  /** macOS: whether the app bundle carries the login agent (Contents/Library/LaunchAgents/LOGIN_AGENT); Berth's does, a hosted app's may not. */
  macAgent?: boolean;
}

/** The one platform switch for launch at login. */
export function createLoginItem(ctx: LoginItemContext): LoginItem {
  switch (ctx.platform) {
    case 'win32':
      return windowsLoginItem(ctx.app);
    case 'darwin':
      return ctx.macAgent && Number((ctx.darwinRelease ?? os.release()).split('.')[0]) >= 22 ? macAgentLoginItem(ctx.app) : electronLoginItem(ctx.app, {}, 'System Settings > General > Login Items');
    case 'linux':
      return linuxLoginItem({ env: ctx.env, home: ctx.home, command: ctx.command });
    default:
      return {
        supported: false,
        reason: `not available on ${ctx.platform}`,
        isEnabled: () => false,
        setEnabled: () => undefined,
        where: 'nowhere',
      };
  }
}

/**
 * Windows: a Run registry value with --hidden. getLoginItemSettings'
 * openAtLogin says whether our value is there; executableWillLaunchAtLogin
 * whether Windows will really start it ("its run key is not deactivated":
 * Task Manager's switch, under StartupApproved\Run). Switching it on from
 * Berth sets that switch on too (`enabled`).
 */
function windowsLoginItem(app: LoginItemApp): LoginItem {
  const args = ['--hidden'];
  const read = () => app.getLoginItemSettings({ args });
  return {
    supported: true,
    isEnabled: () => {
      const s = read();
      return s.openAtLogin && s.executableWillLaunchAtLogin;
    },
    setEnabled: (on) => app.setLoginItemSettings({ openAtLogin: on, args, enabled: on }),
    disabledByUser: () => {
      const s = read();
      return s.openAtLogin && !s.executableWillLaunchAtLogin;
    },
    where: 'the Run key in the registry',
  };
}

/**
 * macOS 13 and later: an SMAppService agent, whose plist (LOGIN_AGENT)
 * starts Berth with --hidden. The main-app login item cannot pass arguments,
 * and since macOS 13 an app cannot learn that it was opened at login
 * (wasOpenedAtLogin is always false there: Electron #37244, Apple
 * FB10207829). A main-app item left by an earlier Berth is taken away.
 */
function macAgentLoginItem(app: LoginItemApp): LoginItem {
  const agent: Settings = { type: 'agentService', serviceName: LOGIN_AGENT };
  const status = () => app.getLoginItemSettings({ type: 'agentService', serviceName: LOGIN_AGENT }).status;
  return {
    supported: true,
    isEnabled: () => status() === 'enabled',
    setEnabled: (on) => {
      app.setLoginItemSettings({ ...agent, openAtLogin: on });
      if (app.getLoginItemSettings().openAtLogin) app.setLoginItemSettings({ openAtLogin: false });
    },
    disabledByUser: () => status() === 'requires-approval',
    where: 'System Settings > General > Login Items',
  };
}

function electronLoginItem(app: LoginItemApp, extra: { args?: string[] }, where: string): LoginItem {
  return {
    supported: true,
    isEnabled: () => app.getLoginItemSettings(extra).openAtLogin,
    setEnabled: (on) => app.setLoginItemSettings({ openAtLogin: on, ...extra }),
    where,
  };
}

/**
 * Whether this launch came from the login item: start hidden in the tray.
 * Every login item Berth registers passes --hidden, except macOS 12 and
 * earlier's, which cannot take arguments but still answer wasOpenedAtLogin.
 */
export function startedAtLogin(ctx: { platform: NodeJS.Platform; hiddenArg: boolean; app: Pick<App, 'getLoginItemSettings'> }): boolean {
  if (ctx.hiddenArg) return true;
  return ctx.platform === 'darwin' && ctx.app.getLoginItemSettings().wasOpenedAtLogin === true;
}
