/**
 * What the real-Electron update tests (update-*.test.ts) share: the builds of
 * version N and N+1 (made by build-versions.mjs), whether a test can run here
 * and why not, Berth's update API, and counting Berth's processes.
 *
 * These tests install a real build, let it update itself to the next one
 * from a local update location, and watch the port from outside the whole
 * time. They need real installers, which only the CI workflow's update jobs
 * build; anywhere else they print one line saying why they are skipped.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { ROOT, alive, health, sleep, waitFor, type Health } from '../../test/helpers';

// @ts-ignore: plain ES modules without type declarations (also run on their own with node); typed below.
import * as locationModule from './update-server.mjs';
// @ts-ignore
import * as watchModule from './port-watch.mjs';

export interface UpdateLocation {
  url: string;
  port: number;
  requests: { method: string; file: string; range: string | null; status: number; bytes: number }[];
  /** Bytes of `file` sent in GET responses. */
  bytesSent(file: string): number;
  close(): Promise<void>;
}

/** A generic update location serving `dir` on loopback (update-server.mjs). */
export const serveDirectory: (dir: string, opts?: { host?: string; port?: number; log?: (line: string) => void }) => Promise<UpdateLocation> = locationModule.serveDirectory;

export interface WatchAttempt {
  at: number;
  ok: boolean;
  error?: string;
  version?: string;
  pid?: number;
  instance?: string;
}

export interface WatchSummary {
  attempts: number;
  answered: number;
  failures: Record<string, number>;
  longestOutageMs: number;
  served: { version: string; pid: number; instance: string; answers: number }[];
  interleaved: boolean;
}

/** Watches the port from outside (port-watch.mjs). */
export const watchPort: (opts: { host?: string; port: number; timeoutMs?: number }) => { attempts: WatchAttempt[]; stop(): Promise<WatchSummary> } = watchModule.watchPort;

/** What a test registers to undo (an install, a server, processes), run last first after each test. */
export function useCleanups(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/**
 * Where the CI's update jobs keep evidence (BERTH_UPDATE_EVIDENCE): after each
 * test, pass or fail, the folders and texts named here are copied to
 * <evidence>/<name>/ (Berth's logs, which carry electron-updater's lines;
 * Squirrel.Mac's ShipIt log; what the app printed), and the job uploads them
 * with the builds when it fails. Register it after the cleanups that delete
 * those folders: cleanups run last first.
 */
export function keepEvidence(cleanups: (() => unknown)[], name: string, what: { folders?: string[]; texts?: () => Record<string, string> }): void {
  const root = process.env.BERTH_UPDATE_EVIDENCE;
  if (!root) return;
  cleanups.push(() => {
    const dest = path.resolve(ROOT, root, name);
    fs.mkdirSync(dest, { recursive: true });
    for (const folder of what.folders ?? []) {
      try {
        if (fs.existsSync(folder)) fs.cpSync(folder, path.join(dest, path.basename(folder)), { recursive: true, dereference: false, filter: (src) => !/\.(AppImage|exe|zip|asar)$/i.test(src) });
      } catch (err) {
        fs.writeFileSync(path.join(dest, `${path.basename(folder)}.copy-failed.txt`), String(err));
      }
    }
    for (const [file, text] of Object.entries(what.texts?.() ?? {})) fs.writeFileSync(path.join(dest, file), text);
  });
}

/** Where build-versions.mjs wrote builds.json (the file, or its folder). The update jobs set it. */
export const BUILDS_ENV = 'BERTH_UPDATE_BUILDS';

export interface Build {
  version: string;
  /** electron-builder's output folder for this version: the installer, its blockmap, the manifest. */
  dir: string;
  /** The file the manifest names: the AppImage, the NSIS installer or the macOS zip. */
  artifact: string;
}

export interface Builds {
  platform: NodeJS.Platform;
  arch: string;
  target: string;
  /** The update location baked into both builds; the test serves N+1 there. */
  updateUrl: string;
  manifest: string;
  old: Build;
  new: Build;
}

/**
 * The builds for this platform, or why this test cannot run here. Where
 * BERTH_REQUIRE_ELECTRON=1 (the CI update jobs), a missing build is an error,
 * not a skip; a test for another OS is always just skipped.
 */
export function updateBuilds(platform: NodeJS.Platform, testFile: string, extraProblem: () => string | null = () => null): Builds | null {
  if (process.platform !== platform) {
    console.log(`${testFile}: skipped, this test is for ${platform} (this is ${process.platform}).`);
    return null;
  }
  const { builds, problem } = readBuilds(platform);
  const reason = problem ?? extraProblem();
  if (!reason) return builds;
  if (process.env.BERTH_REQUIRE_ELECTRON === '1') throw new Error(`${testFile}: BERTH_REQUIRE_ELECTRON=1 but ${reason}`);
  console.log(`${testFile}: skipped, ${reason}. The CI workflow's update jobs run it.`);
  return null;
}

function readBuilds(platform: NodeJS.Platform): { builds: Builds | null; problem: string | null } {
  const where = process.env[BUILDS_ENV];
  if (!where) {
    return { builds: null, problem: `it needs real builds of version N and N+1 (run \`node e2e/desktop/build-versions.mjs\`, which needs an Electron download, then set ${BUILDS_ENV}=dist-e2e/builds.json)` };
  }
  const file = path.resolve(ROOT, where.endsWith('.json') ? where : path.join(where, 'builds.json'));
  let builds: Builds;
  try {
    builds = JSON.parse(fs.readFileSync(file, 'utf8')) as Builds;
  } catch (err) {
    return { builds: null, problem: `${BUILDS_ENV} names ${file}, which cannot be read (${(err as Error).message})` };
  }
  if (builds.platform !== platform) return { builds: null, problem: `${file} holds ${builds.platform} builds, not ${platform}` };
  for (const b of [builds.old, builds.new]) {
    if (!fs.existsSync(path.join(b.dir, b.artifact))) return { builds: null, problem: `${path.join(b.dir, b.artifact)} (Berth ${b.version}) is missing` };
  }
  if (!fs.existsSync(path.join(builds.new.dir, builds.manifest))) return { builds: null, problem: `${path.join(builds.new.dir, builds.manifest)} is missing` };
  return { builds, problem: null };
}

/** Whether Berth has run with this data folder: Electron may create the folder itself, Berth's own files say Berth ran. */
export function hasRunIn(dataDir: string): boolean {
  return ['settings.json', 'auth-token'].some((f) => fs.existsSync(path.join(dataDir, f)));
}

/** Serve N+1's folder at the update location both builds have baked in, until the test's cleanups run. */
export async function serveNewVersion(b: Builds, cleanups: (() => unknown)[]): Promise<UpdateLocation> {
  const location = await serveDirectory(b.new.dir, { port: Number(new URL(b.updateUrl).port), log: (l) => console.log(`update location: ${l}`) });
  cleanups.push(() => location.close());
  return location;
}

/** Every variable but Berth's own and Electron's run-as-Node switch, so the app sees a plain user environment. */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('BERTH_') && k !== 'ELECTRON_RUN_AS_NODE') env[k] = v;
  return { ...env, ...extra };
}

/** settings.json as a user would have it: Berth's port, and no automatic check, so the test decides when the update happens. */
export function writeSettings(dataDir: string, settings: { port: number; launchAtLogin?: boolean }): void {
  fs.mkdirSync(dataDir, { recursive: true });
  const value = { port: settings.port, launchAtLogin: settings.launchAtLogin ?? false, update: { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false } };
  fs.writeFileSync(path.join(dataDir, 'settings.json'), `${JSON.stringify(value, null, 2)}\n`);
}

interface UpdateStatus {
  state: string;
  version?: string;
  error?: string;
  reason?: string;
  percent?: number;
}

async function api(port: number, token: string, method: string, route: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${route}`, { method, headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * Check for updates and download one through Berth's own API (what "Check
 * for updates" in the tray does), until the update state is `ready` for
 * `version`. An `error` state ends the wait with Berth's own message.
 */
export async function downloadUpdate(port: number, token: string, version: string): Promise<UpdateStatus> {
  const check = await api(port, token, 'POST', '/api/update/check');
  if (check.status !== 202) throw new Error(`POST /api/update/check answered ${check.status}: ${JSON.stringify(check.body)}`);
  const until = Date.now() + 300_000;
  for (;;) {
    const { body } = await api(port, token, 'GET', '/api/update');
    const s = body as UpdateStatus;
    // An error is where a check or download ends: say Berth's own message instead of waiting on.
    if (s.state === 'error' || s.state === 'disabled') throw new Error(`the update state is ${s.state}: ${s.error ?? s.reason}`);
    if (s.state === 'ready' && s.version === version) return s;
    // The check answered 202 once it had begun, so idle now means it found nothing.
    if (s.state === 'idle') throw new Error(`Berth checked and found no update (the update location should offer ${version})`);
    if (Date.now() > until) throw new Error(`Berth did not download ${version} within 300 s (state ${s.state}${s.percent !== undefined ? `, ${s.percent}%` : ''})`);
    await sleep(500);
  }
}

/** "Restart to update": POST /api/update/install, answered 202 before the port is handed over. */
export async function installUpdate(port: number, token: string): Promise<void> {
  const res = await api(port, token, 'POST', '/api/update/install');
  if (res.status !== 202) throw new Error(`POST /api/update/install answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/** Ask a Berth to stop through its API and wait for its process to go. */
export async function stopBerth(port: number, token: string): Promise<void> {
  await api(port, token, 'POST', '/api/stop').catch(() => undefined);
  await waitFor(async () => !(await health(port)), 'Berth to stop', 30_000, 200);
}

/**
 * The Berth serving `port` once it is `version` and a different instance from
 * `not`. If it never comes, the error ends with `more` (say, what the
 * process printed) and the end of Berth's log in `dataDir`.
 */
export function servingVersion(port: number, version: string, opts: { dataDir: string; not?: Health; timeoutMs?: number; more?: () => string }): Promise<Health> {
  return waitFor(
    async () => {
      const h = await health(port);
      return h && h.state === 'serving' && h.version === version && h.instance !== opts.not?.instance ? h : null;
    },
    `Berth ${version} to serve port ${port}`,
    opts.timeoutMs ?? 180_000,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}${opts.more ? `\n${opts.more()}` : ''}\n--- log ---\n${logTail(opts.dataDir)}`);
  });
}

/**
 * The update itself, watched from outside: check and download N+1 through
 * Berth's API, start watching the port, "Restart to update", then wait until
 * N+1 serves, N's process (`before`) has exited, and N+1 has answered 50
 * times, so that a late second server would show in what the watch saw.
 */
export async function updateWatched(b: Builds, port: number, token: string, before: Health, dataDir: string): Promise<{ after: Health; seen: WatchSummary }> {
  await downloadUpdate(port, token, b.new.version);
  const watch = watchPort({ port });
  await installUpdate(port, token);
  const after = await servingVersion(port, b.new.version, { not: before, dataDir });
  await waitFor(() => !alive(before.pid), `Berth ${b.old.version} (pid ${before.pid}) to exit`, 30_000);
  await waitFor(() => watch.attempts.filter((a) => a.ok && a.instance === after.instance).length >= 50, 'N+1 to answer 50 times');
  return { after, seen: await watch.stop() };
}

/**
 * Berth's main processes: the Electron main process, not its helpers
 * (renderer, GPU, utility processes carry --type=) nor the AppImage
 * runtime that mounts the image.
 */
export function berthMainPids(): number[] {
  if (process.platform === 'win32') {
    const out = execFileSync(
      'powershell.exe',
      ['-NoProfile', '-Command', "Get-CimInstance Win32_Process -Filter \"Name='Berth.exe'\" | Select-Object ProcessId,CommandLine | ConvertTo-Json -Compress"],
      { encoding: 'utf8' },
    ).trim();
    if (!out) return [];
    const rows = ([] as { ProcessId: number; CommandLine: string | null }[]).concat(JSON.parse(out));
    return rows.filter((r) => !(r.CommandLine ?? '').includes('--type=')).map((r) => r.ProcessId);
  }
  if (process.platform === 'darwin') {
    const out = execFileSync('ps', ['-axo', 'pid=,command='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => !!m && m[2]!.includes('Berth.app/Contents/MacOS/Berth') && !m[2]!.includes('--type='))
      .map((m) => Number(m[1]));
  }
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // gone meanwhile
    }
    // electron-builder names the Linux executable after executableName: berth.
    if (argv.length && path.basename(argv[0]!) === 'berth' && !argv.some((a) => a.startsWith('--type='))) pids.push(Number(entry));
  }
  return pids;
}

/** How often `text` appears in Berth's logs (every version writes to the same logs/ in the data directory). */
export function logCount(dataDir: string, text: string): number {
  const dir = path.join(dataDir, 'logs');
  if (!fs.existsSync(dir)) return 0;
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .reduce((n, t) => n + t.split(text).length - 1, 0);
}

/** The last lines of Berth's log, for a failure message. */
export function logTail(dataDir: string, lines = 40): string {
  const file = path.join(dataDir, 'logs', 'berth.log');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : `(no ${file})`;
}
