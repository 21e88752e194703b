import fs from 'node:fs';
import path from 'node:path';
import type { CookiesSetDetails } from 'electron';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { ServerHost } from '../../app/lifecycle/host';
import { DesktopWindow, windowOptions, type WindowDeps } from '../../main/window';
import { DEFAULT_WINDOW, WINDOW_STATE_FILE, loadWindowState, saveWindowState } from '../../main/window-state';
import { makeHost } from '../core/fixtures';
import { freePort, tempDataDir } from '../helpers';
import { FakeWindow, asWindow } from './fakes';

const SCREEN = { x: 0, y: 0, width: 1920, height: 1080 };

function setup(over: Partial<WindowDeps> = {}) {
  const windows: FakeWindow[] = [];
  const events: string[] = [];
  const cookies: CookiesSetDetails[] = [];
  const opened: string[] = [];
  let leaving = false;
  let hasTray = true;
  const dir = tempDataDir('berth-window-');
  const w = new DesktopWindow({
    createWindow: (options) => {
      const fw = new FakeWindow(options);
      // Registered before the window's own listener: what the window looked like when its page first painted.
      fw.on('ready-to-show', () => events.push(`ready-to-show (visible: ${fw.isVisible()})`));
      // Window calls and cookie writes land in one timeline, to check their order.
      const load = fw.loadURL.bind(fw);
      fw.loadURL = async (url: string) => {
        events.push(`load ${url}`);
        return load(url);
      };
      windows.push(fw);
      return asWindow(fw);
    },
    setCookie: async (d) => {
      events.push(`cookie ${d.url}`);
      cookies.push(d);
    },
    openExternal: async (url) => {
      opened.push(url);
    },
    displays: () => [SCREEN],
    stateDir: dir,
    log: memoryLogSink().root,
    leaving: () => leaving,
    hasTray: () => hasTray,
    setTimer: () => 0,
    clearTimer: () => undefined,
    ...over,
  });
  return {
    w,
    windows,
    events,
    cookies,
    opened,
    dir,
    leave: () => (leaving = true),
    noTray: () => (hasTray = false),
  };
}

describe('the desktop window', () => {
  it('is a sandboxed web page: context isolation, no Node, no preload, no webview', () => {
    const o = windowOptions(DEFAULT_WINDOW);
    expect(o.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInSubFrames: false, webviewTag: false, webSecurity: true });
    expect(o.webPreferences).not.toHaveProperty('preload');
    expect(o.show).toBe(false);
  });

  it('sets the HttpOnly SameSite=Strict auth cookie for the server origin before loading it, then shows', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 'tok_abcdefghijklmnopqrstuvwxyz0123456789');
    expect(s.events).toEqual(['cookie http://127.0.0.1:8790/', 'load http://127.0.0.1:8790', 'ready-to-show (visible: false)']);
    expect(s.cookies[0]).toEqual({ url: 'http://127.0.0.1:8790/', name: 'berth_token_8790', value: 'tok_abcdefghijklmnopqrstuvwxyz0123456789', path: '/', httpOnly: true, sameSite: 'strict' });
    expect(s.cookies[0]).not.toHaveProperty('expirationDate');
    expect(s.windows[0]!.calls.slice(-2)).toEqual(['show', 'focus']);
    expect(s.w.isOpen).toBe(true);
  });

  it('shows a new window only once its page has painted (ready-to-show): no white flash', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    const win = s.windows[0]!;
    expect(s.events).toContain('ready-to-show (visible: false)');
    expect(win.isVisible()).toBe(true);
    expect(win.calls.indexOf('show')).toBeGreaterThan(win.calls.indexOf('load http://127.0.0.1:8790'));
  });

  it('a window remembered maximized comes back maximized, but never shows itself while hidden (maximize() shows a window)', async () => {
    const dir = tempDataDir('berth-window-');
    saveWindowState(dir, { x: 100, y: 100, width: 900, height: 700, maximized: true });
    // In the background (started at login with no tray): minimized in the taskbar, not maximized on screen.
    const bg = setup({ stateDir: dir });
    await bg.w.open('http://127.0.0.1:8790', 't', { background: true });
    expect(bg.windows[0]!.calls).not.toContain('maximize');
    expect(bg.windows[0]!.isMinimized()).toBe(true);
    // Opened for real: maximized when it shows, after its page painted.
    const s = setup({ stateDir: dir });
    await s.w.open('http://127.0.0.1:8790', 't');
    const win = s.windows[0]!;
    expect(s.events).toContain('ready-to-show (visible: false)');
    expect(win.isMaximized()).toBe(true);
    expect(win.isVisible()).toBe(true);
  });

  it('opening again reuses the window without reloading; a minimized window is restored', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    s.windows[0]!.minimize();
    await s.w.open('http://127.0.0.1:8790', 't');
    expect(s.windows).toHaveLength(1);
    expect(s.windows[0]!.loaded).toHaveLength(1);
    expect(s.windows[0]!.calls).toContain('restore');
  });

  it('follows the server to a new port, signed in on the new origin', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    await s.w.serverMoved('http://127.0.0.1:8791', 't');
    expect(s.cookies.map((c) => c.url)).toEqual(['http://127.0.0.1:8790/', 'http://127.0.0.1:8791/']);
    expect(s.windows[0]!.loaded).toEqual(['http://127.0.0.1:8790', 'http://127.0.0.1:8791']);
  });

  it('closing hides to the tray; without a tray it minimizes; while quitting it really closes', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    const win = s.windows[0]!;
    expect(win.userClose().defaultPrevented).toBe(true);
    expect(win.visible).toBe(false);
    s.noTray();
    await s.w.open('http://127.0.0.1:8790', 't');
    expect(win.userClose().defaultPrevented).toBe(true);
    expect(win.minimized).toBe(true);
    s.leave();
    expect(win.userClose().defaultPrevented).toBe(false);
    expect(win.destroyed).toBe(true);
    // A later open builds a new window.
    await s.w.open('http://127.0.0.1:8790', 't');
    expect(s.windows).toHaveLength(2);
  });

  it('remembers size and position across windows (an atomic JSON file in userData)', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    s.windows[0]!.bounds = { x: 300, y: 200, width: 900, height: 700 };
    s.windows[0]!.maximized = true;
    s.leave();
    s.windows[0]!.userClose();
    expect(JSON.parse(fs.readFileSync(path.join(s.dir, WINDOW_STATE_FILE), 'utf8'))).toEqual({ x: 300, y: 200, width: 900, height: 700, maximized: true });
    const again = setup({ stateDir: s.dir });
    await again.w.open('http://127.0.0.1:8790', 't');
    expect(again.windows[0]!.options).toMatchObject({ x: 300, y: 200, width: 900, height: 700 });
    expect(again.windows[0]!.maximized).toBe(true);
    expect(fs.readdirSync(s.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('routes every navigation through the policy', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    const wc = s.windows[0]!.webContents;
    expect(wc.navigate('http://127.0.0.1:8790/#/logs').defaultPrevented).toBe(false);
    expect(wc.navigate('https://example.com/help').defaultPrevented).toBe(true);
    expect(wc.navigate('file:///etc/passwd').defaultPrevented).toBe(true);
    expect(wc.navigate('https://example.org/moved', 'will-redirect').defaultPrevented).toBe(true);
    expect(s.opened).toEqual(['https://example.com/help', 'https://example.org/moved']);
  });

  it('denies every window.open: same-origin loads here, web pages go to the browser, the rest nowhere', async () => {
    const s = setup();
    await s.w.open('http://127.0.0.1:8790', 't');
    const handler = s.windows[0]!.webContents.openHandler!;
    expect(handler({ url: 'https://example.com/' })).toEqual({ action: 'deny' });
    expect(handler({ url: 'http://127.0.0.1:8790/#/about' })).toEqual({ action: 'deny' });
    expect(handler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(s.opened).toEqual(['https://example.com/']);
    expect(s.windows[0]!.loaded.at(-1)).toBe('http://127.0.0.1:8790/#/about');
    expect(s.windows).toHaveLength(1);
  });
});

describe('window state file', () => {
  it('falls back to defaults for a missing, corrupt or nonsensical file', () => {
    const dir = tempDataDir('berth-ws-');
    expect(loadWindowState(dir, [SCREEN])).toEqual(DEFAULT_WINDOW);
    fs.writeFileSync(path.join(dir, WINDOW_STATE_FILE), '{not json');
    expect(loadWindowState(dir, [SCREEN])).toEqual(DEFAULT_WINDOW);
    fs.writeFileSync(path.join(dir, WINDOW_STATE_FILE), JSON.stringify({ width: 5, height: 1e9, x: 'a', maximized: 'yes' }));
    expect(loadWindowState(dir, [SCREEN])).toEqual(DEFAULT_WINDOW);
  });

  it('drops a position on a monitor that is no longer there, keeping the size', () => {
    const dir = tempDataDir('berth-ws-');
    saveWindowState(dir, { x: 2500, y: 100, width: 800, height: 600, maximized: false });
    expect(loadWindowState(dir, [SCREEN])).toEqual({ width: 800, height: 600, maximized: false });
    // Back on two monitors, the position is valid again.
    expect(loadWindowState(dir, [SCREEN, { x: 1920, y: 0, width: 1920, height: 1080 }])).toEqual({ x: 2500, y: 100, width: 800, height: 600, maximized: false });
  });
});

// The cookie the window sets, checked against the real server in a real Chromium:
// the same name, flags and origin must sign the page in.
const CHROMIUM = process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium';
describe.skipIf(!fs.existsSync(CHROMIUM))('the window cookie against the real server', () => {
  const hosts: ServerHost[] = [];
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.stop();
  });

  it('signs the page in; the page script cannot read it', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const host = await makeHost(port, { dataDir });
    hosts.push(host);
    await host.start();
    const token = fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim();
    const s = setup();
    await s.w.open(host.url, token);
    const c = s.cookies[0]!;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'] });
    try {
      const context = await browser.newContext();
      await context.addCookies([{ name: c.name!, value: c.value!, url: c.url, httpOnly: c.httpOnly, sameSite: c.sameSite === 'strict' ? 'Strict' : 'Lax' }]);
      const page = await context.newPage();
      await page.goto(s.windows[0]!.loaded[0]!);
      const session = await page.evaluate(async () => (await fetch('/api/session')).json());
      expect(session).toMatchObject({ authenticated: true });
      expect(await page.evaluate(() => document.cookie)).toBe('');
      const status = await page.evaluate(async () => (await fetch('/api/status')).status);
      expect(status).toBe(200);
    } finally {
      await browser.close();
    }
  });
});
