import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { BerthError, ExitCode } from '../errors';
import type { LogSink, Logger } from '../log';
import { claimPort } from '../instance/claim';
import { urlFor, type ProbeResult } from '../instance/probe';
import type { ApiRoutes, HostedSite } from '../server/web';
import { listenerOf } from '../server/exposure';
import { descriptors } from '../server/descriptors';
import { Generations, retire } from './generations';
import { ANSWER_MS, CONFIRM_WINDOW_MS, runHandover, type HandoverHost, type HandoverOutcome, type Successor } from './handover-engine';
import { checkHandoffProof, handoffProof, readHandoffNote, removeHandoffNote, type ProvenHandoff } from './successor-protocol';
import { History, type HistoryEntry } from './history';
import { Listener } from './listener';
import type { RelaunchPlan } from './plans';
import { within } from '../timeout';
import { canMove, type HostState } from './states';

export type { HostState } from './states';
export type { HistoryEntry } from './history';

export interface StartupProbe {
  /** 'no-address': the host is not an address of this computer, so nothing was probed. */
  verdict: ProbeResult['verdict'] | 'no-address';
  what: string;
  action: string;
  address: string;
  ms: number;
}

export interface HostStatus {
  app: 'berth';
  version: string;
  pid: number;
  instance: string;
  state: HostState;
  startedAt: string;
  url: string;
  host: string;
  port: number;
  dataDir: string;
  uptimeMs: number;
  connections: number;
  history: HistoryEntry[];
  startup: StartupProbe[];
  handoffFrom: string | null;
  logFile: string | null;
  /** Other machines can reach this listener (it is not on loopback only): the Status page says so. */
  exposed: boolean;
  /** The address the listener really holds, e.g. "0.0.0.0:8787" (url is where to open it on this machine). */
  listenAddress: string;
  /** The app this Berth hosts (app/hosting), and how it is; null for Berth's console alone. */
  hosted: HostedAppStatus | null;
}

/** A hosted app's name and state, as app/hosting reports them. */
export interface HostedAppStatus {
  id: string;
  name: string;
  state: string;
}

export interface HostOptions {
  host: string;
  port: number;
  dataDir: string;
  version: string;
  token: string;
  logs: LogSink;
  rendererDir: string;
  routes?: ApiRoutes[];
  /** A hosted app: its part of each generation, and its status. */
  site?: HostedSite;
  appStatus?: () => HostedAppStatus;
  /** The hosted app's id, named by /health (so a probe can tell which app a Berth on the port hosts). */
  appId?: string;
  /** Called just before a relaunch starts the successor (a hosted app stops taking writes and writes what it carries over). */
  onHandover?: (instance: string) => void | Promise<void>;
  /** The relaunch is over: the successor serves (true), or not: this process serves, no one does, or it starts once this one exits. */
  afterHandover?: (successorServes: boolean) => void;
  /** The predecessor this process replaces, proven (successor-protocol.ts resolveSuccession). */
  handoff?: ProvenHandoff | null;
  /** A listening socket handed over by the predecessor (`--listen-fd`): serve on it instead of binding. */
  inheritedFd?: number | null;
  /** The inherited socket came from systemd (socket activation), so no handoff comes with it. */
  activated?: boolean;
  probeTimeout?: number;
  /** How long a successor may take to serve, and a starter waits for the port to free (default 10 s). */
  handoffDeadline?: number;
  /** performance.now() of the CLI's first probe before start(): start's handoff deadline counts from there. */
  firstProbeAt?: number;
  /** How long in-flight requests get to finish once a drain begins (default 1 s). */
  drainDeadline?: number;
  /** How long a successor must serve before this process lets go for good, and answer at its end (handover-engine.ts; shorter in tests). */
  confirmWindow?: number;
  answerMs?: number;
  /** The plan `relaunch()` uses when it is given none (the API's Restart app). */
  relaunchPlan?: () => RelaunchPlan;
  /**
   * Awaited before a relaunch closes anything: in-flight work (restart
   * blockers: a settings save, an upload) gets to finish, up to its own bound.
   */
  beforeRelaunch?: () => Promise<unknown>;
}

export interface HostEvents {
  state: [HostState];
  change: [HostStatus];
  /** The host has finished a stop or relaunch asked of it (API, signal): the process owner should exit with this code. */
  exit: [number];
}

/**
 * Owns the web server on its port: start (probe, claim, self-check), stop
 * (drain), in-place restart, relaunch (handover-engine.ts) and moving to another
 * address. Its states and their moves are the table in states.ts. It never
 * exits the process itself; it emits `exit` for the process owner.
 */
export class ServerHost extends EventEmitter<HostEvents> {
  readonly instance = crypto.randomBytes(9).toString('base64url');
  readonly startedAt = new Date().toISOString();
  readonly log: Logger;
  readonly history = new History();
  private listener: Listener | null = null;
  private _state: HostState = 'idle';
  private _host: string;
  private _port: number;
  private readonly startup: StartupProbe[] = [];
  private readonly routes: ApiRoutes[];
  private readonly generations: Generations;
  private pending: Promise<unknown> = Promise.resolve();
  private readonly drains = new Set<Promise<unknown>>();
  /** A saved address that only a fresh process can take (see intendAddress); the next relaunch goes there. */
  private intended: { host: string; port: number } | null = null;
  /** While a relaunch waits for its successor's proof: the secret it handed out, and who to tell. */
  private awaitingProof: { secret: string; proven: () => void } | null = null;
  /** Lifecycle operations wait for this before they run: a successor's predecessor confirming the handover. */
  private gate: Promise<unknown> = Promise.resolve();
  /** The relaunch under way or waiting its turn, which another request to relaunch joins. */
  private relaunching: Promise<HistoryEntry> | null = null;
  /** Set once this process has handed over: the relaunch that replaced it, for what is asked of it afterwards. */
  private replacedBy: HistoryEntry | null = null;
  /** The process that replaced this one, where known: what a relaunch request answers with. */
  private _successor: Successor | null = null;
  /** A stop asked while a relaunch was under way: passed on to the successor if it takes over. */
  private stopAsked = false;

  constructor(readonly opts: HostOptions) {
    super();
    this.log = opts.logs.root.child({ scope: 'host' });
    // File descriptors are the process's: a shortage is said in this host's log.
    descriptors.useLog(opts.logs.root.child({ scope: 'http' }));
    this._host = opts.host;
    this._port = opts.port;
    this.routes = opts.routes ?? [];
    this.generations = new Generations({
      identity: () => ({ version: opts.version, pid: process.pid, instance: this.instance, startedAt: this.startedAt, ...(opts.appId ? { appId: opts.appId } : {}) }),
      token: opts.token,
      logs: opts.logs,
      rendererDir: opts.rendererDir,
      routes: this.routes,
      site: opts.site,
      state: () => (this.listener?.draining || this._state === 'draining' ? 'draining' : 'serving'),
      // A probe without a valid proof is ignored; the web app counts it with the other refusals (a flood logs one line a minute).
      onHandoffProbe: (value) => {
        const waiting = this.awaitingProof;
        if (!waiting || !checkHandoffProof(value, this.instance, waiting.secret)) return false;
        waiting.proven();
        return true;
      },
    });
  }

  get state(): HostState {
    return this._state;
  }
  get url(): string {
    return urlFor(this._host, this._port);
  }
  get host(): string {
    return this._host;
  }
  get port(): number {
    return this._port;
  }
  /** Where the next relaunch serves: a saved address this process could not move to, or where it is. */
  get relaunchAddress(): { host: string; port: number } {
    return this.intended ?? { host: this._host, port: this._port };
  }
  get currentListener(): Listener | null {
    return this.listener;
  }

  /** Add API routes; they take effect from the next generation (start, restart or move). */
  addRoutes(routes: ApiRoutes): void {
    this.routes.push(routes);
    this.generations.drop();
  }

  status(): HostStatus {
    return {
      app: 'berth',
      version: this.opts.version,
      pid: process.pid,
      instance: this.instance,
      state: this._state,
      startedAt: this.startedAt,
      url: this.url,
      host: this._host,
      port: this._port,
      dataDir: this.opts.dataDir,
      uptimeMs: Date.now() - Date.parse(this.startedAt),
      connections: this.listener?.connectionCount() ?? 0,
      history: this.history.recent(50),
      startup: this.startup.slice(),
      handoffFrom: this.opts.handoff?.instance ?? null,
      logFile: this.opts.logs.file,
      ...listenerOf(this.listener?.server ?? null, this._host, this._port),
      hosted: this.opts.appStatus?.() ?? null,
    };
  }

  /** Every state change goes through the table in states.ts. */
  setState(s: HostState): void {
    if (this._state === s) return;
    if (!canMove(this._state, s)) throw new Error(`host: no move from ${this._state} to ${s}`);
    this._state = s;
    if (s === 'serving') this.generations.prepare(this._host);
    else if (s !== 'restarting') this.generations.drop();
    this.log.debug(`state ${s}`);
    this.emit('state', s);
    this.emit('change', this.status());
  }

  record(entry: Omit<HistoryEntry, 'at'>): HistoryEntry {
    const e = this.history.add(entry);
    this.emit('change', this.status());
    return e;
  }

  /** One lifecycle operation at a time: a restart asked during a relaunch waits its turn. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending.then(() => this.gate).then(fn, fn);
    this.pending = run.catch(() => undefined);
    return run;
  }

  /** Keep a drain's promise until it ends, so stop() can wait for every one of them. */
  track<T>(p: Promise<T>): Promise<T> {
    this.drains.add(p);
    void p.finally(() => this.drains.delete(p)).catch(() => undefined);
    return p;
  }

  /**
   * Claim `host:port` through the probe with a fresh listener (the first
   * start, a move, serving again after a failed relaunch). Throws BerthError
   * 3 or 4 when the port is not ours to take.
   */
  async claimListener(host: string, port: number, handoff: ProvenHandoff | null = null, since?: number): Promise<Listener> {
    const listener = new Listener(await this.generations.build(host));
    try {
      await claimPort({
        host,
        port,
        instance: this.instance,
        listen: () => listener.listen({ host, port }),
        unlisten: () => listener.unlisten(),
        handoff: handoff
          ? {
              instance: handoff.instance,
              pid: handoff.pid,
              proof: handoff.secret ? handoffProof(handoff.instance, handoff.secret) : undefined,
              ready: handoff.channel ? () => handoff.channel!.say({ berth: 'ready' }) : undefined,
              stillHandingOver: () => readHandoffNote(this.opts.dataDir)?.id === handoff.note.id,
            }
          : null,
        probeTimeout: this.opts.probeTimeout,
        handoffDeadline: this.opts.handoffDeadline,
        since,
        log: this.opts.logs.root.child({ scope: 'instance' }),
        onProbe: (r, action) => this.noteProbe(r, action),
      });
    } catch (err) {
      await listener.app.app.close().catch(() => undefined);
      throw err;
    }
    return listener;
  }

  private noteProbe(r: ProbeResult, action: string): void {
    const what = r.verdict === 'duplicate' || r.verdict === 'predecessor' ? `Berth ${r.running.version || '(version unknown)'} pid ${r.running.pid} (${r.running.state})` : r.verdict === 'free' ? 'nothing' : r.what;
    this.startup.push({ verdict: r.verdict, what, action, address: `${r.address}:${r.port}`, ms: Math.round(r.ms * 10) / 10 });
    if (this.startup.length > 20) this.startup.shift();
    this.log.info(`probe ${r.address}:${r.port}: ${r.verdict} (${what}) -> ${action}`);
  }

  /** Point a host that is not serving at another address (the desktop's "Choose another port…" after a conflict). */
  retarget(host: string, port: number): void {
    if (this._state !== 'idle' && this._state !== 'stopped' && this._state !== 'conflict') throw new Error(`cannot change address while ${this._state}`);
    this._host = host;
    this._port = port;
    this.generations.drop();
  }

  /** Start serving on `listener` (ours from now on). */
  adopt(listener: Listener): void {
    this.listener = listener;
  }

  /** Probe, claim the port (or take the socket handed over) and serve. Throws BerthError (exit 3 or 4) when the port is not ours to take. */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this._state !== 'idle' && this._state !== 'stopped' && this._state !== 'conflict') throw new Error(`cannot start while ${this._state}`);
      this.setState('starting');
      const handoff = this.opts.handoff ?? null;
      try {
        this.listener = this.opts.inheritedFd != null ? await this.inherit(this.opts.inheritedFd) : await this.claimListener(this._host, this._port, handoff, this.opts.firstProbeAt);
      } catch (err) {
        this.setState(err instanceof BerthError && err.exitCode === ExitCode.portTaken ? 'conflict' : 'stopped');
        throw err;
      }
      this.setState('serving');
      // Relaunched: carry on the predecessor's history (its note now says when it closed, if it did).
      const note = handoff ? (readHandoffNote(this.opts.dataDir) ?? handoff.note) : null;
      if (handoff && note && note.instance === handoff.instance) {
        const entry = this.history.continueFrom(note, this.listener.listenedAt, process.pid, this.opts.version, this.opts.inheritedFd != null ? 'socket handed over' : 'port closed and bound again');
        this.emit('change', this.status());
        this.awaitConfirmation(handoff, entry);
      } else {
        this.record({ kind: 'start', downtimeMs: null });
      }
      this.log.info(`serving on ${this.url} (version ${this.opts.version}, pid ${process.pid}, instance ${this.instance})`);
    });
  }

  /**
   * Tell the predecessor we serve, and hold every lifecycle operation (a
   * relaunch, a stop, a move) until it confirms the handover: until then it
   * may still take the port back. The note stays until then too, so another
   * start here knows a relaunch is in progress. Bounded: a predecessor that
   * stops answering does not hold us forever.
   */
  private awaitConfirmation(handoff: ProvenHandoff, entry: HistoryEntry): void {
    const channel = handoff.channel;
    const done = () => removeHandoffNote(this.opts.dataDir, handoff.instance);
    if (!channel) return done();
    // With the socket it handed us goes a copy back: until it confirms, the predecessor can serve on it again.
    const socket = this.opts.inheritedFd != null ? (this.listener?.handle ?? undefined) : undefined;
    channel.say({ berth: 'serving', instance: this.instance, pid: process.pid, entry }, socket);
    const bound = (this.opts.confirmWindow ?? CONFIRM_WINDOW_MS) + (this.opts.answerMs ?? ANSWER_MS) + (this.opts.handoffDeadline ?? 10_000);
    this.gate = within(channel.confirmed, bound, () => this.log.warn(`the predecessor (pid ${handoff.pid}) did not confirm the handover within ${bound} ms; going on`))
      .then(() => {
        done();
        this.log.info(`the predecessor (pid ${handoff.pid}) has let go; the port is ours alone`);
        if (channel.stopAsked) void this.stopAndExit(0);
      })
      .catch(() => undefined);
  }

  /** Serve on a socket our predecessor handed over: it is ours by construction, but it must be where we were told. */
  private async inherit(fd: number): Promise<Listener> {
    const from = this.opts.handoff;
    if (!from && !this.opts.activated) throw new BerthError('--listen-fd is only for a successor with a handoff from its predecessor.', ExitCode.usage);
    const listener = new Listener(await this.generations.build(this._host));
    await listener.listen({ fd });
    const addr = listener.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : null;
    if (port !== this._port) {
      await listener.unlisten();
      throw new BerthError(`The socket handed over (descriptor ${fd}) listens on port ${port}, not ${this._port}.`, ExitCode.unexpected);
    }
    if (!from) {
      this.log.info(`serving on the socket systemd passed (descriptor ${fd}), without a probe`);
      return listener;
    }
    this.noteProbe({ verdict: 'predecessor', running: { app: 'berth', version: from.note.version, pid: from.pid, instance: from.instance, state: 'serving', startedAt: '', url: this.url }, reason: 'handoff', address: this._host, port, observation: { kind: 'refused' }, ms: 0 }, 'serve on the socket it handed over');
    return listener;
  }

  /** Stop serving: drain with the deadline. The process owner decides whether to exit. */
  stop(opts: { drainDeadline?: number } = {}): Promise<void> {
    // Asked during a relaunch: if the successor takes over, it is the one to stop.
    if (this._state === 'relaunching' || this.relaunching) this.stopAsked = true;
    return this.serial(async () => {
      const listener = this.listener;
      if (!listener || (this._state !== 'serving' && this._state !== 'conflict')) {
        if (canMove(this._state, 'stopped')) this.setState('stopped');
        await Promise.all(this.drains);
        return;
      }
      this.setState('draining');
      this.listener = null;
      await this.drainListener(listener, { deadline: opts.drainDeadline });
      await Promise.all(this.drains);
      this.setState('stopped');
      this.log.info('stopped');
    });
  }

  /** Drain a listener we no longer serve on, and close the app it answered with. */
  drainListener(listener: Listener, opts: { unhurried?: boolean; deadline?: number } = {}): Promise<void> {
    const deadline = opts.deadline ?? this.opts.drainDeadline ?? 1000;
    // Unhurried (the successor already serves on the same socket): idle keep-alive connections get most of the
    // deadline to bring one more request, answered with Connection: close, instead of being closed under a
    // request that may be on its way, which the client would see as a reset.
    const idleGrace = opts.unhurried ? Math.round(deadline * 0.8) : undefined;
    return this.track(
      (async () => {
        const { destroyed } = await listener.drain(deadline, idleGrace);
        if (destroyed > 0) this.log.warn(`drain deadline (${deadline} ms) reached; closed ${destroyed} connection(s)`);
        await listener.app.app.close().catch(() => undefined);
      })(),
    );
  }

  /**
   * In-place restart: a new generation of the app (routes, settings, UI
   * files) takes over the listening socket, which never closes: queued and
   * keep-alive connections are answered by the new generation, and the old
   * one finishes what it took.
   */
  restart(): Promise<HistoryEntry> {
    if (this.replacedBy) return Promise.resolve(this.replacedBy);
    return this.serial(async () => {
      // A relaunch that ran first replaced the whole process: more than a restart.
      if (this.replacedBy) return this.replacedBy;
      const listener = this.listener;
      if (!listener || this._state !== 'serving') throw new BerthError(`cannot restart while ${this._state}`, ExitCode.unexpected);
      this.setState('restarting');
      let next;
      try {
        next = await this.generations.build(this._host);
      } catch (err) {
        this.setState('serving');
        const entry = this.record({ kind: 'restart', downtimeMs: null, failed: `the new server could not be built: ${(err as Error).message}` });
        throw new BerthError(`The restart failed: ${entry.failed}. Berth keeps serving ${this.url}.`, ExitCode.unexpected, { failed: entry.failed, entry });
      }
      const old = listener.swap(next);
      void this.track(retire(old, this.opts.drainDeadline ?? 1000));
      this.setState('serving');
      const entry = this.record({ kind: 'restart', downtimeMs: 0, detail: 'in place: the socket stayed open' });
      this.log.info('restarted in place; the listening socket stayed open');
      return entry;
    });
  }

  /**
   * Replace the process, following `plan` (plans.ts; the default is the one
   * this host was given), and resolve with the relaunch as the successor
   * recorded it. Never zero servers: if the successor does not serve, this
   * process serves again, or never stopped (handover-engine.ts), and this
   * rejects with a BerthError that says why (details.entry). A relaunch asked
   * while another is under way, or after this process was replaced, joins it.
   */
  relaunch(plan?: RelaunchPlan): Promise<HistoryEntry> {
    if (!plan && this.replacedBy) return Promise.resolve(this.replacedBy);
    if (!plan && this.relaunching) return this.relaunching;
    const run = this.serial(async () => {
      if (!plan && this.replacedBy) return this.replacedBy;
      const p = plan ?? this.opts.relaunchPlan?.();
      if (!p) throw new BerthError('This Berth cannot relaunch itself (no relaunch plan configured).', ExitCode.unexpected);
      if (!this.listener || this._state !== 'serving') throw new BerthError(`cannot relaunch while ${this._state}`, ExitCode.unexpected);
      if (!p.blockersCleared) await this.opts.beforeRelaunch?.();
      if (!this.listener || this._state !== 'serving') throw new BerthError(`cannot relaunch while ${this._state}`, ExitCode.unexpected);
      try {
        await this.opts.onHandover?.(this.instance);
      } catch (err) {
        this.log.error(`what the app carries to the next process could not be written: ${(err as Error).message}`);
      }
      let serves = false;
      try {
        this.setState('relaunching');
        this.log.info(`relaunching (${p.label})`);
        const entry = this.apply(await runHandover(this.handoverHost(this.listener), p));
        serves = this._successor !== null;
        return entry;
      } finally {
        this.opts.afterHandover?.(serves);
      }
    });
    if (!plan) {
      this.relaunching = run;
      const clear = () => {
        if (this.relaunching === run) this.relaunching = null;
      };
      run.then(clear, clear);
    }
    return run;
  }

  /** The process that took over from this one (null before a relaunch, or after one whose successor starts once this one exits). */
  get successor(): Successor | null {
    return this._successor;
  }

  /** Keep the connection of `res` open through a drain until it is answered: it answers with the outcome of a restart or relaunch. */
  holdAnswer(res: ServerResponse): void {
    this.listener?.hold(res);
  }

  /** The five things the handover engine needs of a host (handover-engine.ts), for this relaunch. */
  private handoverHost(listener: Listener): HandoverHost {
    const o = this.opts;
    return {
      self: {
        instance: this.instance,
        version: o.version,
        dataDir: o.dataDir,
        host: this._host,
        port: this._port,
        url: this.url,
        relaunchAddress: this.relaunchAddress,
        history: this.history.recent(50),
        handoffDeadline: o.handoffDeadline,
        confirmWindow: o.confirmWindow,
        answerMs: o.answerMs,
        stopAsked: () => this.stopAsked,
      },
      listener,
      log: this.log,
      expectProof: (secret) => this.expectProof(secret),
      serveAgain: (fd) => this.serveAgain(fd),
      drain: (l, how) => this.drainListener(l, how),
    };
  }

  /** What the engine came back with, applied: our state, our history, and the process owner told to exit once drained. */
  private apply(outcome: HandoverOutcome): HistoryEntry {
    if (outcome.kind === 'handed-over') {
      this.listener = null;
      const entry: HistoryEntry = { at: new Date().toISOString(), ...outcome.entry };
      this.replacedBy = entry;
      this._successor = outcome.successor ?? null;
      this.setState('stopped');
      void outcome.drained
        .then(() => this.settled())
        .then(() => this.emit('exit', 0));
      return entry;
    }
    if (outcome.kind === 'kept') {
      this.listener = outcome.listener;
      this.setState('serving');
      const entry = this.record({ kind: 'relaunch', downtimeMs: null, failed: outcome.failure });
      const how = outcome.again ? `serves ${this.url} again` : `keeps serving ${this.url}`;
      this.log.error(`relaunch failed: ${outcome.failure}; ${outcome.again ? 'serving again on' : 'still serving'} ${this.url}`);
      throw new BerthError(`Relaunch failed: ${outcome.failure}. Berth pid ${process.pid} ${how}.`, ExitCode.unexpected, { failed: outcome.failure, entry });
    }
    this.listener = null;
    this.setState('conflict');
    const entry = this.record({ kind: 'relaunch', downtimeMs: null, failed: outcome.failure });
    this.log.error(`relaunch failed: ${outcome.failure}`);
    throw new BerthError(`Relaunch failed: ${outcome.failure}`, outcome.error.exitCode, { failed: outcome.failure, entry });
  }

  /** After a successor failed: serve on the socket it had (its descriptor `fd`), or claim the port again. */
  private async serveAgain(fd: number | null): Promise<Listener> {
    if (fd === null) return this.claimListener(this._host, this._port);
    const listener = new Listener(await this.generations.build(this._host));
    await listener.listen({ fd });
    return listener;
  }

  /** Resolves when a probe carries the proof for `secret` (the successor is ready to bind). */
  expectProof(secret: string): { proven: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const proven = new Promise<void>((r) => (done = r));
    const entry = { secret, proven: () => done() };
    this.awaitingProof = entry;
    return {
      proven,
      cancel: () => {
        if (this.awaitingProof === entry) this.awaitingProof = null;
      },
    };
  }

  /** Wait for every drain still running (before the process exits). */
  async settled(): Promise<void> {
    await Promise.all(this.drains);
  }

  /**
   * Move to another address (a settings change): claim the new one through the
   * probe first, and only then let the old one go, so a refused move keeps serving.
   */
  moveTo(host: string, port: number): Promise<void> {
    return this.serial(async () => {
      const old = this.listener;
      if (!old || this._state !== 'serving') throw new BerthError(`cannot move while ${this._state}`, ExitCode.unexpected);
      if (host === this._host && port === this._port) return;
      const next = await this.claimListener(host, port);
      const from = this.url;
      this._host = host;
      this._port = port;
      this.intended = null;
      this.listener = next;
      this.generations.drop();
      this.record({ kind: 'move', downtimeMs: 0, detail: `${from} -> ${this.url}` });
      this.log.info(`moved from ${from} to ${this.url}`);
      // Let the old listener answer a little longer, so open pages learn where we went.
      setTimeout(() => void this.drainListener(old), 1500).unref();
    });
  }

  /** A look at an address this host did not take (a settings check): listed with the other port checks. */
  recordProbe(entry: StartupProbe): void {
    this.startup.push(entry);
    if (this.startup.length > 20) this.startup.shift();
    this.emit('change', this.status());
  }

  /**
   * The address the next relaunch should serve on, when it differs from the
   * current one and this process cannot move there itself (127.0.0.1 ->
   * 0.0.0.0 on the same port overlaps the listener it holds).
   */
  intendAddress(host: string, port: number): void {
    this.intended = host === this._host && port === this._port ? null : { host, port };
  }

  /** For a stop asked through the API or a signal: drain, then tell the owner to exit. */
  async stopAndExit(code = 0): Promise<void> {
    await this.stop();
    this.emit('exit', code);
  }
}
