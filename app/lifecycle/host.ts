import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { BerthError, ExitCode, errorCode } from '../errors';
import type { LogSink, Logger } from '../log';
import { claimPort, type ClaimResult } from '../instance/claim';
import { probePort, urlFor, type ProbeResult } from '../instance/probe';
import { createWebServer, type ApiRoutes, type WebServer } from '../server/web';
import { UiFiles } from '../server/ui-files';
import type { Relauncher, Successor } from './relaunch';
import { historyAfterHandoff, leaveHandoffNote, takeHandoffNote } from './handoff-note';

export type HostState = 'idle' | 'starting' | 'serving' | 'restarting' | 'draining' | 'relaunching' | 'stopped' | 'conflict';

export interface HistoryEntry {
  kind: 'start' | 'restart' | 'relaunch' | 'move';
  at: string;
  /** Port unavailable for this long (listener closed to new listener open); null for a first start. */
  downtimeMs: number | null;
  detail?: string;
}

export interface StartupProbe {
  verdict: ProbeResult['verdict'];
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
  handoffFrom?: string | null;
  handoffPid?: number | null;
  probeTimeout?: number;
  handoffDeadline?: number;
  /** performance.now() of the CLI's first probe before start(): start's handoff deadline counts from there. */
  firstProbeAt?: number;
  /** How long in-flight requests get to finish once stop() begins (default 1 s). */
  drainDeadline?: number;
  relauncher?: Relauncher;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long idle keep-alive connections may still bring a request once a drain begins. */
const IDLE_GRACE_MS = 100;

/**
 * Owns the web server on its port: start (probe, claim, self-check), stop
 * (drain), in-process restart, relaunch and moving to another address.
 * It never exits the process itself; it emits `exit` for the process owner
 * (the CLI, or the desktop shell's lifecycle).
 */
export class ServerHost extends EventEmitter<HostEvents> {
  readonly instance = crypto.randomBytes(9).toString('base64url');
  readonly startedAt = new Date().toISOString();
  private readonly log: Logger;
  private web: WebServer | null = null;
  private _state: HostState = 'idle';
  private _host: string;
  private _port: number;
  private readonly history: HistoryEntry[] = [];
  private readonly startup: StartupProbe[] = [];
  private readonly routes: ApiRoutes[];
  private pending: Promise<unknown> = Promise.resolve();
  private drains = new Set<Promise<void>>();
  /** Wall-clock time of the last successful listen: a relaunch's downtime ends here. */
  private listenedAt = 0;
  /** A saved address that only a fresh process can take (see intendAddress); the next relaunch goes there. */
  private intended: { host: string; port: number } | null = null;
  /** The UI build, read once for every server this host builds (restarts, moves). */
  private readonly ui: UiFiles;
  /** Set while a relaunch waits for its successor's probe. */
  private handoffProbed: (() => void) | null = null;

  constructor(private readonly opts: HostOptions) {
    super();
    this.log = opts.logs.root.child({ scope: 'host' });
    this._host = opts.host;
    this._port = opts.port;
    this.routes = opts.routes ?? [];
    this.ui = new UiFiles(opts.rendererDir);
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

  /** Add API routes; they take effect from the next listener (start, restart or move). */
  addRoutes(routes: ApiRoutes): void {
    this.routes.push(routes);
    this.dropStandby();
  }

  /**
   * A server built and made ready ahead of the next restart, in a quiet
   * moment after the last one: building a Fastify app takes milliseconds of
   * CPU, which would otherwise delay requests right around the restart.
   */
  private standby: { host: string; web: Promise<WebServer> } | null = null;

  private prepareStandby(): void {
    if (this.standby || this._state !== 'serving') return;
    const host = this._host;
    const web = this.createWeb(host);
    this.standby = { host, web: Promise.resolve(web.app.ready()).then(() => web) };
  }

  private async takeStandby(): Promise<WebServer> {
    const s = this.standby;
    this.standby = null;
    if (s && s.host === this._host) return s.web;
    if (s) void s.web.then((w) => w.app.close()).catch(() => undefined);
    const web = this.createWeb();
    await web.app.ready();
    return web;
  }

  private dropStandby(): void {
    const s = this.standby;
    this.standby = null;
    if (s) void s.web.then((w) => w.app.close()).catch(() => undefined);
  }

  private scheduleStandby(): void {
    setTimeout(() => this.prepareStandby(), 50).unref();
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
      connections: this.web?.connectionCount() ?? 0,
      history: this.history.slice(-50),
      startup: this.startup.slice(),
      handoffFrom: this.opts.handoffFrom ?? null,
      logFile: this.opts.logs.file,
    };
  }

  private setState(s: HostState): void {
    if (this._state === s) return;
    this._state = s;
    if (s === 'serving') this.scheduleStandby();
    else if (s !== 'restarting') this.dropStandby();
    this.log.debug(`state ${s}`);
    this.emit('state', s);
    this.emit('change', this.status());
  }

  private record(entry: Omit<HistoryEntry, 'at'>): void {
    this.history.push({ at: new Date().toISOString(), ...entry });
    if (this.history.length > 200) this.history.splice(0, this.history.length - 200);
    this.emit('change', this.status());
  }

  /** One lifecycle operation at a time: a restart asked during a relaunch waits its turn. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.pending.then(fn, fn);
    this.pending = run.catch(() => undefined);
    return run;
  }

  private createWeb(host = this._host): WebServer {
    return createWebServer({
      identity: () => ({ version: this.opts.version, pid: process.pid, instance: this.instance, startedAt: this.startedAt }),
      configuredHost: () => host,
      token: this.opts.token,
      ui: this.ui,
      log: this.opts.logs.root.child({ scope: 'http' }),
      routes: this.routes,
      onHandoffProbe: () => this.handoffProbed?.(),
    });
  }

  private listenOnce(web: WebServer, host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = web.app.server;
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        this.listenedAt = Date.now();
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      // Never reusePort: that would let two servers share the port on purpose.
      server.listen({ host, port });
    });
  }

  private async claim(web: WebServer, host: string, port: number, handoff: boolean): Promise<ClaimResult> {
    return claimPort({
      host,
      port,
      instance: this.instance,
      listen: () => this.listenOnce(web, host, port),
      unlisten: () => new Promise<void>((r) => web.app.server.close(() => r())),
      handoffFrom: handoff ? this.opts.handoffFrom : null,
      handoffPid: handoff ? this.opts.handoffPid : null,
      probeTimeout: this.opts.probeTimeout,
      handoffDeadline: this.opts.handoffDeadline,
      since: handoff ? this.opts.firstProbeAt : undefined,
      log: this.opts.logs.root.child({ scope: 'instance' }),
      onProbe: (r, action) => {
        const what = r.verdict === 'duplicate' || r.verdict === 'predecessor' ? `Berth ${r.running.version} pid ${r.running.pid} (${r.running.state})` : r.verdict === 'free' ? 'nothing' : r.what;
        this.startup.push({ verdict: r.verdict, what, action, address: `${r.address}:${r.port}`, ms: Math.round(r.ms * 10) / 10 });
        if (this.startup.length > 20) this.startup.shift();
        this.log.info(`probe ${r.address}:${r.port}: ${r.verdict} (${what}) -> ${action}`);
      },
    });
  }

  /** Probe, claim the port and serve. Throws BerthError (exit 3 or 4) when the port is not ours to take. */
  start(): Promise<void> {
    return this.serial(async () => {
      if (this._state !== 'idle' && this._state !== 'stopped' && this._state !== 'conflict') throw new Error(`cannot start while ${this._state}`);
      this.setState('starting');
      const web = this.createWeb();
      try {
        await web.app.ready();
        const result = await this.claim(web, this._host, this._port, true);
        this.web = web;
        this.setState('serving');
        // Relaunched: carry on the predecessor's history, with this relaunch's downtime.
        const note = this.opts.handoffFrom ? takeHandoffNote(this.opts.dataDir, this.opts.handoffFrom) : null;
        if (note) {
          this.history.push(...historyAfterHandoff(note, this.listenedAt, process.pid, this.opts.version));
          this.emit('change', this.status());
        } else {
          this.record({ kind: 'start', downtimeMs: null, detail: result.terminatedPredecessor ? `terminated stuck predecessor pid ${result.terminatedPredecessor}` : undefined });
        }
        this.log.info(`serving on ${this.url} (version ${this.opts.version}, pid ${process.pid}, instance ${this.instance})`);
      } catch (err) {
        await web.app.close().catch(() => undefined);
        this.setState(err instanceof BerthError && err.exitCode === ExitCode.portTaken ? 'conflict' : 'stopped');
        throw err;
      }
    });
  }

  /**
   * Close the listener first (the port is free from that moment), let
   * in-flight requests finish with Connection: close, close idle keep-alive
   * sockets, and destroy whatever is left at the deadline.
   */
  private drain(web: WebServer, deadline = this.opts.drainDeadline ?? 1000): Promise<void> {
    // Draining first (health says so, responses carry Connection: close, event streams send `draining`
    // and end), so an open page hears of the restart before it hears of the new server.
    web.setDraining();
    const server = web.app.server;
    const closed = new Promise<void>((resolve) => {
      if (!server.listening && web.connectionCount() === 0) return resolve();
      // Stop listening now, but close idle keep-alive connections only after a short grace: a request may
      // already be on its way on one, and closing the socket under it resets it (the soak counted several
      // per restart). In the grace such a request is answered, with Connection: close. http.Server.close()
      // would close idle ones at once (Node 19+); net.Server.close() only stops listening. 'close' fires
      // when the last connection ends.
      net.Server.prototype.close.call(server, () => resolve());
    });

    const idleGrace = setTimeout(() => server.closeIdleConnections(), IDLE_GRACE_MS);
    void closed.then(() => clearTimeout(idleGrace));
    const done = (async () => {
      // A cleared timer: a pending one would keep this whole old server in memory until the deadline,
      // which under back-to-back restarts holds ~100 of them (found by the soak's RSS figures).
      let timer: NodeJS.Timeout | undefined;
      const deadlineReached = new Promise<'deadline'>((r) => (timer = setTimeout(() => r('deadline'), deadline)));
      const first = await Promise.race([closed, deadlineReached]);
      clearTimeout(timer);
      clearTimeout(idleGrace);
      if (first === 'deadline') {
        const left = web.connectionCount();
        if (left > 0) this.log.warn(`drain deadline (${deadline} ms) reached; closing ${left} connection(s)`);
        web.destroyConnections();
        await closed;
      }
      await web.app.close().catch(() => undefined);
    })();
    this.drains.add(done);
    void done.finally(() => this.drains.delete(done));
    return done;
  }

  /** Stop serving: drain with the deadline. The process owner decides whether to exit. */
  stop(opts: { drainDeadline?: number } = {}): Promise<void> {
    return this.serial(async () => {
      const web = this.web;
      if (!web) {
        this.setState('stopped');
        return;
      }
      this.setState('draining');
      this.web = null;
      await this.drain(web, opts.drainDeadline);
      await Promise.all(this.drains);
      this.setState('stopped');
      this.log.info('stopped');
    });
  }

  /**
   * In-process restart: a fresh server is built and made ready first, then the
   * old listener closes and the new one listens on the same port at once. Old
   * connections drain beside it. POSIX: libuv's SO_REUSEADDR means TIME_WAIT
   * sockets never block this rebind.
   */
  restart(): Promise<HistoryEntry> {
    return this.serial(async () => {
      const old = this.web;
      if (!old || this._state !== 'serving') throw new BerthError(`cannot restart while ${this._state}`, ExitCode.unexpected);
      this.setState('restarting');
      const next = await this.takeStandby();
      const t0 = performance.now();
      const drained = this.drain(old);
      try {
        await this.rebind(next, this._host, this._port);
      } catch (err) {
        this.log.error({ err }, 'restart could not listen again');
        this.web = null;
        this.setState('conflict');
        throw err;
      }
      const downtimeMs = performance.now() - t0;
      this.web = next;
      this.setState('serving');
      const entry: HistoryEntry = { kind: 'restart', at: new Date().toISOString(), downtimeMs: round(downtimeMs) };
      this.record({ kind: 'restart', downtimeMs: entry.downtimeMs });
      this.log.info(`restarted in-process; port unavailable for ${entry.downtimeMs} ms`);
      await drained;
      return entry;
    });
  }

  /** Listen again right after our own close: retry briefly in case the OS needs a moment (Windows). */
  private async rebind(web: WebServer, host: string, port: number): Promise<void> {
    const until = performance.now() + (this.opts.handoffDeadline ?? 10_000);
    let delay = 1;
    for (;;) {
      try {
        await this.listenOnce(web, host, port);
        return;
      } catch (err) {
        if (errorCode(err) !== 'EADDRINUSE' || performance.now() > until) throw err;
        this.log.warn(`EADDRINUSE rebinding ${host}:${port}; retrying in ${delay} ms`);
        await sleep(delay);
        delay = Math.min(delay * 2, 25);
      }
    }
  }

  /**
   * Replace the process (the os.execv path). With a successor that runs beside
   * us, we keep serving while it loads and close the listener only when it
   * probes us naming our instance; otherwise (execve, Electron's relaunch) we
   * drain first and it starts after. Either way we exit only once the
   * successor serves: if it fails, we serve again. Never zero servers.
   */
  relaunch(): Promise<void> {
    return this.serial(async () => {
      const relauncher = this.opts.relauncher;
      if (!relauncher) throw new BerthError('This Berth cannot relaunch itself (no relauncher configured).', ExitCode.unexpected);
      if (!this.web) throw new BerthError(`cannot relaunch while ${this._state}`, ExitCode.unexpected);
      await this.opts.beforeRelaunch?.();
      const old = this.web;
      if (!old) throw new BerthError(`cannot relaunch while ${this._state}`, ExitCode.unexpected);
      this.setState('relaunching');
      this.record({ kind: 'relaunch', downtimeMs: null, detail: 'successor takes over with --handoff' });
      const handoff = { instance: this.instance, pid: process.pid, ...(this.intended ?? { host: this._host, port: this._port }) };
      const deadline = this.opts.handoffDeadline ?? 10_000;

      let drained: Promise<void>;
      let successor: Successor | void = undefined;
      if (relauncher.startsBeforeExit) {
        this.log.info('relaunching: starting the successor; serving until it asks for the port');
        let signalled!: () => void;
        const probed = new Promise<void>((r) => (signalled = r));
        this.handoffProbed = signalled;
        try {
          successor = await relauncher.start(handoff);
          const outcome = await Promise.race([
            probed.then(() => 'probed'),
            successor ? successor.exited.then((code) => `exited with code ${code}`) : new Promise<string>(() => undefined),
            sleep(deadline).then(() => 'did not probe the port in time'),
          ]);
          if (outcome !== 'probed') {
            if (successor) successor.kill();
            throw new Error(`the successor ${outcome}`);
          }
        } catch (err) {
          this.handoffProbed = null;
          this.log.error(`relaunch failed (${(err as Error).message}); still serving`);
          this.setState('serving');
          throw new BerthError(`Relaunch failed: ${(err as Error).message}`, ExitCode.unexpected);
        }
        this.handoffProbed = null;
        this.log.info('relaunching: the successor is waiting for the port; closing the listener');
        this.web = null;
        this.leaveNote();
        drained = this.drain(old);
      } else {
        this.log.info('relaunching: closing the listener and starting the successor');
        this.web = null;
        this.leaveNote();
        drained = this.drain(old);
        if (relauncher.replacesProcess) {
          await drained;
          await Promise.all(this.drains);
          await this.opts.logs.close();
        }
        try {
          successor = await relauncher.start(handoff);
        } catch (err) {
          await this.serveAgain(drained, (err as Error).message);
        }
      }
      if (successor) {
        const failure = await this.awaitSuccessor(successor);
        if (failure) await this.serveAgain(drained, failure);
      }
      await drained;
      await Promise.all(this.drains);
      this.setState('stopped');
      this.emit('exit', 0);
    });
  }

  /** Our history goes to the successor, which completes it (handoff-note.ts). */
  private leaveNote(): void {
    leaveHandoffNote(this.opts.dataDir, { from: this.instance, pid: process.pid, version: this.opts.version, closedAt: Date.now(), history: this.history.slice(-50) });
  }

  /** The successor did not take the port: listen again and report the failure. */
  private async serveAgain(drained: Promise<void>, failure: string): Promise<never> {
    this.log.error(`relaunch failed (${failure}); serving again`);
    await drained;
    const web = this.createWeb();
    await web.app.ready();
    await this.rebind(web, this._host, this._port);
    this.web = web;
    this.setState('serving');
    throw new BerthError(`Relaunch failed: ${failure}`, ExitCode.unexpected);
  }

  /** Wait until a Berth other than us answers on the port, or the successor exits first. */
  private async awaitSuccessor(successor: Successor): Promise<string | null> {
    let exitCode: number | null | undefined;
    void successor.exited.then((c) => (exitCode = c));
    const until = performance.now() + (this.opts.handoffDeadline ?? 10_000) + 5000;
    while (performance.now() < until) {
      if (exitCode !== undefined) return `the successor exited with code ${exitCode} before serving`;
      const seen = await probePort(this._host, this._port, { timeout: 1000 });
      if ((seen.verdict === 'duplicate' || seen.verdict === 'predecessor') && seen.running.instance !== this.instance) return null;
      await sleep(10);
    }
    return 'the successor did not serve in time';
  }

  /**
   * Move to another address (a settings change): claim the new one through the
   * probe first, and only then let the old one go, so a refused move keeps serving.
   */
  moveTo(host: string, port: number): Promise<void> {
    return this.serial(async () => {
      const old = this.web;
      if (!old) throw new BerthError(`cannot move while ${this._state}`, ExitCode.unexpected);
      if (host === this._host && port === this._port) return;
      const next = this.createWeb(host);
      await next.app.ready();
      try {
        await this.claim(next, host, port, false);
      } catch (err) {
        await next.app.close().catch(() => undefined);
        throw err;
      }
      const from = this.url;
      this._host = host;
      this._port = port;
      this.intended = null;
      this.web = next;
      this.record({ kind: 'move', downtimeMs: 0, detail: `${from} -> ${this.url}` });
      this.log.info(`moved from ${from} to ${this.url}`);
      // Let the old listener answer a little longer, so open pages learn where we went.
      setTimeout(() => void this.drain(old), 1500).unref();
    });
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

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
