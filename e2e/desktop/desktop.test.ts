/**
 * The desktop app for real: Electron started through Playwright
 * (`_electron.launch`), each test with a fresh userData (`--data-dir`) and a
 * free port. They run wherever an Electron binary is installed (a developer's
 * desktop; the CI workflow's test jobs on Windows, macOS and Linux under
 * xvfb) and are skipped, with one line saying why, where it is not.
 *
 * BERTH_DESKTOP_EXECUTABLE runs the same tests against a packaged app
 * instead (the executable inside Berth.app, Berth.exe or the unpacked Linux
 * build): the CI workflow's macOS job does that with the app it built.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
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
}

const apps: ElectronApplication[] = [];
const strays = new Set<number>();

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close().catch(() => undefined);
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
  apps.push(app);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await health(port))?.state === 'serving', `the desktop app to serve ${url}`, 30_000);
  return { app, port, dataDir, url, args };
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
    expect(h).toMatchObject({ app: 'berth', state: 'serving', pid: r.app.process().pid });
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
    await r.app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.hide());
    const second = spawn(electronPath!, r.args, { env: cleanEnv(), stdio: 'ignore' });
    const code = await new Promise<number | null>((resolve) => second.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect((await health(r.port))?.instance).toBe(before!.instance);
    await waitFor(() => r.app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.isVisible()), 'the first window to show again');
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
});
