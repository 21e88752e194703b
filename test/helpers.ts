/**
 * Shared test helpers: real ports, real data directories, real `berth`
 * processes. Nothing here mocks the network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { berthCommandLine } from '../app/berth-command';
import { alive as aliveProcess, freePort as freePortBelowEphemeral } from '../soak/lib/common.mjs';
import { WAITING } from '../app/cli/foreground';

export const ROOT = path.resolve(__dirname, '..');
export const BERTH_BIN = path.join(ROOT, 'bin', 'berth.js');

/** A free loopback port below the ephemeral range (see soak/lib/common.mjs for why). */
export const freePort: () => Promise<number> = freePortBelowEphemeral;

/** A fresh data directory: tests never touch the user's real profile. */
export function tempDataDir(prefix = 'berth-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 15_000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await sleep(everyMs);
  }
}

export interface Health {
  app: string;
  version: string;
  pid: number;
  instance: string;
  state: string;
  startedAt: string;
}

export async function health(port: number, host = '127.0.0.1'): Promise<Health | null> {
  try {
    const res = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/health`, { signal: AbortSignal.timeout(2000) });
    if (res.status !== 200) return null;
    return (await res.json()) as Health;
  } catch {
    return null;
  }
}

/**
 * POST with the token on a connection of its own: a pooled keep-alive one may
 * be the one a relaunching Berth has just closed.
 */
export function postFresh(port: number, urlPath: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface BerthProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

let runtimeDir: string | undefined;
/**
 * Where the Berths this test process starts list themselves (BERTH_RUNTIME_DIR),
 * one folder per test process, so that no test (and no other checkout's tests
 * on the same machine) sees another's Berths in `berth list`.
 */
export function testRuntimeDir(): string {
  if (!runtimeDir) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-running-'));
    runtimeDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return runtimeDir;
}

/** The environment a `berth` started by a test gets: this one without BERTH_* from the developer's shell, plus `extra`. */
export function berthEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BERTH_')) delete env[k];
  return { ...env, BERTH_RUNTIME_DIR: testRuntimeDir(), ...extra };
}

/**
 * How the `berth` that runBerth starts names itself in the commands it prints:
 * `node bin/berth.js` in this checkout (or `berth`, where that name on PATH is
 * this checkout, as after `npm link`).
 */
export function berthProgram(where: 'terminal' | 'page' = 'terminal'): string {
  // A page may be read from anywhere: it names the full path (cwd null).
  return berthCommandLine([], { script: BERTH_BIN, env: berthEnv(), platform: process.platform, cwd: where === 'page' ? null : ROOT });
}

/** Start `node bin/berth.js <args>` with a clean environment (no BERTH_* from the developer's shell). */
export function runBerth(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): BerthProcess {
  const child = spawn(process.execPath, [BERTH_BIN, ...args], { env: berthEnv(opts.env), cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Start `berth serve` and wait until it reports serving (or exits). */
export async function startServe(port: number, dataDir: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<BerthProcess & { info: { url: string; pid: number; instance: string; version: string } }> {
  const p = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, ...extra], { env });
  const info = await Promise.race([
    waitFor(() => {
      const line = p.stdout().split('\n').find((l) => l.includes('"event":"serving"'));
      return line ? (JSON.parse(line) as { url: string; pid: number; instance: string; version: string }) : null;
    }, 'berth serve to report serving'),
    p.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${p.stdout()}\n${p.stderr()}`);
    }),
  ]);
  return { ...p, info };
}

/** Stop a berth process politely, then firmly; never leave one behind. */
export async function killBerth(p: { child: ChildProcess; exited: Promise<unknown> }): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const done = await Promise.race([p.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!done) p.child.kill('SIGKILL');
  await p.exited;
}

/**
 * Call off a data folder's guardians (app/guardian) before killing its
 * Berths at the end of a test: a Berth killed within a guardian's window
 * after a close-and-rebind relaunch would be started again, and outlive the test.
 */
export function endGuardians(dataDir: string): void {
  fs.rmSync(path.join(dataDir, 'guardian'), { recursive: true, force: true });
}

export function readToken(dataDir: string): string {
  return fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim();
}

/**
 * Whether a pid is alive. A zombie (exited, not yet reaped) is not: a detached
 * successor is re-parented to PID 1, which in a container may never reap it.
 */
export const alive: (pid: number) => boolean = aliveProcess;

/**
 * An HTTP request whose answer comes back byte for byte, on a connection of
 * its own: fetch() would decode a compressed body and hide the encoding, or
 * a multipart one's framing.
 */
export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end();
  });
}

/**
 * The process that was started as `berth serve` has handed its port over and
 * waits for the Berth serving now (app/cli/foreground.ts): its log says so.
 */
export function startedWaits(dataDir: string, pid: number): boolean {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, 'logs', 'berth.log'), 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    if (!line.includes(WAITING)) return false;
    const e = JSON.parse(line) as { pid: number; msg: string };
    return e.pid === pid && e.msg.startsWith(WAITING);
  });
}
