/**
 * A web server in any language, run by Berth as a child process behind its
 * port (ARCHITECTURE.md, "Hosting other apps"). Berth keeps the public port;
 * the child listens privately:
 *
 * - `unix`: on a socket in a 0700 folder of the data folder, so no other
 *   local user can even connect to it;
 * - `tcp` (Windows, or a server without Unix sockets): on an ephemeral
 *   loopback port, and it must refuse any request without the per-launch
 *   secret, which it gets in its environment (never on its command line:
 *   /proc/PID/cmdline is readable by every local user).
 *
 * The child's output goes to Berth's log. While it (re)starts, requests wait
 * at `whenReady()` for at most the hold bound, so clients see a delay, not a
 * refusal; a crash restarts it with backoff.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode } from '../errors';
import { HANDOFF_ENV } from '../lifecycle/successor-protocol';
import type { Logger } from '../log';
import { randomBytes } from '../random';

/** How the child is started and reached. The public form is `ChildServerDefinition` in definition.ts. */
export interface ChildServerOptions {
  command: string;
  /** `{socket}`, `{host}`, `{port}` and `{dataDir}` in an argument are replaced by the values for this launch. */
  args?: readonly string[];
  cwd?: string;
  env?: Readonly<Record<string, string>>;
  listen?: 'unix' | 'tcp';
  /** A path the child answers once it is ready; any answer below 500 counts (default `/`). */
  readyPath?: string;
  /** How long one start may take to answer at readyPath (default 30 s). */
  startTimeoutMs?: number;
  /** How long a stopping child gets after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  /** How long a request waits for the child while it (re)starts (default 15 s). */
  holdMs?: number;
}

export type ChildState = 'idle' | 'starting' | 'ready' | 'restarting' | 'crashed' | 'stopping' | 'stopped';

export interface ChildStatus {
  state: ChildState;
  pid: number | null;
  /** How the child is reached: a Unix socket in the data folder, or a loopback port with a secret. */
  channel: 'unix' | 'tcp';
  /** Starts after the first one (restarts asked for and crashes). */
  restarts: number;
  crashes: number;
  lastExit: { code: number | null; signal: string | null; at: string; expected: boolean } | null;
  /** The last start's time from spawn to its first answer, ms. */
  startMs: number | null;
  /** Why it is not ready, in words, when it is not. */
  problem: string | null;
}

/** The header a `tcp` child must find, with the secret from BERTH_APP_SECRET, on every request. */
export const SECRET_HEADER = 'x-berth-app-secret';

/** Backoff between crash restarts; it starts again from the first step once a start has stayed up this long. */
const BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];
const STABLE_MS = 10_000;
/** Longest socket path the platforms take (sun_path: 108 bytes on Linux, 104 on macOS), with room for the NUL. */
const MAX_SOCKET_PATH = 100;

export class ChildUnavailable extends BerthError {
  constructor(message: string) {
    super(message, ExitCode.unexpected, { httpStatus: 503, error: 'app-unavailable' });
  }
}

type Channel = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; secret: string };

export class ChildServer extends EventEmitter<{ change: [ChildStatus] }> {
  private proc: ChildProcess | null = null;
  private _state: ChildState = 'idle';
  private channel: Channel | null = null;
  private restarts = 0;
  private crashes = 0;
  private attempt = 0;
  private lastExit: ChildStatus['lastExit'] = null;
  private startMs: number | null = null;
  private problem: string | null = null;
  private waiters = new Set<() => void>();
  private inFlight = 0;
  private drained: (() => void)[] = [];
  private stableTimer: NodeJS.Timeout | null = null;
  private pending: Promise<unknown> = Promise.resolve();
  /** Set while a stop or restart asked for is under way: the exit that follows is not a crash. */
  private expectExit = false;
  private crashTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: ChildServerOptions,
    private readonly where: { dataDir: string; log: Logger; name: string; platform?: NodeJS.Platform },
  ) {
    super();
    for (const a of opts.args ?? []) {
      if (a.includes('{secret}')) throw new BerthError('A child server gets its secret in the environment (BERTH_APP_SECRET), never on its command line, which every local user can read.', ExitCode.usage);
    }
  }

  get state(): ChildState {
    return this._state;
  }
  get ready(): boolean {
    return this._state === 'ready';
  }
  get holdMs(): number {
    return this.opts.holdMs ?? 15_000;
  }

  status(): ChildStatus {
    return {
      state: this._state,
      pid: this.proc?.pid ?? null,
      channel: this.opts.listen ?? defaultListen(this.where.platform),
      restarts: this.restarts,
      crashes: this.crashes,
      lastExit: this.lastExit,
      startMs: this.startMs,
      problem: this._state === 'ready' ? null : this.problem,
    };
  }

  /** Where the proxy sends requests: an origin, and the socket path when it is a Unix socket. */
  upstream(): { origin: string; socketPath: string | null } {
    const c = this.channel;
    if (!c) throw new Error('the child server has no channel before start()');
    return c.kind === 'unix' ? { origin: 'http://localhost', socketPath: c.path } : { origin: `http://${c.host}:${c.port}`, socketPath: null };
  }

  /** The value of SECRET_HEADER for the child running now (tcp), or null (unix needs none). */
  secret(): string | null {
    return this.channel?.kind === 'tcp' ? this.channel.secret : null;
  }

  /**
   * Null when the child is ready (the common case costs nothing); otherwise
   * a promise that resolves once it is, or rejects with ChildUnavailable
   * after the hold bound.
   */
  whenReady(): Promise<void> | null {
    if (this._state === 'ready') return null;
    if (this._state === 'stopped' || this._state === 'stopping' || this._state === 'idle') return Promise.reject(new ChildUnavailable(`${this.where.name} is not running.`));
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this._state === 'ready') resolve();
        else reject(new ChildUnavailable(`${this.where.name} is ${this._state === 'stopping' || this._state === 'stopped' ? 'not running' : 'not answering'}${this.problem ? `: ${this.problem}` : ''}.`));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new ChildUnavailable(`${this.where.name} did not answer within ${Math.round(this.holdMs / 1000)} s${this.problem ? `: ${this.problem}` : ''}.`));
      }, this.holdMs);
      this.waiters.add(done);
    });
  }

  /** A request is on its way to the child; call the returned function when its answer has left. */
  enter(): () => void {
    this.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.inFlight === 0) for (const fn of this.drained.splice(0)) fn();
    };
  }

  /** Choose where the child will listen (before the proxy is built, which needs to know). */
  async prepare(): Promise<void> {
    this.channel ??= await this.makeChannel();
  }

  /** Start the child and wait for its first answer (a start that fails is tried again, with backoff). */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this._state !== 'idle' && this._state !== 'stopped') return;
      this.channel ??= await this.makeChannel();
      // However Berth ends, the child is told to stop.
      process.once('exit', this.onProcessExit);
      await this.launch('starting');
    });
  }

  private readonly onProcessExit = () => {
    if (this.proc) signal(this.proc, 'SIGTERM');
  };

  /**
   * Restart asked for (the tray, the console): requests arriving from now on
   * wait; those already with the child finish (bounded), then it stops and
   * starts again, and the waiting requests go to the new one.
   */
  restart(): Promise<void> {
    return this.serial(async () => {
      if (this._state === 'stopping' || this._state === 'stopped' || this._state === 'idle') throw new ChildUnavailable(`${this.where.name} is not running.`);
      this.restarts++;
      this.setState('restarting', 'restarting as asked');
      this.cancelCrashRestart();
      await this.quiesce();
      await this.terminate();
      await this.launch('restarting');
    });
  }

  /** Stop for good (Berth stops or hands over): requests in flight finish (bounded), then the child is told to stop. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (this._state === 'stopped' || this._state === 'idle') {
        this._state = 'stopped';
        return;
      }
      this.setState('stopping', 'stopping');
      this.cancelCrashRestart();
      await this.quiesce();
      await this.terminate();
      this.setState('stopped', null);
      process.off('exit', this.onProcessExit);
      if (this.channel?.kind === 'unix') fs.rmSync(this.channel.path, { force: true });
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending.then(fn, fn);
    this.pending = run.catch(() => undefined);
    return run;
  }

  private setState(s: ChildState, problem: string | null): void {
    this._state = s;
    this.problem = problem;
    if (s === 'ready') {
      this.stableTimer = setTimeout(() => (this.attempt = 0), STABLE_MS);
      this.stableTimer.unref();
    } else if (this.stableTimer) {
      clearTimeout(this.stableTimer);
      this.stableTimer = null;
    }
    // Waiters hear of ready, and of states that will not lead there.
    if (s === 'ready' || s === 'stopping' || s === 'stopped') for (const fn of [...this.waiters]) fn();
    this.emit('change', this.status());
  }

  private async makeChannel(): Promise<Channel> {
    const listen = this.opts.listen ?? defaultListen(this.where.platform);
    if (listen === 'unix') {
      const dir = path.join(this.where.dataDir, 'app-sockets');
      const file = path.join(dir, `${process.pid}.sock`);
      if (file.length <= MAX_SOCKET_PATH) {
        // Its own 0700 folder: whatever the umask and the data folder's mode, no one else may connect.
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        fs.chmodSync(dir, 0o700);
        return { kind: 'unix', path: file };
      }
      this.where.log.warn(`the socket path ${file} is longer than a Unix socket may be (${MAX_SOCKET_PATH}); ${this.where.name} listens on a loopback port with a secret instead`);
    }
    return { kind: 'tcp', host: '127.0.0.1', port: await ephemeralPort(), secret: '' };
  }

  private argsFor(c: Channel): string[] {
    const values: Record<string, string> = {
      socket: c.kind === 'unix' ? c.path : '',
      host: c.kind === 'tcp' ? c.host : '',
      port: c.kind === 'tcp' ? String(c.port) : '',
      dataDir: this.where.dataDir,
    };
    return (this.opts.args ?? []).map((a) => a.replace(/\{(socket|host|port|dataDir)\}/g, (_m, k: string) => values[k]!));
  }

  private envFor(c: Channel): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...this.opts.env, BERTH_APP_DATA_DIR: this.where.dataDir };
    // Berth's own handover variable is for Berth, not for what it starts.
    delete env[HANDOFF_ENV];
    if (c.kind === 'unix') env.BERTH_APP_SOCKET = c.path;
    else Object.assign(env, { BERTH_APP_HOST: c.host, BERTH_APP_PORT: String(c.port), BERTH_APP_SECRET: c.secret, BERTH_APP_SECRET_HEADER: SECRET_HEADER });
    return env;
  }

  /** Spawn once and wait for its first answer; a start that fails goes the crash way (backoff, try again). */
  private async launch(state: 'starting' | 'restarting'): Promise<void> {
    const c = this.channel!;
    if (c.kind === 'unix') fs.rmSync(c.path, { force: true });
    else c.secret = randomBytes(32).toString('base64url');
    if (this._state !== state) this.setState(state, this.problem);
    const t0 = performance.now();
    const proc = spawn(this.opts.command, this.argsFor(c), {
      cwd: this.opts.cwd,
      env: this.envFor(c),
      // stdin stays open: a child that reads it sees end-of-file when Berth is gone, however Berth ended.
      stdio: ['pipe', 'pipe', 'pipe'],
      // POSIX: its own process group, so a stop reaches whatever it started (workers, kernels) too.
      detached: process.platform !== 'win32',
      windowsHide: true,
    });
    this.proc = proc;
    this.expectExit = false;
    this.follow(proc);
    const exited = new Promise<string>((resolve) => proc.once('exit', (code, signal) => resolve(`it exited (${signal ?? `code ${code}`}) before answering`)));
    const spawnFailed = new Promise<string>((resolve) => proc.once('error', (err) => resolve(`it could not be started: ${err.message}`)));
    const deadline = this.opts.startTimeoutMs ?? 30_000;
    const answered = this.waitForAnswer(proc, deadline);
    const outcome = await Promise.race([answered, exited, spawnFailed]);
    if (outcome === 'ready' && this.proc === proc) {
      this.startMs = Math.round(performance.now() - t0);
      this.where.log.info(`${this.where.name} is ready (pid ${proc.pid}, ${c.kind === 'unix' ? 'Unix socket' : `port ${c.port} with a secret`}, answered after ${this.startMs} ms)`);
      this.setState('ready', null);
      return;
    }
    if (this.proc !== proc) return;
    // Never answered: stop what is left of it, and let the crash path try again with backoff.
    this.where.log.error(`${this.where.name} did not start: ${outcome}`);
    this.problem = outcome;
    await this.terminate();
    this.crashed(outcome);
  }

  private async waitForAnswer(proc: ChildProcess, deadline: number): Promise<string> {
    const until = performance.now() + deadline;
    let every = 5;
    while (performance.now() < until) {
      if (proc.exitCode !== null || proc.signalCode !== null || this.proc !== proc) return 'it exited before answering';
      if (await this.answers()) return 'ready';
      await sleep(every);
      every = Math.min(every * 2, 100);
    }
    return `it did not answer at ${this.opts.readyPath ?? '/'} within ${Math.round(deadline / 1000)} s`;
  }

  /** One look: does the child answer at readyPath (any status below 500)? */
  private answers(): Promise<boolean> {
    const c = this.channel!;
    return new Promise((resolve) => {
      const target = c.kind === 'unix' ? { socketPath: c.path } : { host: c.host, port: c.port };
      const req = http.request({ ...target, path: this.opts.readyPath ?? '/', method: 'GET', agent: false, headers: c.kind === 'tcp' ? { [SECRET_HEADER]: c.secret, host: 'localhost' } : { host: 'localhost' }, timeout: 2000 }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 500);
      });
      req.once('timeout', () => req.destroy());
      req.once('error', () => resolve(false));
      req.end();
    });
  }

  /** Lines of output into Berth's log; an exit we did not ask for is a crash. */
  private follow(proc: ChildProcess): void {
    const log = this.where.log;
    for (const [stream, level] of [
      [proc.stdout!, 'info'],
      [proc.stderr!, 'info'],
    ] as const) {
      const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
      const name = stream === proc.stdout ? 'stdout' : 'stderr';
      lines.on('line', (line) => {
        if (line.trim()) log[level]({ stream: name, pid: proc.pid }, line.length > 4000 ? `${line.slice(0, 4000)}…` : line);
      });
    }
    proc.stdin!.on('error', () => undefined);
    proc.once('exit', (code, signal) => {
      const expected = this.expectExit || this.proc !== proc;
      this.lastExit = { code, signal, at: new Date().toISOString(), expected };
      if (this.proc === proc) this.proc = null;
      if (expected) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      log.warn(`${this.where.name} (pid ${proc.pid}) exited unexpectedly (${how})`);
      if (this._state === 'ready') this.crashed(`it exited unexpectedly (${how})`);
    });
  }

  /** Start again after the next backoff step; requests wait meanwhile (up to the hold bound). */
  private crashed(why: string): void {
    this.crashes++;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    this.setState('crashed', why);
    this.where.log.info(`${this.where.name} starts again in ${delay} ms`);
    this.crashTimer = setTimeout(() => {
      this.crashTimer = null;
      void this.serial(async () => {
        if (this._state !== 'crashed') return;
        this.restarts++;
        await this.launch('starting');
      }).catch((err: Error) => this.where.log.error(`${this.where.name} could not be started again: ${err.message}`));
    }, delay);
  }

  private cancelCrashRestart(): void {
    if (this.crashTimer) clearTimeout(this.crashTimer);
    this.crashTimer = null;
  }

  /** Wait (bounded) until every request already with the child has its answer. */
  private async quiesce(): Promise<void> {
    if (this.inFlight === 0) return;
    const bound = this.opts.stopTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((r) => this.drained.push(r)), new Promise<void>((r) => (timer = setTimeout(r, bound)))]);
    clearTimeout(timer);
  }

  /** SIGTERM (to its process group on POSIX), then SIGKILL after the stop bound. */
  private async terminate(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
      this.proc = null;
      return;
    }
    this.expectExit = true;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    signal(proc, 'SIGTERM');
    proc.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([gone.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.opts.stopTimeoutMs ?? 5000)))]);
    clearTimeout(timer);
    if (late) {
      this.where.log.warn(`${this.where.name} (pid ${proc.pid}) did not stop within ${this.opts.stopTimeoutMs ?? 5000} ms; killing it`);
      signal(proc, 'SIGKILL');
      await gone;
    }
    if (this.proc === proc) this.proc = null;
  }
}

function defaultListen(platform: NodeJS.Platform = process.platform): 'unix' | 'tcp' {
  // Windows: Unix sockets exist, but few servers there listen on one.
  return platform === 'win32' ? 'tcp' : 'unix';
}

function signal(proc: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (process.platform !== 'win32' && proc.pid) process.kill(-proc.pid, sig);
    else proc.kill(sig);
  } catch {
    // already gone
  }
}

/** A loopback port the OS just handed out. */
function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
