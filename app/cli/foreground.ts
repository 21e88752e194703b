/**
 * `berth serve` keeps the contract of a foreground program: the process a
 * person (or a service manager) started is Berth until Berth stops, however
 * many times it relaunched. Ctrl+C in its terminal, a closed terminal, or
 * systemd stopping its main process, all reach the Berth serving now and stop
 * it with a drain, and the started process exits only after it, with its code.
 *
 * No extra process until it is needed: the started process serves itself, and
 * only at its first relaunch (the successor takes the listening socket, which
 * it has to, since the port must never close) does it stay on as a thin
 * waiter, like nodemon or nginx's master process. It listens on a Unix socket
 * in the data folder (0700, so only this user) named in the environment the
 * relaunched processes inherit (BERTH_FOREGROUND). Each relaunched Berth
 * connects at its start and reports its state; the connection closing is its
 * end, so the waiter never guesses from a pid. A signal the waiter gets is
 * passed on over those connections.
 *
 * A relaunched Berth whose waiter has gone (killed) keeps serving and stops
 * writing to the console: the terminal it shares is no longer a Berth's.
 *
 * Windows has no Unix sockets in folders nor signals to pass on: there a
 * relaunch ends the started process as before (docs/HEADLESS.md).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log';
import type { HostState } from '../lifecycle/states';
import type { StopSignal } from '../lifecycle/signals';
import { isAlive, isRunning } from '../processes';

export const FOREGROUND_ENV = 'BERTH_FOREGROUND';
/** The log line of a started process that has handed its port over and waits for the Berth serving now. */
export const WAITING = 'waiting for Berth pid';

/** What a relaunched Berth says (one JSON object per line). */
type Report = { pid: number; state: HostState | 'hello'; url?: string } | { pid: number; bye: number; handedOver: boolean };
/** What the waiter says: a signal to act on, as if it had been sent directly. */
type Order = { signal: StopSignal; again: boolean };

export interface Attachment {
  log: Logger;
  signal(signal: StopSignal, again: boolean): void;
  gone(): void;
}

/** The part a `berth serve` process plays; serve-host.ts calls these at the same points whatever the part. */
export interface ForegroundRole {
  /** The host's state changed; `url` is where it serves. */
  state(s: HostState, url: string): void;
  /** A stop signal this process got: the Berth processes that report here get it too. */
  forward(signal: StopSignal, again: boolean): void;
  /** Once serving can be stopped: the log, what to do with a signal the waiter passes on, and once the waiter is gone. */
  attach(to: Attachment): void;
  /** This process's server is done with `code`; resolves with the code to exit with. */
  finish(code: number, handedOver: boolean): Promise<number>;
}

/**
 * The part this process plays: a fresh start is the foreground (it may become
 * the waiter); a relaunched Berth with a waiter reports to it; a relaunched
 * Berth without one (started by an updater, or its waiter gone) plays none.
 */
export function foregroundRole(opts: { relaunched: boolean; dataDir: string; successorDeadline: number; env?: NodeJS.ProcessEnv }): ForegroundRole {
  const env = opts.env ?? process.env;
  const address = env[FOREGROUND_ENV];
  if (!opts.relaunched) {
    delete env[FOREGROUND_ENV];
    return process.platform === 'win32' ? NONE : new Foreground(opts.dataDir, opts.successorDeadline, env);
  }
  if (!address) return NONE;
  return new Relaunched(address, env);
}

const NONE: ForegroundRole = {
  state: () => undefined,
  forward: () => undefined,
  attach: () => undefined,
  finish: async (code) => code,
};

/** Newline-separated JSON objects from a socket; anything else is ignored. */
function readLines<T>(socket: net.Socket, onMessage: (m: T) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buffer += d;
    if (buffer.length > 64 * 1024) buffer = buffer.slice(-64 * 1024);
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      try {
        onMessage(JSON.parse(line) as T);
      } catch {
        // not ours
      }
    }
  });
}

interface Member {
  pid: number;
  state: HostState | 'hello';
  url?: string;
  bye?: { code: number; handedOver: boolean };
}

/** The process that was started: serves, and from its first relaunch on, waits for the Berth serving now. */
class Foreground implements ForegroundRole {
  private server: net.Server | null = null;
  private socketPath: string | null = null;
  private readonly members = new Map<net.Socket, Member>();
  /** Who serves now: this process (null) until a relaunched Berth says it serves. */
  private current: Member | null = null;
  private ownUrl = '';
  private stopping: Order | null = null;
  private own: { code: number } | null = null;
  private ending: Promise<number> | null = null;
  private settle: ((code: number) => void) | null = null;
  private successorTimer: NodeJS.Timeout | null = null;
  private log: Logger | null = null;
  private saidWaiting = false;

  constructor(
    private readonly dataDir: string,
    private readonly successorDeadline: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  state(s: HostState, url: string): void {
    if (s === 'serving') {
      this.current = null;
      this.ownUrl = url;
    }
    // Before the successor is started: it finds this process through the environment it inherits.
    if (s === 'relaunching') this.open();
  }

  private open(): void {
    if (this.server) return;
    const file = socketFile(this.dataDir);
    if (!file) return;
    const server = net.createServer((socket) => this.join(socket));
    server.on('error', (err) => {
      this.log?.warn({ console: false }, `Berth cannot wait here for the relaunched process (${(err as NodeJS.ErrnoException).code ?? err}); Ctrl+C here will not reach it`);
      delete this.env[FOREGROUND_ENV];
    });
    server.listen(file);
    server.unref();
    this.server = server;
    this.socketPath = file;
    this.env[FOREGROUND_ENV] = file;
    process.once('exit', () => fs.rmSync(file, { force: true }));
  }

  private join(socket: net.Socket): void {
    const member: Member = { pid: 0, state: 'hello' };
    this.members.set(socket, member);
    if (this.successorTimer) clearTimeout(this.successorTimer);
    this.successorTimer = null;
    socket.on('error', () => undefined);
    readLines<Report>(socket, (m) => {
      if (!Number.isInteger(m.pid)) return;
      member.pid = m.pid;
      if ('bye' in m) member.bye = { code: m.bye, handedOver: m.handedOver };
      else {
        member.state = m.state;
        if (m.url) member.url = m.url;
        if (m.state === 'serving') {
          this.current = member;
          this.sayWaiting();
        }
      }
      // A Berth that starts while this one is being stopped is part of what is stopped.
      if ('state' in m && m.state === 'hello' && this.stopping) send(socket, this.stopping);
    });
    socket.on('close', () => {
      this.members.delete(socket);
      // One turn of the loop first: a successor's connection may be waiting to be accepted.
      setImmediate(() => this.check());
    });
  }

  forward(signal: StopSignal, again: boolean): void {
    this.stopping = { signal, again };
    for (const socket of this.members.keys()) send(socket, this.stopping);
    if (this.members.size) this.log?.info({ console: false }, `${signal}: passed on to ${[...this.members.values()].map((m) => `pid ${m.pid}`).join(', ')}`);
  }

  attach(to: Attachment): void {
    // The waiter is passed no signals: it is the one they come to.
    this.log = to.log;
  }

  finish(code: number): Promise<number> {
    this.own ??= { code };
    this.sayWaiting();
    this.ending ??= new Promise<number>((resolve) => {
      this.settle = resolve;
      this.check();
    });
    return this.ending;
  }

  /** Once, when this process has handed over: for whoever reads the log (and for tests). */
  private sayWaiting(): void {
    if (!this.own || !this.current || this.saidWaiting) return;
    this.saidWaiting = true;
    this.log?.info({ console: false }, `${WAITING} ${this.current.pid}, which serves now; stopping this process stops it`);
  }

  /** Once this process no longer serves: exit when the Berth serving now has ended. */
  private check(): void {
    if (!this.own || !this.settle || this.members.size > 0) return;
    const last = this.current;
    if (!last) return this.end(this.own.code);
    if (last.bye && !last.bye.handedOver) return this.end(last.bye.code);
    // It handed over, or was killed in the middle of a relaunch: its successor may still come.
    if (last.bye?.handedOver || last.state === 'relaunching') {
      this.successorTimer ??= setTimeout(() => this.lost(last, 'its successor never reported'), this.successorDeadline);
      return;
    }
    this.lost(last, 'it ended without stopping');
  }

  private lost(last: Member, why: string): void {
    if (this.members.size > 0) return;
    const where = last.url ?? this.ownUrl;
    this.log?.error(`Berth pid ${last.pid} ended without stopping (${why}); nothing of this Berth serves ${where} now. Its log: ${path.join(this.dataDir, 'logs', 'berth.log')}`);
    this.end(1);
  }

  private end(code: number): void {
    if (this.successorTimer) clearTimeout(this.successorTimer);
    this.server?.close();
    if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
    const settle = this.settle;
    this.settle = null;
    // Its connection closes just before its process ends: exit after it, as a service manager expects of a main
    // process (systemd stops what is left of the service once it exits). Bounded: it has nothing left to do.
    const pid = this.current?.pid;
    const until = Date.now() + 10_000;
    const after = (): void => {
      if (pid && pid !== process.pid && isAlive(pid) && Date.now() < until) setTimeout(after, 10);
      else settle?.(code);
    };
    after();
  }
}


function send(socket: net.Socket, message: Order | Report): void {
  if (!socket.destroyed) socket.write(JSON.stringify(message) + '\n');
}

/**
 * Where the waiter listens: in the data folder, whose 0700 keeps other users
 * out; a folder of its own under the temp folder where the data folder's path
 * is too long for a socket (about 100 bytes). Sockets left by waiters that
 * were killed are removed first.
 */
function socketFile(dataDir: string): string | null {
  const name = `foreground-${process.pid}.sock`;
  try {
    for (const f of fs.readdirSync(dataDir)) {
      const m = /^foreground-(\d+)\.sock$/.exec(f);
      if (m && !isRunning(Number(m[1]))) fs.rmSync(path.join(dataDir, f), { force: true });
    }
    const file = path.join(dataDir, name);
    if (Buffer.byteLength(file) < 100) {
      fs.rmSync(file, { force: true });
      return file;
    }
    return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-')), name);
  } catch {
    return null;
  }
}

/** A relaunched Berth: reports to the waiter, and acts on the signals it passes on. */
class Relaunched implements ForegroundRole {
  private readonly socket: net.Socket;
  private handlers: Attachment | null = null;
  private gone = false;

  constructor(
    address: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.socket = net.connect(address);
    this.socket.unref();
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.gone = true;
      // Its successors have no one to report to either.
      delete this.env[FOREGROUND_ENV];
      this.handlers?.gone();
    });
    readLines<Order>(this.socket, (m) => {
      if (this.handlers) this.handlers.signal(m.signal, m.again);
      // Stopped before it could serve: nothing to drain.
      else process.exit(0);
    });
    send(this.socket, { pid: process.pid, state: 'hello' });
  }

  state(s: HostState, url: string): void {
    send(this.socket, s === 'serving' ? { pid: process.pid, state: s, url } : { pid: process.pid, state: s });
  }

  forward(): void {
    // A relaunched Berth has no one to pass signals on to.
  }

  attach(to: Attachment): void {
    this.handlers = to;
    if (this.gone) to.gone();
  }

  finish(code: number, handedOver: boolean): Promise<number> {
    if (this.gone) return Promise.resolve(code);
    return new Promise((resolve) => {
      const done = () => resolve(code);
      this.socket.end(JSON.stringify({ pid: process.pid, bye: code, handedOver }) + '\n', done);
      // A stopped waiter must not keep this process from exiting.
      setTimeout(done, 1000).unref();
    });
  }
}
