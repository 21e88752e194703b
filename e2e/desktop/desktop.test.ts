/**
 * The desktop app for real: Electron started through Playwright
 * (`_electron.launch`), each test with a fresh userData (`--data-dir`) and a
 * free port. They run wherever an Electron binary is installed (a developer's
 * desktop; the CI workflow's test jobs on Windows, macOS and Linux under
 * xvfb) and are skipped, with one line saying why, where it is not.
 *
 * BERTH_DESKTOP_EXECUTABLE runs the same tests against a packaged app
 * instead (the executable inside Berth.app, Berth.exe or the unpacked Linux
 * build): the CI workflow's macOS job does that with the app it built. That
 * app must be the test-only build (BERTH_E2E_BUILD=1): Playwright attaches
 * through --inspect, which a release's fuses turn off.
 *
 * BERTH_DESKTOP_ARTIFACTS names a folder for the evidence of each test, pass
 * or fail: a screenshot of every window, Berth's log and Electron's stderr
 * (the CI jobs upload it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, alive, freePort, health, readToken, tempDataDir, waitFor } from '../../test/helpers';
import { canListen } from '../../main/startup';
// @ts-ignore: a plain ES module without type declarations.
import { chooseRuntime, findElectron } from '../../scripts/start.mjs';

/** A packaged Berth runs as it is; the development app is the electron binary with the repository as its app folder. */
const packaged = process.env.BERTH_DESKTOP_EXECUTABLE || null;

function desktopRuntime(): { binary: string } | { reason: string } {
  if (packaged) return fs.existsSync(packaged) ? { binary: packaged } : { reason: `BERTH_DESKTOP_EXECUTABLE names ${packaged}, which does not exist` };
  const r = chooseRuntime({ electron: findElectron(), platform: process.platform, env: process.env }) as { kind: string; binary?: string; reason?: string };
  return r.kind === 'electron' ? { binary: r.binary! } : { reason: r.reason! };
}

const runtime = desktopRuntime();
const electronPath = 'binary' in runtime ? runtime.binary : null;
if (!electronPath) {
  const reason = (runtime as { reason: string }).reason;
  // CI installs Electron on purpose: there, a missing runtime is a failure, not a skip.
  if (process.env.BERTH_REQUIRE_ELECTRON === '1') throw new Error(`e2e/desktop: BERTH_REQUIRE_ELECTRON=1 but ${reason}`);
  console.log(`e2e/desktop: skipped, ${reason}. These tests need an Electron binary (\`node node_modules/electron/install.js\` downloads it) and, on Linux, a display (\`xvfb-run -a npx vitest run e2e/desktop\`).`);
}

// Linux CI runners cannot set up Chromium's sandbox for a binary in node_modules (no setuid chrome-sandbox).
const SANDBOX = process.platform === 'linux' ? ['--no-sandbox'] : [];

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('BERTH_') && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
  return env;
}

interface Running {
  app: ElectronApplication;
  port: number;
  dataDir: string;
  url: string;
  args: string[];
  /** What Electron wrote to standard error so far. */
  stderr: () => string;
}

const running: Running[] = [];
const strays = new Set<number>();
const artifacts = process.env.BERTH_DESKTOP_ARTIFACTS || null;
let testName = 'test';
beforeEach((ctx) => {
  testName = ctx.task.name.replace(/[^\w.-]+/g, '-').slice(0, 80);
});

/** Keep what a person would look at to see why a test failed: the windows, Berth's log, Electron's stderr. */
async function keepEvidence(r: Running, i: number): Promise<void> {
  if (!artifacts) return;
  const dir = path.join(artifacts, process.platform, `${testName}${i ? `-${i}` : ''}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'electron-stderr.txt'), r.stderr());
  const log = path.join(r.dataDir, 'logs', 'berth.log');
  if (fs.existsSync(log)) fs.copyFileSync(log, path.join(dir, 'berth.log'));
  if (r.app.process().exitCode !== null) return;
  const pages = r.app.windows();
  for (const [n, page] of pages.entries()) await page.screenshot({ path: path.join(dir, `window-${n}.png`), timeout: 10_000 }).catch(() => undefined);
}

afterEach(async () => {
  const ended = running.splice(0);
  for (const [i, r] of ended.entries()) await keepEvidence(r, i).catch(() => undefined);
  for (const r of ended) await r.app.close().catch(() => undefined);
  // Successors started by Restart app are not Playwright's: stop them by pid.
  for (const pid of strays) {
    if (alive(pid)) process.kill(pid);
    await waitFor(() => !alive(pid), `pid ${pid} to exit`, 15_000).catch(() => undefined);
  }
  strays.clear();
});

async function launch(o: { port?: number; dataDir?: string; extra?: string[] } = {}): Promise<Running> {
  const port = o.port ?? (await freePort());
  const dataDir = o.dataDir ?? tempDataDir('berth-e2e-desktop-');
  const args = [...(packaged ? [] : [ROOT]), ...SANDBOX, '--data-dir', dataDir, '--port', String(port), ...(o.extra ?? [])];
  const app = await electron.launch({ executablePath: electronPath!, args, env: cleanEnv(), timeout: 60_000 });
  let stderr = '';
  app.process().stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const r = { app, port, dataDir, url, args, stderr: () => stderr };
  running.push(r);
  await waitFor(async () => (await health(port))?.state === 'serving', `the desktop app to serve ${url}`, 30_000);
  return r;
}

/** The pid of the Electron main process itself: on Windows, app.process() is the cmd.exe Playwright starts it through. */
function mainPid(app: ElectronApplication): Promise<number> {
  return app.evaluate(() => process.pid);
}

/** Berth's UI window: the BrowserWindow showing the server (Windows also has a hidden window that hears session end). */
function uiWindowVisible(app: ElectronApplication, url: string): Promise<boolean> {
  return app.evaluate(({ BrowserWindow }, origin) => !!BrowserWindow.getAllWindows().find((w) => w.webContents.getURL().startsWith(origin))?.isVisible(), url);
}

/** Click an item of the app's own menu (the same items as the tray menu) in the main process. */
function clickMenu(app: ElectronApplication, id: string): Promise<void> {
  return app.evaluate(({ Menu }, itemId) => {
    const item = Menu.getApplicationMenu()?.getMenuItemById(itemId);
    if (!item) throw new Error(`no menu item ${itemId}`);
    item.click();
  }, id);
}

function exited(app: ElectronApplication): Promise<number | null> {
  const proc = app.process();
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}

describe.skipIf(!electronPath)('the desktop app (Electron)', () => {
  it('starts, serves /health from its own process, and opens the signed-in window', async () => {
    const r = await launch();
    const h = await health(r.port);
    expect(h).toMatchObject({ app: 'berth', state: 'serving', pid: await mainPid(r.app) });
    const page = await r.app.firstWindow();
    await waitFor(() => page.url().startsWith(r.url), 'the window to load the server URL');
    const session = await page.evaluate(async () => (await fetch('/api/session')).json());
    expect(session).toMatchObject({ authenticated: true });
    // No Node in the page.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
  });

  it('reports its start-up: process start to tray icon and to serving (figures, not limits)', async () => {
    const t0 = performance.now();
    const r = await launch();
    const outside = performance.now() - t0;
    const logFile = path.join(r.dataDir, 'logs', 'berth.log');
    const m = await waitFor(
      () => /ready on \S+; since the process started: (tray icon|menu) after (\d+) ms, serving after (\d+) ms/.exec(fs.readFileSync(logFile, 'utf8')),
      'the ready line in the log',
    );
    expect(Number(m[2])).toBeLessThanOrEqual(Number(m[3]));
    // The figures docs/STARTUP.md quotes; the CI job's log keeps them for each operating system.
    console.log(`desktop start-up (${process.platform}, ${packaged ? 'packaged' : 'development'}): ${m[1]} after ${m[2]} ms, serving after ${m[3]} ms since the process started; launch to /health serving seen from outside ${outside.toFixed(0)} ms`);
  });

  it('has its tray menu, whose status line says it serves on its port', async () => {
    const r = await launch();
    const menu = await waitFor(async () => {
      const m = await r.app.evaluate(({ Menu }) => {
        const item = (id: string) => Menu.getApplicationMenu()?.getMenuItemById(id) ?? null;
        return { status: item('status')?.label ?? '', noTray: item('no-tray')?.label ?? null, quit: !!item('quit') };
      });
      return m.status === `Serving on :${r.port}` ? m : null;
    }, 'the tray menu to say it serves');
    expect(menu.quit).toBe(true);
    // Windows and macOS always have a place for the icon; a Linux session may not (the menu then says why).
    if (process.platform !== 'linux') expect(menu.noTray).toBeNull();
  });

  it('a second launch leaves one instance, and brings the first one\'s window back', async () => {
    const r = await launch();
    const before = await health(r.port);
    await r.app.firstWindow();
    await waitFor(() => uiWindowVisible(r.app, r.url), 'the window to show');
    await r.app.evaluate(({ BrowserWindow }, origin) => BrowserWindow.getAllWindows().find((w) => w.webContents.getURL().startsWith(origin))!.hide(), r.url);
    const second = spawn(electronPath!, r.args, { env: cleanEnv(), stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => second.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect((await health(r.port))?.instance).toBe(before!.instance);
    await waitFor(() => uiWindowVisible(r.app, r.url), 'the first window to show again');
  });

  it('Restart server keeps the port (in-process, same instance)', async () => {
    const r = await launch();
    const before = (await health(r.port))!;
    await clickMenu(r.app, 'restart-server');
    const token = readToken(r.dataDir);
    const status = await waitFor(async () => {
      const res = await fetch(`${r.url}/api/status`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
      const s = res?.ok ? ((await res.json()) as { state: string; history: { kind: string; downtimeMs: number }[] }) : null;
      return s?.state === 'serving' && s.history.some((e) => e.kind === 'restart') ? s : null;
    }, 'the restart to be recorded');
    expect((await waitFor(() => health(r.port), 'health')).instance).toBe(before.instance);
    console.log(`desktop Restart server: port unavailable for ${status.history.find((e) => e.kind === 'restart')!.downtimeMs} ms`);
  });

  it('Restart app keeps the port: a new process serves it with a new instance', async () => {
    const r = await launch();
    const before = (await health(r.port))!;
    await clickMenu(r.app, 'restart-app');
    expect(await exited(r.app)).toBe(0);
    const after = await waitFor(async () => {
      const h = await health(r.port);
      return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
    }, 'the relaunched app to serve the same port', 30_000);
    strays.add(after.pid);
    expect(after.pid).not.toBe(before.pid);
    // The successor is an ordinary instance: it stops through the API and frees the port.
    const res = await fetch(`${r.url}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(r.dataDir)}` } });
    expect(res.status).toBe(202);
    await waitFor(() => !alive(after.pid), 'the successor to exit', 15_000);
    expect(await canListen('127.0.0.1', r.port)).toBe(true);
  });

  it('Quit leaves the port free', async () => {
    const r = await launch();
    const done = exited(r.app);
    await clickMenu(r.app, 'quit');
    expect(await done).toBe(0);
    expect(await canListen('127.0.0.1', r.port)).toBe(true);
  });

  it('an OS-style quit (app.quit, as on logout or Cmd+Q) also drains and frees the port', async () => {
    const r = await launch();
    await r.app.close();
    expect(await canListen('127.0.0.1', r.port)).toBe(true);
  });

  it("Copy works in the window: the page may write the clipboard (Berth's own origin only)", async () => {
    const r = await launch();
    const page = await r.app.firstWindow();
    await waitFor(() => page.url().startsWith(r.url), 'the window to load the server URL');
    // Chromium writes the clipboard only for a focused document: focus it the way Playwright does, whatever the desktop's focus.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true });
    const text = `berth-e2e-${process.pid}-${Date.now()}`;
    type Page = { navigator: { clipboard: { writeText(t: string): Promise<void> } } };
    const outcome = await page.evaluate(
      (t) => (globalThis as unknown as Page).navigator.clipboard.writeText(t).then(() => 'written', (err: Error) => `${err.name}: ${err.message}`),
      text,
    );
    expect(outcome).toBe('written');
    expect(await r.app.evaluate(({ clipboard }) => clipboard.readText())).toBe(text);
  });

  it('its menu: Quit on Cmd/Ctrl+Q; a packaged build has no Reload and no DevTools', async () => {
    const r = await launch();
    const menu = await r.app.evaluate(({ app, Menu }) => {
      const items: { id: string; role: string; accelerator: string }[] = [];
      const walk = (m: Electron.Menu | null) => {
        for (const i of m?.items ?? []) {
          items.push({ id: i.id ?? '', role: String(i.role ?? '').toLowerCase(), accelerator: String(i.accelerator ?? '') });
          walk(i.submenu ?? null);
        }
      };
      walk(Menu.getApplicationMenu());
      return { packaged: app.isPackaged, items };
    });
    expect(menu.items.find((i) => i.id === 'quit')?.accelerator).toBe('CmdOrCtrl+Q');
    const devtools = menu.items.filter((i) => ['reload', 'forcereload', 'toggledevtools'].includes(i.role)).map((i) => i.role);
    if (menu.packaged) expect(devtools).toEqual([]);
    if (process.platform === 'darwin') expect(menu.items.map((i) => i.role)).toEqual(expect.arrayContaining(['hide', 'hideothers', 'unhide']));
  });

  it.runIf(process.platform === 'win32')('Windows: started hidden at login, a hidden window still hears logoff and shutdown', async () => {
    const r = await launch({ extra: ['--hidden'] });
    const listening = await waitFor(
      () => r.app.evaluate(({ BaseWindow }) => BaseWindow.getAllWindows().filter((w) => !w.isVisible() && w.listenerCount('session-end') > 0).length),
      'a window listening for session-end',
    );
    expect(listening).toBe(1);
  });

  it.runIf(!!packaged)('a packaged build is no Node runtime: ELECTRON_RUN_AS_NODE=1 still starts Berth (the RunAsNode fuse is off)', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-e2e-fuses-');
    const child = spawn(electronPath!, ['--data-dir', dataDir, '--port', String(port)], { env: { ...cleanEnv(), ELECTRON_RUN_AS_NODE: '1' }, stdio: 'ignore' });
    const gone = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const served = await Promise.race([waitFor(async () => (await health(port))?.state === 'serving', 'Berth to serve', 30_000), gone.then((c) => `exited ${c}`)]);
    expect(served).toBe(true);
    strays.add((await health(port))!.pid);
    const res = await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    expect(res.status).toBe(202);
    expect(await gone).toBe(0);
  });
});
