/**
 * Whole-file downloads a person can trust, in place of the HTTP executor's
 * own `download` (Node's and Electron's alike: both make their requests
 * through `createRequest`, which this uses too).
 *
 * The library's download restarts from byte 0 when a connection drops, says
 * nothing for up to 60 s when a server goes quiet, and reports progress at
 * most once a second. This one:
 * - resumes a dropped or silent connection with `Range: bytes=N-` where the
 *   server takes ranges (a 206 from where it stopped), and where it does not
 *   (a 200 with the whole file), starts again from the beginning and says so;
 * - gives up after a few drops in a row without progress, with a reason;
 * - reports progress with every burst of bytes (at most every 250 ms, and
 *   once more when they stop), so "no bytes for a while" can be told apart;
 * - checks the sha512 the manifest names over the whole file, as the
 *   library does (ERR_CHECKSUM_MISMATCH), and honours cancellation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { AppUpdater } from 'electron-updater';
import type { DownloadOptions, ProgressInfo } from 'builder-util-runtime';
import { runtime } from './runtime';

/** A connection that sends nothing for this long is treated as dropped (and resumed). */
const IDLE_MS = 30_000;
/** Drops in a row without a byte in between before the download fails. */
const MAX_DROPS = 5;
const PROGRESS_EVERY_MS = 250;

export interface DownloadEvents {
  /** Something a person should know while downloading ("the server cannot resume: starting again"), or null once it no longer applies. */
  note(text: string | null): void;
}

interface Req {
  end(): void;
  on(event: string, fn: (...args: never[]) => void): unknown;
  destroy?(): void;
  abort?(): void;
}
interface Res {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  on(event: string, fn: (...args: never[]) => void): unknown;
}
interface Executor {
  createRequest(options: Record<string, unknown>, callback: (res: Res) => void): Req;
  addRedirectHandlers(request: Req, options: Record<string, unknown>, reject: (e: Error) => void, redirectCount: number, handler: (options: Record<string, unknown>) => void): void;
  download(url: URL, destination: string, options: DownloadOptions): Promise<string>;
}

/** The downloads of one updater: its executor's `download` replaced, and a way to make the one in flight reconnect now. */
export class ResumableDownloads {
  private readonly current = new Set<() => void>();

  constructor(
    updater: AppUpdater,
    private readonly events: DownloadEvents,
    private readonly o: { idleMs?: number } = {},
  ) {
    const ex = (updater as unknown as { httpExecutor: Executor }).httpExecutor;
    ex.download = (url, destination, options) => this.download(ex, url, destination, options);
  }

  /** Drop the connection of the download in flight and resume it at once (Retry on a stalled download); false when none is in flight. */
  reconnect(): boolean {
    for (const r of this.current) r();
    return this.current.size > 0;
  }

  private download(ex: Executor, url: URL, destination: string, options: DownloadOptions): Promise<string> {
    const rt = runtime();
    const idleMs = this.o.idleMs ?? IDLE_MS;
    return options.cancellationToken.createPromise<string>((resolve, reject, onCancel) => {
      const algorithm = options.sha512 ? 'sha512' : options.sha2 ? 'sha256' : null;
      const expected = options.sha512 ?? options.sha2 ?? null;
      let hash = algorithm ? crypto.createHash(algorithm) : null;
      let file = fs.createWriteStream(destination);
      let received = 0;
      let total: number | null = null;
      let validator: string | null = null;
      let drops = 0;
      let restarts = 0;
      let request: Req | null = null;
      let idle: NodeJS.Timeout | null = null;
      let ended = false;
      const startedAt = Date.now();
      let lastReport = 0;
      let trailing: NodeJS.Timeout | null = null;

      const report = () => {
        if (trailing) clearTimeout(trailing);
        trailing = null;
        lastReport = Date.now();
        if (!options.onProgress || total === null) return;
        const p: ProgressInfo = { total, delta: 0, transferred: received, percent: total ? (received / total) * 100 : 0, bytesPerSecond: Math.round(received / Math.max(0.001, (Date.now() - startedAt) / 1000)) };
        options.onProgress(p);
      };
      const progressed = () => {
        if (Date.now() - lastReport >= PROGRESS_EVERY_MS) report();
        else trailing ??= setTimeout(report, PROGRESS_EVERY_MS);
      };
      const abortRequest = () => {
        const r = request;
        request = null;
        if (idle) clearTimeout(idle);
        if (r) (r.destroy ?? r.abort)?.call(r);
      };
      const finish = (err: Error | null) => {
        if (ended) return;
        ended = true;
        this.current.delete(reconnect);
        abortRequest();
        if (trailing) clearTimeout(trailing);
        if (err) {
          file.destroy();
          return reject(err);
        }
        file.end(() => {
          const actual = hash?.digest(expected && expected.length === 128 && !/[+Z=]/.test(expected) ? 'hex' : algorithm === 'sha256' ? 'hex' : 'base64');
          if (expected && actual !== expected) {
            return reject(rt.newError(`${algorithm} checksum mismatch, expected ${expected}, got ${actual}`, 'ERR_CHECKSUM_MISMATCH'));
          }
          resolve(destination);
        });
      };
      const restartFromZero = () => {
        file.destroy();
        file = fs.createWriteStream(destination);
        hash = algorithm ? crypto.createHash(algorithm) : null;
        received = 0;
      };
      /** The connection of `from` went (dropped, silent, ended short): try again from where we are. */
      const dropped = (why: string, from: Req | null) => {
        if (ended || !request || request !== from) return;
        abortRequest();
        if (++drops > MAX_DROPS) {
          return finish(rt.newError(`the connection to the update server dropped ${drops} times in a row without getting further (last: ${why})`, 'ERR_BERTH_DOWNLOAD_DROPPED'));
        }
        setTimeout(() => attempt(url), Math.min(2000, 200 * drops)).unref?.();
      };
      const reconnect = () => {
        if (request) {
          abortRequest();
          attempt(url);
        }
      };
      this.current.add(reconnect);
      onCancel(() => {
        ended = true;
        this.current.delete(reconnect);
        abortRequest();
        if (trailing) clearTimeout(trailing);
        file.destroy();
      });

      const attempt = (target: URL, redirectOptions?: Record<string, unknown>, redirects = 0): void => {
        if (ended) return;
        const ro: Record<string, unknown> = redirectOptions ?? { headers: { ...(options.headers ?? {}) }, redirect: 'manual' };
        if (!redirectOptions) {
          rt.configureRequestUrl(target, ro as never);
          rt.configureRequestOptions(ro as never);
        }
        const headers = ro.headers as Record<string, string>;
        delete headers.Range;
        delete headers['If-Range'];
        if (received > 0) {
          headers.Range = `bytes=${received}-`;
          if (validator) headers['If-Range'] = validator;
        }
        const follow = (next: Record<string, unknown>) => {
          if (redirects >= 10) return finish(new Error('Too many redirects (> 10)'));
          request = null;
          attempt(target, next, redirects + 1);
        };
        const req = ex.createRequest(ro, (res) => {
          if (ended || request !== req) return;
          const status = res.statusCode ?? 0;
          const location = header(res, 'location');
          if (status >= 300 && status < 400 && location) return follow(rt.HttpExecutor.prepareRedirectUrlOptions(location, ro as never) as never);
          if (status >= 400 && status !== 416) {
            return finish(new Error(`Cannot download "${String(ro.protocol ?? 'https:')}//${String(ro.hostname)}${String(ro.path)}", status ${status}: ${String((res as { statusMessage?: string }).statusMessage ?? '')}`));
          }
          if (status === 416) return total !== null && received >= total ? (report(), finish(null)) : dropped('the server refused the range', req);
          if (received > 0 && status === 206 && rangeStart(header(res, 'content-range')) === received) {
            // Resumed where it stopped.
            this.events.note(null);
          } else if (received > 0) {
            // The server sent the whole file again (it cannot resume, or the file changed): from the beginning.
            if (++restarts > MAX_DROPS) return finish(rt.newError(`the download started again from the beginning ${restarts} times (the connection keeps dropping and the server cannot resume)`, 'ERR_BERTH_DOWNLOAD_DROPPED'));
            this.events.note('The connection dropped and this server does not support resuming, so the download starts again from the beginning.');
            restartFromZero();
          }
          const length = Number(header(res, 'content-length') ?? NaN);
          total = rangeTotal(header(res, 'content-range')) ?? (Number.isFinite(length) ? received + length : total);
          validator = header(res, 'etag') ?? header(res, 'last-modified') ?? null;
          const armIdle = () => {
            if (idle) clearTimeout(idle);
            idle = setTimeout(() => dropped(`nothing received for ${Math.round(idleMs / 1000)} s`, req), idleMs);
            idle.unref?.();
          };
          armIdle();
          res.on('data', ((chunk: Buffer) => {
            if (ended || request !== req) return;
            drops = 0;
            received += chunk.length;
            hash?.update(chunk);
            // Not paused for the disk: a paused response that then breaks off loses what it had buffered,
            // and the resume would ask for bytes already sent. The disk is faster than the network.
            file.write(chunk);
            armIdle();
            progressed();
          }) as never);
          res.on('end', (() => {
            if (ended || request !== req) return;
            if (total !== null && received < total) return dropped(`the response ended after ${received} of ${total} bytes`, req);
            report();
            finish(null);
          }) as never);
          res.on('aborted', (() => dropped('the server closed the connection', req)) as never);
          res.on('error', ((err: Error) => dropped(err.message, req)) as never);
        });
        request = req;
        req.on('error', ((err: NodeJS.ErrnoException) => {
          if (request !== req) return;
          // Refused outright (a policy, a bad address) is final; a connection that breaks is resumed.
          if (err.code === 'ERR_BERTH_PLAIN_HTTP' || (received === 0 && drops === 0 && !['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(err.code ?? ''))) return finish(err);
          dropped(err.code ?? err.message, req);
        }) as never);
        ex.addRedirectHandlers(req, ro, (e) => finish(e), redirects, follow);
        req.end();
      };
      attempt(url);
    });
  }
}

function header(res: Res, name: string): string | undefined {
  const v = res.headers[name] ?? res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** "bytes 100-199/1000" -> 100 */
function rangeStart(v: string | undefined): number | null {
  const m = v ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(v.trim()) : null;
  return m ? Number(m[1]) : null;
}

/** "bytes 100-199/1000" -> 1000 */
function rangeTotal(v: string | undefined): number | null {
  const m = v ? /^bytes \d+-\d+\/(\d+)$/.exec(v.trim()) : null;
  return m ? Number(m[1]) : null;
}
