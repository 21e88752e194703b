import type {
  App,
  BaseWindow as BaseWindowClass,
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

/** The Electron objects the shell uses, handed in by main/index.ts (the only file that loads Electron). */
export interface ElectronModules {
  app: App;
  BaseWindow: typeof BaseWindowClass;
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
