import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log';

/**
 * How a request Berth will not serve is answered: from its headers alone,
 * with Connection: close, so that a body nobody asked for is never read. A
 * client that writes its whole body before it reads would lose the answer if
 * the connection were simply closed (unread data makes the kernel reset it),
 * so the close lingers as RFC 9112 section 9.6 describes: half-close, throw
 * away what still arrives, bounded in bytes and in quiet time, then close.
 */
const LINGER_BYTES = 16 * 1024 * 1024;
/** How long the connection may stay quiet while lingering (a client still sending is not cut off mid-way, however slow the machine). */
const LINGER_IDLE_MS = 5000;
/** And how long at most, whatever comes. */
const LINGER_MAX_MS = 30_000;

const lingering = new WeakSet<Socket>();

/** End this response's connection once it is sent, lingering if the request's body is still arriving. */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
  if (!req.complete) lingerOnClose(req.socket);
}

function lingerOnClose(socket: Socket): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  // Node ends a Connection: close response with destroySoon(), which would close at once; this one lingers.
  socket.destroySoon = function (this: Socket) {
    // The HTTP parser hears nothing more: what still comes is the refused body, or requests nobody will answer.
    for (const l of this.listeners('data')) this.off('data', l as (...args: unknown[]) => void);
    let discarded = 0;
    const done = () => {
      clearTimeout(timer);
      clearTimeout(cap);
      this.destroy();
    };
    const timer = setTimeout(done, LINGER_IDLE_MS);
    const cap = setTimeout(done, LINGER_MAX_MS);
    this.on('data', (d: Buffer) => {
      discarded += d.length;
      if (discarded > LINGER_BYTES) return done();
      timer.refresh();
    });
    this.once('end', done);
    this.once('error', done);
    this.end();
    this.resume();
  };
}

/** What was refused, in words: "401 (no valid token)". */
export type RefusalKind = string;

/** Responses whose client waits for 100 Continue before it sends the body (the Listener marks them). */
const awaitingContinue = new WeakSet<ServerResponse>();

/** The client sent Expect: 100-continue: it is told to go on only once the request has passed every check. */
export function expectsContinue(res: ServerResponse): void {
  awaitingContinue.add(res);
}

/** The request passed its checks and its body is about to be read: send 100 Continue if the client waits for it. */
export function continueIfAsked(res: ServerResponse): void {
  if (awaitingContinue.delete(res) && !res.headersSent) res.writeContinue();
}

/**
 * The log of what Berth refused, written so that no one can flood it: the
 * first refusal in a quiet spell is logged at once, the ones after it are
 * counted, and at most one line per interval says how many there were.
 */
export class RefusalLog {
  private counts = new Map<RefusalKind, number>();
  private timer: NodeJS.Timeout | null = null;
  private since = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  /** Within a spell: refusals are being counted rather than logged one by one. */
  get counting(): boolean {
    return this.timer !== null;
  }

  note(kind: RefusalKind): void {
    if (!this.timer) {
      this.since = Date.now();
      this.log.warn(`refused ${kind}; more refusals are counted and logged at most once every ${Math.round(this.intervalMs / 1000)} s`);
      this.timer = setTimeout(() => this.tick(), this.intervalMs);
      this.timer.unref();
      return;
    }
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  /** Write what was counted and not yet logged (the interval ended, or the server is going away). */
  flush(): void {
    if (this.counts.size === 0) return;
    const parts = [...this.counts].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${n} × ${kind}`);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    this.counts = new Map();
    const seconds = Math.max(1, Math.round((Date.now() - this.since) / 1000));
    this.since = Date.now();
    this.log.warn(`refused ${total} more in the last ${seconds} s: ${parts.join(', ')}`);
  }

  /** Stop counting: write what is left. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
  }

  private tick(): void {
    const any = this.counts.size > 0;
    this.flush();
    // A quiet interval ends the spell: the next refusal is logged at once again.
    this.timer = any ? setTimeout(() => this.tick(), this.intervalMs) : null;
    this.timer?.unref();
  }
}
