import http, { type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';
import type { WebApp } from '../server/web';
import { expectsContinue } from '../server/refusal';
import { descriptors } from '../server/descriptors';

/** Timeouts that stop a slow or malformed client from pinning the server. */
const HTTP_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  connectionTimeout: 120_000,
  maxHeaderSize: 16 * 1024,
};

/** How long idle keep-alive connections may still bring a request once a drain begins. */
const IDLE_GRACE_MS = 100;

export type ListenTarget = { host: string; port: number } | { fd: number };

/**
 * One listening socket and the connections it accepted. It answers every
 * request with whichever app generation is current, so an in-place restart
 * is a swap: the socket, its accept queue and every keep-alive connection
 * stay open, and no client sees anything.
 */
export class Listener {
  readonly server: http.Server;
  private current: WebApp;
  private readonly sockets = new Set<Socket>();
  private _draining = false;
  private readonly emptied: (() => void)[] = [];
  /** Requests taken before a drain whose answer has not left yet: they get Connection: close when it begins. */
  private readonly unanswered = new Set<ServerResponse>();
  /** Connections whose answer waits for the outcome of a lifecycle operation: a drain's deadline spares them. */
  private readonly held = new Set<Socket>();
  /** Wall-clock time the socket started listening (a relaunch's downtime ends here). */
  listenedAt = 0;

  constructor(app: WebApp) {
    this.current = app;
    this.server = http.createServer({
      headersTimeout: HTTP_LIMITS.headersTimeout,
      requestTimeout: HTTP_LIMITS.requestTimeout,
      maxHeaderSize: HTTP_LIMITS.maxHeaderSize,
      // Node checks header/request timeouts on this interval (default 30 s): a slowloris client lingers that long.
      connectionsCheckingInterval: 1_000,
    });
    this.server.keepAliveTimeout = HTTP_LIMITS.keepAliveTimeout;
    this.server.setTimeout(HTTP_LIMITS.connectionTimeout);
    this.server.on('connection', (s: Socket) => {
      // Near the process's limit on open files, room is made here (app/server/descriptors.ts).
      descriptors.admit(s);
      this.sockets.add(s);
      s.once('close', () => {
        this.sockets.delete(s);
        if (this.sockets.size === 0) for (const fn of this.emptied.splice(0)) fn();
      });
    });
    // A client that asks before it sends a body (Expect: 100-continue) hears 100 Continue only once its request passes Berth's checks.
    this.server.on('checkContinue', (req, res) => {
      expectsContinue(res);
      this.server.emit('request', req, res);
    });
    this.server.on('request', (req, res) => {
      descriptors.request(req, res);
      // On the way out: answer normally, then close the connection, so the client's next request opens a new one.
      if (this._draining) res.setHeader('Connection', 'close');
      else {
        this.unanswered.add(res);
        res.once('close', () => this.unanswered.delete(res));
      }
      this.current.handle(req, res);
    });
    // WebSocket and other protocol switches go to the current generation too (a hosted app's proxy, its own routes).
    this.server.on('upgrade', (req, socket, head) => this.current.upgrade(req, socket, head));
  }

  get app(): WebApp {
    return this.current;
  }
  get draining(): boolean {
    return this._draining;
  }
  get listening(): boolean {
    return this.server.listening;
  }
  /** The listening socket's descriptor (POSIX), for a successor to inherit. */
  get fd(): number | null {
    const fd = (this.server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }
  /** The listening socket's handle, to send on an IPC channel (the receiver gets a copy of the socket). */
  get handle(): object | null {
    return (this.server as unknown as { _handle?: object | null })._handle ?? null;
  }
  connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Keep `res`'s connection through a drain until it is answered: a restart
   * or relaunch request answers with its outcome, which comes after the drain
   * began, so its deadline must not cut that answer off. The operation bounds
   * the wait (the handoff deadline and the confirmation window).
   */
  hold(res: ServerResponse): void {
    const socket = res.socket;
    if (!socket) return;
    this.held.add(socket);
    res.once('close', () => this.held.delete(socket));
  }

  /** Answer from now on with `next`; returns the generation it replaces. */
  swap(next: WebApp): WebApp {
    const old = this.current;
    this.current = next;
    return old;
  }

  /** One listen: on an address (never reusePort, which would share the port on purpose), or on an inherited socket. */
  listen(target: ListenTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = this.server;
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
      if ('fd' in target) server.listen({ fd: target.fd });
      else server.listen({ host: target.host, port: target.port });
    });
  }

  /** Stop accepting. Closing our copy of an inherited or handed-over socket leaves its accept queue to whoever else holds it. */
  unlisten(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      // net.Server.close only stops listening; http.Server.close would also close idle connections at once (Node 19+).
      net.Server.prototype.close.call(this.server, () => resolve());
      // 'close' waits for every connection; stopping to accept is immediate.
      setImmediate(resolve);
    });
  }

  /**
   * Wind down: /health says draining (the app asks `draining`), responses
   * carry Connection: close and event streams end, so clients move to
   * whoever accepts on the port as they reconnect. `drain` finishes it.
   */
  windDown(): void {
    if (this._draining) return;
    this._draining = true;
    for (const res of this.unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
    this.unanswered.clear();
    this.current.retire();
  }

  /**
   * Drain: wind down (if not already), stop accepting, close idle keep-alive
   * connections after a short grace (a request may already be on its way on
   * one), and wait for the rest; whatever is still open at the deadline is
   * destroyed.
   */
  async drain(deadline: number, idleGraceMs = IDLE_GRACE_MS): Promise<{ destroyed: number }> {
    this.windDown();
    await this.unlisten();
    const server = this.server;
    const connectionsGone = this.sockets.size === 0 ? Promise.resolve() : new Promise<void>((r) => this.emptied.push(r));
    const grace = setTimeout(() => server.closeIdleConnections(), Math.min(idleGraceMs, deadline));
    // A cleared timer: a pending one would keep this whole old listener in memory until the deadline.
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<'deadline'>((r) => (timer = setTimeout(() => r('deadline'), deadline)));
    const first = await Promise.race([connectionsGone.then(() => 'gone' as const), reached]);
    clearTimeout(timer);
    clearTimeout(grace);
    let destroyed = 0;
    if (first === 'deadline') {
      if (this.held.size === 0) server.closeAllConnections();
      for (const s of this.sockets) {
        if (this.held.has(s)) continue;
        destroyed++;
        s.destroy();
      }
      // A held answer carries Connection: close (the drain began before it), so its connection ends once it has left.
      if (this.sockets.size > 0) await new Promise<void>((r) => this.emptied.push(r));
    }
    await this.unlisten();
    return { destroyed };
  }
}
