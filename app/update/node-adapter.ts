/**
 * What electron-updater needs from its host, supplied by plain Node instead of
 * Electron: an AppAdapter (version, name, paths, quit) and an HTTP executor
 * built on node:http. With these two, electron-updater's own updater classes
 * (AppImageUpdater, NsisUpdater...) run unchanged outside Electron, which is
 * how the headless `berth serve` updates itself and how the tests drive the
 * real library. electron-builder's own updater tests construct updaters the
 * same way (an app adapter of their own, a Node executor).
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { AppAdapter } from 'electron-updater/out/AppAdapter';
import type * as BuilderUtilRuntime from 'builder-util-runtime';
import type { DownloadOptions } from 'builder-util-runtime';
import { runtime } from './runtime';

export interface NodeAppAdapterOptions {
  version: string;
  /** The app name electron-updater uses for its cache folder when app-update.yml names none. */
  name?: string;
  /** Berth's data directory: electron-updater keeps its staged-rollout id (.updaterId) here. */
  userDataPath: string;
  /** Where downloads are cached (electron-updater adds updaterCacheDirName from app-update.yml). */
  baseCachePath: string;
  /** app-update.yml: provider, url, updaterCacheDirName. */
  appUpdateConfigPath: string;
  /** False turns the updater off the way an unpackaged Electron app is (checkForUpdates answers null). */
  isPackaged?: boolean;
  /** Called by updaters that restart the app themselves (deb, rpm). */
  relaunch?: () => void;
  /** Called by updaters that quit the app themselves. */
  quit?: () => void;
}

/** electron-updater's AppAdapter for plain Node. */
export class NodeAppAdapter implements AppAdapter {
  readonly version: string;
  readonly name: string;
  readonly isPackaged: boolean;
  readonly appUpdateConfigPath: string;
  readonly userDataPath: string;
  readonly baseCachePath: string;
  private readonly quitHandlers: ((exitCode: number) => void)[] = [];

  constructor(private readonly opts: NodeAppAdapterOptions) {
    this.version = opts.version;
    this.name = opts.name ?? 'Berth';
    this.isPackaged = opts.isPackaged ?? true;
    this.appUpdateConfigPath = opts.appUpdateConfigPath;
    this.userDataPath = opts.userDataPath;
    this.baseCachePath = opts.baseCachePath;
  }

  whenReady(): Promise<void> {
    return Promise.resolve();
  }

  relaunch(): void {
    this.opts.relaunch?.();
  }

  quit(): void {
    this.opts.quit?.();
  }

  /** electron-updater registers its install-on-quit handler here once an update is downloaded. */
  onQuit(handler: (exitCode: number) => void): void {
    this.quitHandlers.push(handler);
  }

  /** The process owner calls this as the process ends (Electron's app 'quit' event, for Node). */
  notifyQuit(exitCode: number): void {
    for (const h of this.quitHandlers.splice(0)) h(exitCode);
  }
}

export type NodeHttpExecutor = BuilderUtilRuntime.HttpExecutor<http.ClientRequest> & {
  download(url: URL, destination: string, options: DownloadOptions): Promise<string>;
};

let executorClass: (new () => NodeHttpExecutor) | null = null;

/**
 * The proxy a request to `url` goes through, from the environment as curl
 * reads it: https_proxy/HTTPS_PROXY for https URLs, http_proxy/HTTP_PROXY for
 * http (lower case first), unless no_proxy/NO_PROXY names the host (`*`, a
 * host, `.domain` or `domain` for it and its subdomains, an IP, each with an
 * optional :port). Null: connect directly.
 */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | null {
  const raw = url.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY) : url.protocol === 'http:' ? (env.http_proxy ?? env.HTTP_PROXY) : undefined;
  if (!raw) return null;
  if (bypassed(url, env.no_proxy ?? env.NO_PROXY ?? '')) return null;
  try {
    const proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    return proxy.protocol === 'http:' || proxy.protocol === 'https:' ? proxy : null;
  } catch {
    return null;
  }
}

function bypassed(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const entry of noProxy.toLowerCase().split(/[\s,]+/).filter(Boolean)) {
    if (entry === '*') return true;
    // host, host:port, [v6]:port, or a bare IPv6 address (more than one colon).
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const parts = bracketed ? [bracketed[1]!, bracketed[2]] : entry.split(':').length === 2 ? entry.split(':') : [entry, undefined];
    const [rawName, entryPort] = parts as [string, string | undefined];
    if (entryPort && entryPort !== port) continue;
    const name = rawName.replace(/^\*?\./, '.');
    if (name.startsWith('.') ? host.endsWith(name) || host === name.slice(1) : host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username) return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

function connectToProxy(proxy: URL): net.Socket {
  const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const host = proxy.hostname.replace(/^\[|\]$/g, '');
  return proxy.protocol === 'https:' ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
}

/** An https agent whose connections are tunnels through an HTTP proxy (CONNECT), with TLS to the server inside. */
class TunnelAgent extends https.Agent {
  constructor(private readonly proxy: URL) {
    super({ keepAlive: false });
  }

  // Node's agents accept the socket through the callback, so the tunnel can be set up first.
  override createConnection(requestOptions: http.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const options = requestOptions as tls.ConnectionOptions & { host?: string; port?: number };
    const host = String(options.host ?? options.servername ?? 'localhost');
    const target = `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 443}`;
    const done = (err: Error | null, socket?: Duplex) => callback?.(err, socket as Duplex);
    const req = http.request({
      method: 'CONNECT',
      path: target,
      headers: { Host: target, ...proxyAuthorization(this.proxy) },
      // No agent: Node then opens the connection with createConnection.
      createConnection: () => connectToProxy(this.proxy),
      agent: undefined,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(Object.assign(new Error(`The proxy ${this.proxy.host} refused to connect to ${target}: HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
        return;
      }
      done(null, tls.connect({ ...options, socket, servername: options.servername ?? (net.isIP(host) ? undefined : host) }));
    });
    req.once('error', (err) => done(err));
    req.end();
    return undefined;
  }
}

/**
 * electron-updater's HTTP executor on node:http/https. `download` streams to
 * the file through builder-util-runtime's own pipeline, so the sha512 is
 * checked while downloading and progress is reported, exactly as in Electron.
 * Every request (the manifest, the download, the ranges of a differential
 * download) honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY (proxyFor), as the
 * desktop app gets its proxy from Electron's network stack.
 */
export function createNodeHttpExecutor(env: NodeJS.ProcessEnv = process.env): NodeHttpExecutor {
  if (!executorClass) {
    const rt = runtime();
    class Executor extends rt.HttpExecutor<http.ClientRequest> {
      env: NodeJS.ProcessEnv = process.env;
      private readonly tunnels = new Map<string, TunnelAgent>();

      createRequest(options: http.RequestOptions, callback: (response: http.IncomingMessage) => void): http.ClientRequest {
        const secure = options.protocol === 'https:';
        const host = String(options.hostname ?? options.host ?? 'localhost');
        const target = new URL(`${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}${options.port ? `:${options.port}` : ''}${options.path ?? '/'}`);
        const proxy = proxyFor(target, this.env);
        if (!proxy) return (secure ? https.request : http.request)(options, callback);
        if (secure) {
          let agent = this.tunnels.get(proxy.href);
          if (!agent) this.tunnels.set(proxy.href, (agent = new TunnelAgent(proxy)));
          return https.request({ ...options, agent }, callback);
        }
        // Plain http through a proxy: the request line carries the whole URL.
        return http.request(
          {
            ...options,
            path: target.href,
            headers: { ...options.headers, Host: target.host, ...proxyAuthorization(proxy) },
            createConnection: () => connectToProxy(proxy),
            agent: undefined,
          },
          callback,
        );
      }

      download(url: URL, destination: string, options: DownloadOptions): Promise<string> {
        return options.cancellationToken.createPromise<string>((resolve, reject, onCancel) => {
          const requestOptions: http.RequestOptions = { headers: options.headers ?? undefined };
          rt.configureRequestUrl(url, requestOptions);
          rt.configureRequestOptions(requestOptions);
          this.doDownload(
            requestOptions,
            {
              destination,
              options,
              onCancel,
              callback: (error) => (error ? reject(error) : resolve(destination)),
              responseHandler: null,
            },
            0,
          );
        });
      }
    }
    executorClass = Executor;
  }
  const executor = new executorClass();
  (executor as unknown as { env: NodeJS.ProcessEnv }).env = env;
  return executor;
}

/** Put our executor on an updater built with `new XUpdater(options, adapter)` (which leaves it null). */
export function useNodeHttp(updater: object, executor: NodeHttpExecutor = createNodeHttpExecutor()): void {
  (updater as { httpExecutor: unknown }).httpExecutor = executor;
}
