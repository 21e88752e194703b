/**
 * One writer of a hosted app's state at a time, across a relaunch. Before the
 * app's state is carried, the gate closes: requests that may change the state
 * wait, and those already running finish, so what is carried (and what the
 * app saved to its files) is final. Then either the successor serves and
 * every request of the app goes on to it (`handOn`), or they run here again
 * (`reopen`): the relaunch failed, or the successor starts only once this
 * process exits, and reads the app's files then. Without it, a write the old process
 * took after the new one read the app's files would be acknowledged, then
 * lost at the new process's next save.
 */
import http from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
// Per connection, never passed on (RFC 9110, 7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** Where held requests go once the successor serves: the port both processes share. */
export interface Successor {
  host: string;
  port: number;
}

type Way = { run: true } | { run: false; to: Successor };

export class WriteGate {
  private running = 0;
  private onIdle: (() => void)[] = [];
  private held: { promise: Promise<Way>; settle: (w: Way) => void } | null = null;
  private successor: Successor | null = null;
  private agent: http.Agent | null = null;
  private waiting = 0;

  constructor(private readonly log: Logger) {}

  /**
   * Stop taking writes: those that arrive now wait; resolves once every write
   * already running has answered, or after `boundMs` (a handler that never
   * ends must not stall the relaunch: it is named in the log).
   */
  async close(boundMs: number): Promise<void> {
    if (!this.held) {
      let settle!: (w: Way) => void;
      const promise = new Promise<Way>((r) => (settle = r));
      this.held = { promise, settle };
    }
    if (this.running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((r) => this.onIdle.push(() => r(true)));
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), boundMs)));
    const ended = await Promise.race([idle, late]);
    clearTimeout(timer);
    if (!ended) this.log.warn(`${this.running} request(s) to the app still running after ${boundMs} ms; its state is carried without waiting for them`);
  }

  /** The relaunch failed: the requests held run here, and the gate is open again. */
  reopen(): void {
    const held = this.held;
    this.held = null;
    held?.settle({ run: true });
  }

  /** The successor serves: the requests held, and every later request of the app, go on to it. */
  handOn(to: Successor): void {
    this.successor = to;
    this.agent ??= new http.Agent({ keepAlive: true });
    const held = this.held;
    this.held = null;
    if (this.waiting) this.log.info(`${this.waiting} request(s) to the app held during the relaunch go on to the new process`);
    held?.settle({ run: false, to });
  }

  /** The app's onRequest hook: run the request here, hold it, or pass it on. */
  readonly hook = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (this.successor) return this.passOn(req, reply, this.successor);
    if (READS.has(req.method)) return;
    while (this.held) {
      this.waiting++;
      const way = await this.held.promise;
      this.waiting--;
      if (!way.run) return this.passOn(req, reply, way.to);
    }
    this.running++;
    let done = false;
    // 'close' ends every response: answered, or the client went away.
    reply.raw.once('close', () => {
      if (done) return;
      done = true;
      if (--this.running === 0) for (const fn of this.onIdle.splice(0)) fn();
    });
  };

  /** Send the request, body unread so far, to the successor, and answer with what it answers. */
  private passOn(req: FastifyRequest, reply: FastifyReply, to: Successor): Promise<FastifyReply> {
    return new Promise((resolve) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      const out = http.request({ host: to.host, port: to.port, method: req.method, path: req.raw.url, headers, agent: this.agent ?? undefined }, (res) => {
        const back: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) back[k] = v;
        resolve(reply.code(res.statusCode ?? 502).headers(back).send(res));
      });
      out.on('error', (err) => {
        this.log.error(`a request to the app could not be passed on to the new process: ${err.message}`);
        resolve(reply.code(502).send({ error: 'relaunch', message: 'The app moved to a new process, which did not answer this request; try again.' }));
      });
      req.raw.pipe(out);
    });
  }
}
