/**
 * A rig for the edges of a handover, on real processes: a `berth serve`
 * whose successors write to the same output (so the test sees each one say
 * it serves), load from another process on keep-alive and fresh connections,
 * faults put into the successor with a preload, and the one question every
 * edge ends with: exactly one Berth serves the port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { childrenOf, processState } from '../../soak/lib/procfs.mjs';
import { alive, health, readToken, ROOT, runBerth, startedWaits, startServe, tempDataDir, waitFor, type BerthProcess, type Health } from '../helpers';

export interface LoadSummary {
  requests: number;
  acknowledged: number;
  completed: number;
  /** Acknowledged (headers came) and then broken off, or answered with an error status. */
  lost: number;
  retries: number;
  /** Attempts that got no answer, by error code (each was retried). */
  failures: Record<string, number>;
  lostDetail: string[];
}

/** Load in its own process: keep-alive clients and clients that open a connection per request. */
export function startLoad(port: number, token: string, opts: { keepalive?: number; fresh?: number } = {}) {
  // --token=: a token may begin with '-'.
  const args = [path.join(ROOT, 'test/update/fixtures/load.mjs'), '--port', String(port), `--token=${token}`];
  args.push('--keepalive', String(opts.keepalive ?? 4), '--fresh', String(opts.fresh ?? 2));
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    ready: waitFor(() => out.includes('ready'), 'the load generator'),
    /** Answers so far (a live count, read from nothing but the summary at the end). */
    async stop(): Promise<LoadSummary> {
      child.stdin.end();
      await exited;
      return JSON.parse(out.trim().split('\n').at(-1)!) as LoadSummary;
    },
  };
}

export type Preload = 'none' | 'stop-at-start' | 'crash-after-serving';

/**
 * A fault for successors only (a process started with --handoff), put in
 * with NODE_OPTIONS, which the successor inherits:
 * - stop-at-start: writes its pid to successor.pid and stops itself
 *   (SIGSTOP) before loading anything, holding the socket it inherited;
 * - crash-after-serving: an uncaught exception 300 ms after it says it serves.
 */
function preloadFile(dir: string, kind: Preload): string | null {
  if (kind === 'none') return null;
  const file = path.join(dir, `fault-${kind}.cjs`);
  const successor = "process.argv.some((a) => /^--handoff(=|$)/.test(a))";
  const body =
    kind === 'stop-at-start'
      ? `if (${successor}) { require('node:fs').writeFileSync(${JSON.stringify(path.join(dir, 'successor.pid'))}, String(process.pid)); process.kill(process.pid, 'SIGSTOP'); }\n`
      : `if (${successor}) { const w = process.stdout.write.bind(process.stdout); process.stdout.write = (c, ...a) => { if (String(c).includes('"event":"serving"')) setTimeout(() => { throw new Error('the successor crashed in its first second'); }, 300); return w(c, ...a); }; }\n`;
  fs.writeFileSync(file, body);
  return file;
}

export interface Rig {
  port: number;
  dataDir: string;
  token: string;
  first: BerthProcess & { info: { pid: number; instance: string } };
  /** Every Berth that said it serves here, in order (successors write to the first one's output). */
  serving(): { pid: number; instance: string }[];
  /** Pids to account for at the end besides those that said they serve. */
  others: Set<number>;
  /** POST a lifecycle request on a connection of its own; resolves with the answer whenever it comes. */
  post(urlPath: string): Promise<{ status: number; body: Record<string, unknown> } | { error: string }>;
  /** Wait until exactly one of the Berths seen is alive and it answers /health as serving. */
  oneServer(timeoutMs?: number): Promise<Health>;
  /** GET /api/status of whichever Berth answers. */
  status(): Promise<{ instance: string; state: string; history: { kind: string; failed?: string; detail?: string }[] }>;
  cleanup(): Promise<void>;
}

export async function startRig(port: number, opts: { preload?: Preload; args?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Rig> {
  const dataDir = tempDataDir('berth-edge-');
  const preload = preloadFile(dataDir, opts.preload ?? 'none');
  const env = { ...(preload ? { NODE_OPTIONS: `--require ${preload}` } : {}), ...opts.env };
  const first = await startServe(port, dataDir, opts.args ?? [], env);
  const token = readToken(dataDir);
  const others = new Set<number>();
  const serving = () =>
    first
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"event":"serving"'))
      .map((l) => JSON.parse(l) as { pid: number; instance: string });
  const everyPid = () => [...new Set([first.info.pid, ...serving().map((s) => s.pid), ...others])];
  return {
    port,
    dataDir,
    token,
    first,
    serving,
    others,
    post: (urlPath) => post(port, token, urlPath),
    async oneServer(timeoutMs = 30_000) {
      return waitFor(
        async () => {
          // The started `berth serve` stays on as a waiter once it has handed over (app/cli/foreground.ts): not a server.
          const living = everyPid().filter((p) => alive(p) && !startedWaits(dataDir, p));
          if (living.length !== 1) return null;
          const h = await health(port);
          return h && h.pid === living[0] && h.state === 'serving' ? h : null;
        },
        `exactly one Berth serving port ${port} (alive: ${everyPid().filter(alive).map((p) => (startedWaits(dataDir, p) ? `${p} waiting` : p)).join(', ')})`,
        timeoutMs,
        50,
      );
    },
    async status() {
      const res = await post(port, token, '/api/status', 'GET');
      if ('error' in res) throw new Error(`GET /api/status: ${res.error}`);
      return res.body as never;
    },
    async cleanup() {
      for (const pid of everyPid()) {
        if (!alive(pid)) continue;
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      // Forks of a Berth that never reached exec (the fork-exec row) are its children, with its command line.
      await waitFor(() => everyPid().every((p) => !alive(p)), 'every Berth of the rig to be gone', 10_000).catch(() => undefined);
    },
  };
}

export function post(port: number, token: string, urlPath: string, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> } | { error: string }> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${token}` };
    if (method !== 'GET') headers['Content-Length'] = 0;
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode!, body });
      });
      res.on('error', (err) => resolve({ error: String(err) }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.end();
  });
}

/** The Berth that wrote line `n` (0-based) of "serving", once it has. */
export function nthServing(rig: Rig, n: number, timeoutMs = 30_000): Promise<{ pid: number; instance: string }> {
  return waitFor(() => rig.serving()[n], `Berth #${n} to say it serves`, timeoutMs, 2);
}



/** Live `berth serve` processes of a data directory (Linux /proc), by their command line. */
export function berthsOf(dataDir: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('serve') && cmd.includes(dataDir) && alive(Number(name))) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

export const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;

/**
 * strace attached to `pid` and to everything it starts from now on: each
 * execve fails and the process that made it is stopped (SIGSTOP) right
 * there, between its fork and its exec. What a successor stopped at that
 * step looks like to the process that started it.
 */
export async function stopBetweenForkAndExec(pid: number): Promise<{ detach(): Promise<void>; child: ChildProcess }> {
  const child = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-e', 'inject=execve:error=EPERM:signal=SIGSTOP', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Attached once the kernel says the process has a tracer.
  await waitFor(() => /TracerPid:\s*[1-9]/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), `strace to attach to pid ${pid} (${err.trim()})`, 10_000);
  return {
    child,
    async detach() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

export { alive, childrenOf, runBerth };
/** A process's state letter from /proc (R, S, T for stopped, Z...), or null. */
export const procState: (pid: number) => string | null = processState;
