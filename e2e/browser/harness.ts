/**
 * The browser suite's harness: a Chromium through playwright-core (Debian's,
 * Playwright's or the npm package's: chromium.mjs), axe-core, and a real
 * `berth serve` per test with a fresh data directory on a free port.
 * The port comes from the settings file (not --port), the way a person sets
 * it, so a relaunched Berth reads it back the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, vi } from 'vitest';
// Plain JavaScript, so a test can also run it in a child process with another environment.
import { chooseChromium, launchChromium } from './chromium.mjs';
import { ROOT, alive, freePort, health, killBerth, readToken, runBerth, sleep, tempDataDir, waitFor, type BerthProcess, type Health } from '../../test/helpers';

export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

/** Debian's Chromium, Playwright's, or the npm package's: see chromium.mjs. */
export async function launchBrowser(): Promise<Browser> {
  return launchChromium(await chooseChromium());
}

// A busy 2-core machine runs these beside other suites: a page may take a few seconds to catch up.
vi.setConfig({ expect: { poll: { timeout: 10_000, interval: 50 } } });

/** A page size that shows a whole page of the console in the screenshots. */
export const VIEWPORT = { width: 1200, height: 900 };

/**
 * One Chromium for a test file, and every Berth a test started stopped after
 * it (then the file's own `cleanups`). Returns a getter: the browser exists
 * once beforeAll has run.
 */
export function useBrowser(cleanups: (() => unknown)[] = []): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await stopAll();
    for (const c of cleanups.splice(0)) await c();
  });
  return () => browser!;
}

export interface RunningBerth {
  proc: BerthProcess;
  port: number;
  dataDir: string;
  token: string;
  origin: string;
  instance: string;
  pid: number;
  /** The token-carrying address `berth open` would use; lands on `hash`. */
  signInUrl(hash?: string): string;
}

const started: RunningBerth[] = [];
const strayPids = new Set<number>();

/**
 * Start `berth serve` with a fresh data dir; the port is written to its settings file.
 * `updatable`: run as an installed AppImage (a stand-in file), so updates and their
 * settings are on; a plain `berth serve` from a checkout cannot update itself.
 */
export async function startBerth(
  opts: { settings?: Record<string, unknown> | null; args?: string[]; env?: NodeJS.ProcessEnv; port?: number; dataDir?: string; updatable?: boolean } = {},
): Promise<RunningBerth> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? tempDataDir('berth-browser-');
  // null: keep the settings file already there (a Berth started again on the same data folder).
  if (opts.settings !== null) fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ port, ...opts.settings }, null, 2));
  const env = { ...opts.env };
  if (opts.updatable) {
    const appImage = path.join(dataDir, 'install', 'Berth.AppImage');
    fs.mkdirSync(path.dirname(appImage), { recursive: true });
    fs.writeFileSync(appImage, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    env.APPIMAGE = appImage;
  }
  const proc = runBerth(['serve', '--json', '--data-dir', dataDir, ...(opts.args ?? [])], { env });
  const info = await Promise.race([
    waitFor(() => {
      const line = proc.stdout().split('\n').find((l) => l.includes('"event":"serving"'));
      return line ? (JSON.parse(line) as { url: string; pid: number; instance: string }) : null;
    }, 'berth serve to report serving'),
    proc.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${proc.stdout()}\n${proc.stderr()}`);
    }),
  ]);
  const token = readToken(dataDir);
  const origin = `http://127.0.0.1:${port}`;
  const b: RunningBerth = {
    proc,
    port,
    dataDir,
    token,
    origin,
    instance: info.instance,
    pid: info.pid,
    signInUrl: (hash = '#/status') => `${origin}/?token=${encodeURIComponent(token)}${hash}`,
  };
  started.push(b);
  return b;
}

/** A relaunched successor is not our child: remember its pid so cleanup can stop it. */
export function adoptPid(pid: number): void {
  if (pid !== process.pid) strayPids.add(pid);
}

/** Alive and not a zombie waiting for a parent that is gone. */
export function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

/** Linux: whether `pid` is a Berth started on `dataDir` (from its command line); elsewhere assume so. */
function servesDataDir(pid: number, dataDir: string): boolean {
  try {
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((a, i) => a === `--data-dir=${dataDir}` || (a === '--data-dir' && args[i + 1] === dataDir));
  } catch {
    return process.platform !== 'linux';
  }
}

/** Stop every Berth this file started, including relaunched successors, and remove their data dirs. */
export async function stopAll(): Promise<void> {
  for (const b of started.splice(0)) {
    await killBerth(b.proc);
    // Whoever serves the port now is ours too if it is a successor of ours (same data folder). The port
    // may also have gone to another test's Berth meanwhile (other workers, other checkouts): never that one.
    const h = await health(b.port);
    if (h && servesDataDir(h.pid, b.dataDir)) adoptPid(h.pid);
    strayPids.delete(b.proc.child.pid ?? -1);
    fs.rmSync(b.dataDir, { recursive: true, force: true, maxRetries: 3 });
  }
  for (const pid of Array.from(strayPids)) {
    strayPids.delete(pid);
    if (!running(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const gone = await waitFor(() => !running(pid), `pid ${pid} to exit`, 5000).catch(() => false);
    if (!gone && running(pid)) process.kill(pid, 'SIGKILL');
  }
}

export interface PageProblems {
  errors: string[];
}

/**
 * A page that records what must never happen: script errors, CSP violations,
 * requests to anywhere but the Berth under test.
 */
export async function openPage(context: BrowserContext, allowedOrigins: () => string[]): Promise<{ page: Page; problems: PageProblems }> {
  const page = await context.newPage();
  const problems: PageProblems = { errors: [] };
  page.on('pageerror', (err) => problems.errors.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // A dropped connection during a restart is expected and logged by Chromium as a failed resource; our code never logs errors.
    if (msg.type() === 'error' && !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to load resource/.test(msg.text())) {
      problems.errors.push(`console error: ${msg.text()}`);
    }
  });
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol === 'data:') return;
    if (!allowedOrigins().includes(url.origin)) problems.errors.push(`request to another origin: ${req.url()}`);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  return { page, problems };
}

export interface Tab {
  context: BrowserContext;
  page: Page;
  problems: PageProblems;
}

/**
 * A tab in a browser context of its own (no cookie yet), at the suite's page
 * size unless `options` say otherwise, recording problems as openPage does.
 */
export async function newTab(browser: Browser, allowedOrigins: () => string[], options: BrowserContextOptions = {}): Promise<Tab> {
  const context = await browser.newContext({ viewport: VIEWPORT, ...options });
  return { context, ...(await openPage(context, allowedOrigins)) };
}

/**
 * A new tab signed in to `berth` the way `berth open` does it (the token in
 * the address), once the page at `hash` shows what it loads from Berth.
 * `allowedOrigins`: where its requests may go (default: this Berth only).
 */
export async function signedInTab(
  browser: Browser,
  berth: RunningBerth,
  hash = '#/status',
  opts: { allowedOrigins?: () => string[]; context?: BrowserContextOptions } = {},
): Promise<Tab> {
  const tab = await newTab(browser, opts.allowedOrigins ?? (() => [berth.origin]), opts.context);
  await tab.page.goto(berth.signInUrl(hash));
  await pageLoaded(tab.page, hash);
  return tab;
}

/** Wait until the page at `hash` shows what it loads: the live link on Status, the form on Settings, the lines on Logs, the card on Update. */
export async function pageLoaded(page: Page, hash: string): Promise<void> {
  if (hash === '#/status') await waitLive(page);
  else if (hash === '#/settings') await page.locator('#port').waitFor();
  else if (hash === '#/logs') await page.locator('#log-lines[data-loaded="true"]').waitFor();
  else if (hash === '#/update') await page.locator('.update-body article').first().waitFor();
}

/** Wait until the page's link to Berth reads Live. */
export async function waitLive(page: Page): Promise<void> {
  await expect.poll(() => page.locator('#link-state').textContent()).toBe('Live');
}

/** One fact of the Status page's summary, by its label. */
export const fact = (page: Page, label: string) => page.locator(`.summary .facts dt:text-is("${label}") + dd`);

/** The banner's title while it shows, else null (never waits long for it). */
export const bannerTitle = (page: Page) => page.locator('#banner:not([hidden]) .banner-title').textContent({ timeout: 1000 }).catch(() => null);

/** A request to Berth's API with its token (a JSON body when given). */
export function callApi(berth: RunningBerth, method: string, route: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${berth.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${berth.origin}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** Wait until another Berth serves `berth`'s port (a relaunched successor), and make sure cleanup stops it. */
export async function successorOf(berth: RunningBerth): Promise<Health> {
  const next = await waitFor(async () => {
    const h = await health(berth.port);
    return h && h.instance !== berth.instance && h.state === 'serving' ? h : null;
  }, 'a relaunched Berth to serve', 20_000);
  adoptPid(next.pid);
  return next;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // A full-page shot of a scrolled page draws the sticky header mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Record every value the <html data-link> attribute takes, from now on, so a
 * test can tell that the page really went through "reconnecting".
 */
export async function recordLinkStates(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __linkStates: string[] };
    w.__linkStates = [document.documentElement.dataset.link ?? ''];
    new MutationObserver(() => w.__linkStates.push(document.documentElement.dataset.link ?? '')).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ['data-link'],
    });
  });
  return () => page.evaluate(() => (window as unknown as { __linkStates: string[] }).__linkStates);
}

export { freePort, health, sleep, waitFor };

const AXE_SOURCE = fs.readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * Run axe-core in the page and return its findings at every impact level
 * (minor, moderate, serious, critical). Playwright evaluates through the
 * DevTools protocol, which the page's CSP (script-src 'self') does not
 * govern, so the page under test stays as served.
 */
export async function axeFindings(page: Page): Promise<AxeFinding[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary: string }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`) }));
  });
}
