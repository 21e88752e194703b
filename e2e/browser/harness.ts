/**
 * The browser suite's harness: Debian's Chromium through playwright-core, and
 * a real `berth serve` per test with a fresh data directory on a free port.
 * The port comes from the settings file (not --port), the way a person sets
 * it, so a relaunched Berth reads it back the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ROOT, alive, freePort, health, killBerth, readToken, runBerth, sleep, tempDataDir, waitFor, type BerthProcess } from '../../test/helpers';

// Debian's Chromium where it is installed (this project's machines); elsewhere (CI runners on
// Windows and macOS) the Chromium that `npx playwright-core install chromium` fetched.
export const CHROMIUM = process.env.BERTH_CHROMIUM ?? (fs.existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

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

/** Start `berth serve` with a fresh data dir; the port is written to its settings file. */
export async function startBerth(
  opts: { settings?: Record<string, unknown>; args?: string[]; env?: NodeJS.ProcessEnv; port?: number; dataDir?: string } = {},
): Promise<RunningBerth> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? tempDataDir('berth-browser-');
  fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify({ port, ...opts.settings }, null, 2));
  const proc = runBerth(['serve', '--json', '--data-dir', dataDir, ...(opts.args ?? [])], { env: opts.env });
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

/** Stop every Berth this file started, including relaunched successors, and remove their data dirs. */
export async function stopAll(): Promise<void> {
  for (const b of started.splice(0)) {
    await killBerth(b.proc);
    // Whoever serves the port now (a successor) is ours too.
    const h = await health(b.port);
    if (h) adoptPid(h.pid);
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
