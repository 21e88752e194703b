import { setTimeout as sleep } from 'node:timers/promises';
import { visible } from '../terminal-text';
import http from 'node:http';
import { BerthError, ExitCode, errorCode } from '../errors';
import type { ProbeResult } from '../instance/probe';
import { readToken } from '../server/token';
import { ATTEMPTS, backoff, isBerth, look, notBerth, where, type Context, type RunningProbe } from './find';

/**
 * How stop, restart and open call a running Berth's API. A request that is
 * reset or refused before any answer (the server was closing that listener,
 * or restarting) is sent again after a fresh probe finds the current server:
 * a few times, never forever.
 */

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  /** The body as it came over the wire (for an answer that is not JSON, such as /api/diagnostics). */
  text?: string;
}

/** The request got no answer at all: it was reset or refused, so the server did not act on it. */
export class NoAnswer extends Error {
  constructor(readonly code: string) {
    super(`no answer (${code})`);
  }
}

export function tokenFor(ctx: Context, target: RunningProbe): string {
  const t = readToken(ctx.config.dataDir);
  if (!t) {
    throw new BerthError(
      `No token in ${ctx.config.dataDir}, so Berth on ${target.running.url} cannot be asked; pass the --data-dir it was started with.`,
      ExitCode.usage,
    );
  }
  return t;
}

/** One HTTP request on its own connection. Rejects with NoAnswer when it was reset or refused before any answer. */
export function request(target: { address: string; port: number }, token: string | null, method: string, pathname: string, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (method !== 'GET') headers['Content-Length'] = 0;
    const req = http.request({ host: target.address, port: target.port, method, path: pathname, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = () => {
        let body: Record<string, unknown> = {};
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // not JSON, or cut short: the status is the answer
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      // The status line arrived, so the request was answered, even if the body broke off.
      res.on('error', done);
      res.on('aborted', done);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => {
      const code = errorCode(err) ?? err.message;
      if (code === 'ETIMEDOUT') {
        reject(new BerthError(`Berth on ${where(target)} accepted the connection but did not answer within ${timeoutMs / 1000} s; see its log.`, ExitCode.unexpected));
      } else {
        reject(new NoAnswer(code));
      }
    });
    req.end();
  });
}

export interface AskOptions {
  token: string;
  /**
   * For a request that changes something: asked after a reset, with a fresh
   * probe, whether the action took place anyway (then it is not sent twice).
   */
  acknowledged?: (seen: ProbeResult) => Promise<boolean>;
  /** How long the answer may take (default 10 s): a restart answers once it is done. */
  timeoutMs?: number;
}

/**
 * Send a request to the running Berth. If it is reset or refused before any
 * answer, probe again and send it to whatever Berth serves now, a few times;
 * a request that changes something is sent again only if it did not take place.
 */
export async function ask(ctx: Context, target: RunningProbe, method: string, pathname: string, opts: AskOptions): Promise<Answer | 'acknowledged'> {
  let current: RunningProbe | null = target;
  let seen: ProbeResult = target;
  let last = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (current) {
      try {
        return await request(current, opts.token, method, pathname, opts.timeoutMs);
      } catch (err) {
        if (!(err instanceof NoAnswer)) throw err;
        last = err.code;
      }
    }
    await sleep(backoff(attempt));
    // Between a close and the next listen the port is briefly free: look again rather than give up at once.
    seen = await look(ctx);
    if (opts.acknowledged && (await opts.acknowledged(seen).catch(() => false))) return 'acknowledged';
    current = isBerth(seen) ? seen : null;
  }
  if (!current) throw notBerth(ctx, seen);
  throw new BerthError(`Berth on ${where(current)} closed the connection ${ATTEMPTS} times before answering (${last}); try again in a moment, or see its log.`, ExitCode.unexpected);
}

/** GET /api/status, retried like any request that changes nothing. */
export async function statusOf(ctx: Context, target: RunningProbe, token: string): Promise<ServerStatus> {
  const res = await ask(ctx, target, 'GET', '/api/status', { token });
  if (res === 'acknowledged') throw new Error('unreachable: a GET is never acknowledged');
  return checked(res, target, 'tell its status') as unknown as ServerStatus;
}

/** The parts of GET /api/status the commands read. Read defensively: servers of other versions answer too. */
export interface ServerStatus {
  instance?: string;
  pid?: number;
  url?: string;
  state?: string;
  logFile?: string | null;
  history?: HistoryItem[];
}

export interface HistoryItem {
  kind?: string;
  at?: string;
  downtimeMs?: number | null;
  detail?: string;
  [more: string]: unknown;
}

/** The newest history entry of a kind, for telling whether a new one appeared. */
export function newest(status: ServerStatus, kind: string): HistoryItem | undefined {
  return (Array.isArray(status.history) ? status.history : []).filter((h) => h && h.kind === kind).at(-1);
}

export function sameEntry(a: HistoryItem | undefined, b: HistoryItem | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** A 2xx answer's body, or the error for what the server said instead. */
export function checked(res: Answer, target: RunningProbe, action: string): Record<string, unknown> {
  if (res.status >= 200 && res.status < 300) return res.body;
  const url = target.running.url;
  if (res.status === 401) {
    throw new BerthError(
      `Berth on ${url} did not accept the token from this data directory (HTTP 401); pass the --data-dir it was started with.`,
      ExitCode.usage,
    );
  }
  // The server's words, escaped: whatever answered on the port may not be Berth.
  const said = typeof res.body.message === 'string' && res.body.message ? `: ${visible(res.body.message).replace(/\.$/, '')}` : '';
  throw new BerthError(`Berth on ${url} refused to ${action} (HTTP ${res.status}${said}).`, ExitCode.unexpected, { status: res.status });
}
