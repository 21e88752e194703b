/**
 * https everywhere: an update is code Berth will run, and on Linux nothing
 * checks its signature, so no part of it is fetched over plain http from
 * another machine. The feed URL is checked before a check
 * (settings.updateUrlProblem); this covers what comes after it: a redirect,
 * or a manifest that names its files by absolute URL. Every request the
 * updater makes goes through its executor's createRequest (Node's and
 * Electron's alike), so that is where it is refused. Plain http stays
 * allowed from a feed on this machine to this machine (a local mirror).
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { isLoopbackHost } from '../addresses';

interface Executor {
  createRequest(options: RequestOptions, callback: (res: unknown) => void): EventEmitter & { abort?(): void };
}
interface RequestOptions {
  protocol?: string | null;
  hostname?: string | null;
  host?: string | null;
  port?: string | number | null;
  path?: string | null;
  redirect?: string;
}

/** Why `target` may not be fetched for an update from `feed`, or null. */
export function plainHttpProblem(target: URL, feed: string | null): string | null {
  if (target.protocol !== 'http:') return null;
  let feedLocal = false;
  try {
    feedLocal = !!feed && isLoopbackHost(new URL(feed).hostname);
  } catch {
    feedLocal = false;
  }
  if (feedLocal && isLoopbackHost(target.hostname)) return null;
  return `Berth refused to fetch ${target.href} over plain http: an update fetched over http from ${target.host} could be replaced on the way${feed ? ` (the update server ${feed} sent Berth there)` : ''}`;
}

function targetOf(o: RequestOptions): URL | null {
  try {
    const host = String(o.hostname ?? o.host ?? '');
    return new URL(`${o.protocol ?? 'https:'}//${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}${o.port ? `:${o.port}` : ''}${o.path ?? '/'}`);
  } catch {
    return null;
  }
}

/** A request that never goes out: it fails as a refused connection would, once the caller is listening. */
function refusedRequest(message: string): EventEmitter {
  const req = new EventEmitter() as EventEmitter & { end(): void; abort(): void; destroy(): void; setHeader(): void };
  const fail = () => setImmediate(() => req.emit('error', Object.assign(new Error(message), { code: 'ERR_BERTH_PLAIN_HTTP' })));
  let failed = false;
  req.end = () => {
    if (!failed) fail();
    failed = true;
  };
  req.abort = req.destroy = req.setHeader = () => undefined;
  return req;
}

/** Make every request of `updater` to plain http refused, unless both it and the feed (`feed()`, read per request) are on this machine. */
export function refusePlainHttp(updater: AppUpdater, feed: () => string | null): void {
  const ex = (updater as unknown as { httpExecutor: Executor | null }).httpExecutor;
  if (!ex) return;
  const create = ex.createRequest.bind(ex);
  ex.createRequest = (options, callback) => {
    const target = targetOf(options);
    const problem = target ? plainHttpProblem(target, feed()) : null;
    if (problem) return refusedRequest(problem) as never;
    const req = create(options, callback);
    // Electron's net follows a redirect by itself; it says where to first, and an abort then stops it.
    req.on('redirect', (_status: number, _method: string, url: string) => {
      let to: URL;
      try {
        to = new URL(url);
      } catch {
        return;
      }
      const refused = plainHttpProblem(to, feed());
      if (!refused) return;
      req.abort?.();
      req.emit('error', Object.assign(new Error(refused), { code: 'ERR_BERTH_PLAIN_HTTP' }));
    });
    return req;
  };
}

/**
 * The feed a build has baked in: the url in the app-update.yml its updater
 * reads (resources/app-update.yml in a packaged app), or null when there is
 * none to read. Read with the YAML parser electron-updater itself uses.
 */
export function builtInFeed(updater: AppUpdater): string | null {
  const file = (updater as unknown as { app?: { appUpdateConfigPath?: string } }).app?.appUpdateConfigPath;
  if (!file) return null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const yaml = require(require.resolve('js-yaml', { paths: [path.dirname(require.resolve('electron-updater'))] })) as { load(text: string): unknown };
    const config = yaml.load(fs.readFileSync(file, 'utf8')) as { url?: unknown } | null;
    return typeof config?.url === 'string' ? config.url : null;
  } catch {
    return null;
  }
}
