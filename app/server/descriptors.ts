import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log';
import { CountedLog } from './refusal';

/**
 * File descriptors: every connection holds one, and a process has a limit
 * (`ulimit -n`; Node raises the soft limit to the hard one at start, so a
 * low hard limit is what bites). At the limit the kernel's accept fails
 * with EMFILE, and libuv answers that by accepting and closing whatever is
 * queued: every new client, the probe included, sees a reset, and nothing
 * says why. So Berth keeps a reserve and acts before the limit:
 *
 * 1. near it, idle keep-alive connections are closed, oldest first, then
 *    connections that have not finished sending a request for a while;
 * 2. a new connection beyond that still gets one answer (the probe, /health,
 *    a CLI request) with Connection: close, and two seconds to ask;
 * 3. it is said once in the log, and for a while in /health.
 *
 * Windows has no such limit for sockets; where the limit cannot be read,
 * nothing here acts.
 */

/** How long a connection beyond the budget may take to send its one request. */
const OVER_BUDGET_MS = 2000;
/** A connection that has sent no whole request for this long may be closed to make room. */
const SLOW_MS = 1000;
/** How long /health mentions a shortage after the last one. */
const REMEMBER_MS = 5 * 60_000;

type Phase = 'new' | 'busy' | 'idle';
interface Tracked {
  since: number;
  phase: Phase;
  over: boolean;
}

export interface DescriptorHealth {
  /** The process's limit on open files (ulimit -n). */
  limit: number;
  /** When Berth last ran short, and what it did about it. */
  shortAt: string;
  closedIdle: number;
  answeredOver: number;
}

/** The soft limit on open files, or null where it cannot be read (Windows) or is so large it never matters. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? null : Number(m[1]);
  } catch {
    // not Linux
  }
  if (process.platform === 'win32') return null;
  const limits = (process.report?.getReport() as { userLimits?: { open_files?: { soft?: number | string } } } | undefined)?.userLimits;
  const soft = limits?.open_files?.soft;
  return typeof soft === 'number' ? soft : null;
}

/** How many descriptors this process has open now (Linux, macOS); the limit itself when even that cannot be looked at. */
function openCount(limit: number): number {
  for (const dir of ['/proc/self/fd', '/dev/fd']) {
    try {
      // One of them is the directory being read.
      return fs.readdirSync(dir).length - 1;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EMFILE' || (err as NodeJS.ErrnoException).code === 'ENFILE') return limit;
    }
  }
  return 0;
}

export class Descriptors {
  private readonly sockets = new Map<Socket, Tracked>();
  private limit: number | null | undefined;
  /** Connections that fit before the open descriptors are counted again (counting costs a directory read). */
  private room = 0;
  private shortAt = 0;
  private closedIdle = 0;
  private answeredOver = 0;
  private notes: CountedLog | null = null;

  constructor(private readonly readLimit: () => number | null = openFileLimit) {}

  /** Where a shortage is said (the host's logger); at most a line a minute. */
  useLog(log: Logger): void {
    this.notes?.close();
    this.notes = new CountedLog(log, {
      first: (what, where) => `${where}: ${what}. Raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit); until then Berth closes idle connections first and answers each new one once.`,
      more: (total, parts, seconds) => `still short of file descriptors: ${total} more in the last ${seconds} s (${parts})`,
    });
  }

  /** A connection was accepted (the Listener calls this for each one). */
  admit(socket: Socket): void {
    const t: Tracked = { since: Date.now(), phase: 'new', over: false };
    this.sockets.set(socket, t);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.limit === undefined) this.limit = this.readLimit();
    const limit = this.limit;
    if (limit === null || this.sockets.size <= this.room) return;
    const reserve = Math.min(64, Math.max(8, Math.floor(limit / 16)));
    const count = () => openCount(limit);
    let free = limit - reserve - count();
    if (free >= 0) {
      this.room = this.sockets.size + free;
      return;
    }
    const closed = this.shed(-free + Math.ceil(reserve / 2), socket);
    free += closed;
    this.room = this.sockets.size + Math.max(0, free);
    const where = `Berth is short of file descriptors: ${limit - reserve - free} of its limit of ${limit} are open (ulimit -n ${limit})`;
    this.shortAt = Date.now();
    if (closed) {
      this.closedIdle += closed;
      for (let i = 0; i < closed; i++) this.notes?.note('idle or slow connections closed to make room', where);
    }
    if (free < 0) {
      // Beyond the budget: one answer, soon, then the connection closes.
      t.over = true;
      socket.setTimeout(OVER_BUDGET_MS, () => socket.destroy());
      this.notes?.note('new connections answered once and closed', where);
    }
  }

  /** Close up to `n` connections that wait for nothing of ours: idle keep-alive first, then ones slow to ask, oldest first. */
  private shed(n: number, keep: Socket): number {
    const now = Date.now();
    const rank = (t: Tracked) => (t.phase === 'idle' ? 0 : t.phase === 'new' && now - t.since > SLOW_MS ? 1 : 2);
    const victims = [...this.sockets]
      .filter(([s, t]) => s !== keep && rank(t) < 2)
      .sort(([, a], [, b]) => rank(a) - rank(b) || a.since - b.since)
      .slice(0, n);
    for (const [s] of victims) {
      this.sockets.delete(s);
      s.destroy();
    }
    return victims.length;
  }

  /**
   * A request arrived (the Listener calls this before the app sees it). On a
   * connection beyond the budget it is answered, and the connection closes.
   */
  request(req: IncomingMessage, res: ServerResponse): void {
    const t = this.sockets.get(req.socket);
    if (!t) return;
    t.phase = 'busy';
    if (t.over) {
      this.answeredOver++;
      res.setHeader('Connection', 'close');
    }
    res.once('finish', () => {
      t.phase = 'idle';
      t.since = Date.now();
    });
  }

  /** For /health: the last shortage, for a while after it. */
  health(): DescriptorHealth | undefined {
    if (!this.shortAt || Date.now() - this.shortAt > REMEMBER_MS || this.limit == null) return undefined;
    return { limit: this.limit, shortAt: new Date(this.shortAt).toISOString(), closedIdle: this.closedIdle, answeredOver: this.answeredOver };
  }
}

/** File descriptors belong to the process: one account of them for every listener in it. */
export const descriptors = new Descriptors();
