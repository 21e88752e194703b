import type { App } from 'electron';
import { linuxLoginItem } from './login-item.linux';

/** Launch at login, one interface for every OS. Berth always starts hidden to the tray from it. */
export interface LoginItem {
  readonly supported: boolean;
  /** Why not, when unsupported. */
  readonly reason?: string;
  isEnabled(): boolean;
  setEnabled(on: boolean): void;
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
}

/** The one platform switch for launch at login. */
export function createLoginItem(ctx: LoginItemContext): LoginItem {
  switch (ctx.platform) {
    case 'win32':
      // Windows: a Run registry value; --hidden reaches us as an argument.
      return electronLoginItem(ctx.app, { args: ['--hidden'] }, 'the Run key in the registry');
    case 'darwin':
      // macOS: login items take no arguments; the app asks wasOpenedAtLogin instead.
      return electronLoginItem(ctx.app, {}, 'System Settings > General > Login Items');
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

function electronLoginItem(app: LoginItemApp, extra: { args?: string[] }, where: string): LoginItem {
  return {
    supported: true,
    isEnabled: () => app.getLoginItemSettings(extra).openAtLogin,
    setEnabled: (on) => app.setLoginItemSettings({ openAtLogin: on, ...extra }),
    where,
  };
}

/** Whether this launch came from the login item: start hidden in the tray. */
export function startedAtLogin(ctx: { platform: NodeJS.Platform; hiddenArg: boolean; app: Pick<App, 'getLoginItemSettings'> }): boolean {
  if (ctx.hiddenArg) return true;
  return ctx.platform === 'darwin' && ctx.app.getLoginItemSettings().wasOpenedAtLogin === true;
}
