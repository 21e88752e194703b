import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log';

/**
 * How a request Berth will not serve is answered: from its headers alone,
 * with Connection: close, so that a body nobody asked for is never waited
 * for. A client that writes its whole body before it reads would lose the
 * answer if the connection were closed at once (unread data makes the
 * kernel reset it), so the close lingers as RFC 9112 section 9.6 describes:
 * what still arrives is thrown away (Node's parser discards the body of a
 * request nobody reads), bounded in bytes and in quiet time, and the
 * connection closes once the body is over or a bound is reached.
 */
const LINGER_BYTES = 16 * 1024 * 1024;
/** How long the connection may stay quiet while lingering (a client still sending is not cut off mid-way, however slow the machine). */
const LINGER_IDLE_MS = 5000;
/** And how long at most, whatever comes. */
const LINGER_MAX_MS = 30_000;

const lingering = new WeakSet<Socket>();

/** End this response's connection once it is sent, lingering while the request's body is still arriving. */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
  if (!req.complete) lingerOnClose(req, req.socket);
}

function lingerOnClose(req: IncomingMessage, socket: Socket): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  const close = socket.destroySoon;
  // Node ends a Connection: close response with destroySoon(), which would close at once; this one waits for the body.
  socket.destroySoon = function (this: Socket) {
    if (req.complete) return close.call(this);
    const start = this.bytesRead;
    let seen = start;
    let quietSince = Date.now();
    const stop = (how: 'end' | 'destroy') => {
      clearInterval(poll);
      clearTimeout(cap);
      if (how === 'end') close.call(this);
      else this.destroy();
    };
    // The body is over: half-close and close as usual.
    req.once('end', () => stop('end'));
    // bytesRead, not 'data' events: the HTTP parser reads the socket itself.
    const poll = setInterval(() => {
      const read = this.bytesRead;
      if (read - start > LINGER_BYTES) return stop('destroy');
      if (read !== seen) {
        seen = read;
        quietSince = Date.now();
      } else if (Date.now() - quietSince > LINGER_IDLE_MS) stop('destroy');
    }, 100);
    const cap = setTimeout(() => stop('destroy'), LINGER_MAX_MS);
    poll.unref();
    cap.unref();
    this.once('close', () => {
      clearInterval(poll);
      clearTimeout(cap);
    });
  };
}

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

/** How a counted log words its lines. */
export interface CountedWords {
  /** The first event of a quiet spell, logged at once; `detail` is what the caller added to that event. */
  first(kind: string, detail: string | undefined, intervalSeconds: number): string;
  /** The events counted since, once an interval: their total, "n × kind" parts, over how many seconds. */
  more(total: number, parts: string, seconds: number): string;
}

/**
 * A log that no one can flood: the first event in a quiet spell is logged at
 * once, the ones after it are counted, and at most one line per interval
 * says how many there were.
 */
export class CountedLog {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private since = 0;

  constructor(
    private readonly log: Logger,
    private readonly words: CountedWords,
    private readonly intervalMs = 60_000,
  ) {}

  /** Within a spell: events are being counted rather than logged one by one. */
  get counting(): boolean {
    return this.timer !== null;
  }

  note(kind: string, detail?: string): void {
    if (!this.timer) {
      this.since = Date.now();
      this.log.warn(this.words.first(kind, detail, Math.round(this.intervalMs / 1000)));
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
    this.log.warn(this.words.more(total, parts.join(', '), seconds));
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
    // A quiet interval ends the spell: the next event is logged at once again.
    this.timer = any ? setTimeout(() => this.tick(), this.intervalMs) : null;
    this.timer?.unref();
  }
}

/** What Berth refused (requests, handoff proofs), counted: "refused 401 (no valid token)", then "refused 1999 more in the last 60 s: ...". */
export class RefusalLog extends CountedLog {
  constructor(log: Logger, intervalMs = 60_000) {
    super(
      log,
      {
        first: (kind, _detail, seconds) => `refused ${kind}; more refusals are counted and logged at most once every ${seconds} s`,
        more: (total, parts, seconds) => `refused ${total} more in the last ${seconds} s: ${parts}`,
      },
      intervalMs,
    );
  }
}
