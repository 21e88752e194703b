/**
 * What the tray shows, as plain data: the status line, the tooltip, the icon
 * file and the menu entries, computed from the host's and the updater's state.
 * Pure, so every state is tested without Electron; tray.ts only renders it.
 */
import type { ChildState } from '../app/hosting/child';
import type { HostState } from '../app/lifecycle/host';
import type { UpdateStatus } from '../app/update/state';

export interface TrayView {
  /** The name people see: Berth's, or the hosted app's (app/hosting). Absent: Berth. */
  name?: string;
  version: string;
  /** null before the first host exists. */
  host: { state: HostState; url: string; port: number } | null;
  /** The core's update state (app/update), the same one the web UI shows. */
  update: Pick<UpdateStatus, 'state' | 'version' | 'percent' | 'error' | 'reason'>;
  /** null where launch at login is not available; the text says why. */
  launchAtLogin: { enabled: boolean } | { unavailable: string };
  /** Set when there is no tray icon (Linux without a StatusNotifier host): shown in the app menu. */
  noTrayReason?: string | null;
  /** A hosted app's own server, a child process behind Berth's port: restarted on its own. Absent: none. */
  appServer?: { state: ChildState } | null;
}

export type TrayAction =
  | 'open-window'
  | 'open-browser'
  | 'copy-url'
  | 'restart-server'
  | 'restart-app-server'
  | 'restart-app'
  | 'check-updates'
  | 'retry-download'
  | 'install-update'
  | 'toggle-login'
  | 'show-logs'
  | 'about'
  | 'quit';

export interface MenuEntry {
  /** Stable id: Electron's MenuItem id, so tests (and e2e) can find an item. */
  id: string;
  type: 'normal' | 'separator' | 'checkbox';
  label?: string;
  enabled?: boolean;
  checked?: boolean;
  action?: TrayAction;
}

const HOST_STATUS: Record<HostState, string> = {
  idle: 'Starting',
  starting: 'Starting',
  serving: 'Serving',
  restarting: 'Restarting',
  draining: 'Draining',
  relaunching: 'Restarting app',
  stopped: 'Stopped',
  conflict: 'Port conflict',
};

/**
 * The one status line: the server's state first, then the update when the
 * server is fine. The tooltip carries the download's percentage; the menu
 * (`forMenu`) does not, because a menu rebuilt while open closes on some
 * platforms, and a percentage would rebuild it every few seconds.
 */
export function statusLine(view: TrayView, o: { forMenu?: boolean } = {}): string {
  const h = view.host;
  if (!h) return 'Starting';
  if (h.state !== 'serving') return HOST_STATUS[h.state];
  const child = view.appServer?.state;
  const name = displayName(view);
  // The hosted app's server, when it is not answering, matters more than an update.
  if (child === 'starting' || child === 'restarting') return `${name} starting`;
  if (child === 'crashed') return `${name} stopped: restarting`;
  const u = view.update;
  if (u.state === 'downloading') return o.forMenu ? 'Update downloading' : `Update downloading ${Math.floor(u.percent ?? 0)}%`;
  if (u.state === 'stalled') return 'Update download stalled';
  if (u.state === 'ready') return 'Update ready';
  if (u.state === 'installing') return 'Installing update';
  return `Serving on :${h.port}`;
}

export function tooltip(view: TrayView): string {
  const h = view.host;
  const line = statusLine(view);
  // Windows cuts tooltips at 127 characters; the URL matters more than the version.
  const where = h && (h.state === 'serving' || h.state === 'restarting') ? ` — ${h.url}` : '';
  return `${displayName(view)} ${view.version}: ${line.replace(/ on :\d+$/, '')}${where}`.slice(0, 127);
}

function updateEntry(u: TrayView['update'], serving: boolean): MenuEntry {
  const v = u.version ? `v${u.version}` : 'the new version';
  switch (u.state) {
    case 'disabled':
      return { id: 'updates', type: 'normal', label: u.reason ?? 'Updates are off', enabled: false };
    case 'checking':
      return { id: 'updates', type: 'normal', label: 'Checking for updates…', enabled: false };
    case 'downloading':
      return { id: 'updates', type: 'normal', label: `Downloading ${v}…`, enabled: false };
    case 'stalled':
      return { id: 'updates', type: 'normal', label: `Download of ${v} stalled: retry`, enabled: true, action: 'retry-download' };
    case 'available':
      // A download that was cancelled: the update is still offered.
      return { id: 'updates', type: 'normal', label: `Download ${v}`, enabled: true, action: 'retry-download' };
    case 'ready':
      return { id: 'updates', type: 'normal', label: `Restart to update to ${v}`, enabled: serving, action: 'install-update' };
    case 'installing':
      return { id: 'updates', type: 'normal', label: `Installing ${v}…`, enabled: false };
    default:
      return { id: 'updates', type: 'normal', label: 'Check for updates…', enabled: true, action: 'check-updates' };
  }
}

/** The tray menu, top to bottom (issue: Open Berth … Quit). */
export function menuEntries(view: TrayView): MenuEntry[] {
  const serving = view.host?.state === 'serving';
  const busy = !view.host || ['idle', 'starting', 'restarting', 'draining', 'relaunching'].includes(view.host.state);
  const login = view.launchAtLogin;
  const name = displayName(view);
  const entries: MenuEntry[] = [
    { id: 'open-window', type: 'normal', label: `Open ${name}`, enabled: serving, action: 'open-window' },
    { id: 'open-browser', type: 'normal', label: 'Open in browser', enabled: serving, action: 'open-browser' },
    { id: 'copy-url', type: 'normal', label: 'Copy URL', enabled: serving, action: 'copy-url' },
    { id: 'sep-1', type: 'separator' },
    { id: 'status', type: 'normal', label: statusLine(view, { forMenu: true }), enabled: false },
  ];
  if (view.noTrayReason) entries.push({ id: 'no-tray', type: 'normal', label: `No tray icon: ${view.noTrayReason}`, enabled: false });
  // The error text is long (it says what to do); the menu shows its first sentence.
  if (view.update.state === 'error') entries.push({ id: 'update-error', type: 'normal', label: `Update failed: ${firstSentence(view.update.error ?? 'see the log')}`, enabled: false });
  // A hosted app's own server restarts alone; requests wait for it meanwhile (app/hosting/child.ts).
  if (view.appServer) {
    const canRestart = serving && (view.appServer.state === 'ready' || view.appServer.state === 'crashed');
    entries.push({ id: 'restart-app-server', type: 'normal', label: `Restart ${name}`, enabled: canRestart, action: 'restart-app-server' });
  }
  entries.push(
    { id: 'restart-server', type: 'normal', label: 'Restart server', enabled: serving, action: 'restart-server' },
    { id: 'restart-app', type: 'normal', label: 'Restart app', enabled: !busy, action: 'restart-app' },
    updateEntry(view.update, serving),
    { id: 'sep-2', type: 'separator' },
    'enabled' in login
      ? { id: 'launch-at-login', type: 'checkbox', label: 'Launch at login', checked: login.enabled, enabled: true, action: 'toggle-login' }
      : { id: 'launch-at-login', type: 'checkbox', label: `Launch at login (${login.unavailable})`, checked: false, enabled: false },
    { id: 'show-logs', type: 'normal', label: 'Show logs', enabled: true, action: 'show-logs' },
    { id: 'about', type: 'normal', label: `About ${name}`, enabled: true, action: 'about' },
    { id: 'sep-3', type: 'separator' },
    { id: 'quit', type: 'normal', label: `Quit ${name}`, enabled: true, action: 'quit' },
  );
  return entries;
}

export interface IconContext {
  platform: NodeJS.Platform;
  /** Whether the taskbar or panel the icon sits on is dark. */
  darkPanel: boolean;
  updateReady: boolean;
}

/** The tray image file name in build/tray (made by build/scripts/make-icons.mjs). */
export function trayIconName(ctx: IconContext): string {
  // macOS: a template image (black + alpha); the menu bar tints it for light and dark.
  if (ctx.platform === 'darwin') return ctx.updateReady ? 'trayUpdateTemplate.png' : 'trayTemplate.png';
  // "light"/"dark" name the panel the glyph sits on: a dark panel gets the light glyph.
  const panel = ctx.darkPanel ? 'dark' : 'light';
  // Windows: an ICO, each size drawn, so the notification area picks the one for its DPI instead of scaling a PNG.
  return `tray-${panel}${ctx.updateReady ? '-update' : ''}.${ctx.platform === 'win32' ? 'ico' : 'png'}`;
}

/**
 * Whether the panel is dark. Windows: the taskbar follows the *system* theme,
 * which can differ from the apps' theme. Linux: GNOME Shell's top bar is dark
 * whatever the theme; elsewhere the panel follows the GTK theme.
 */
export function darkPanel(ctx: { platform: NodeJS.Platform; shouldUseDarkColors: boolean; systemUsesDark?: boolean; desktop?: string }): boolean {
  if (ctx.platform === 'win32') return ctx.systemUsesDark ?? ctx.shouldUseDarkColors;
  if (ctx.platform === 'linux' && /gnome|ubuntu/i.test(ctx.desktop ?? '')) return true;
  return ctx.shouldUseDarkColors;
}

export function displayName(view: Pick<TrayView, 'name'>): string {
  return view.name ?? 'Berth';
}

function firstSentence(s: string): string {
  const m = /^(.{1,100}?[.!?])(\s|$)/.exec(s);
  return m ? m[1]! : s.length > 100 ? `${s.slice(0, 99)}…` : s;
}
