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
import path from 'node:path';
import type { AppAdapter } from 'electron-updater/out/AppAdapter';
import type * as BuilderUtilRuntime from 'builder-util-runtime';
import type { DownloadOptions } from 'builder-util-runtime';

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

/**
 * builder-util-runtime, exactly the copy electron-updater loads: the updater
 * recognises a 404 with `instanceof HttpError`, so an executor built on a
 * second copy would turn "channel file not found" into a generic error.
 * Loaded on first use: a relaunching server binds before it needs the updater.
 */
function runtime(): typeof BuilderUtilRuntime {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(require.resolve('builder-util-runtime', { paths: [path.dirname(require.resolve('electron-updater'))] })) as typeof BuilderUtilRuntime;
}

export type NodeHttpExecutor = BuilderUtilRuntime.HttpExecutor<http.ClientRequest> & {
  download(url: URL, destination: string, options: DownloadOptions): Promise<string>;
};

let executorClass: (new () => NodeHttpExecutor) | null = null;

/**
 * electron-updater's HTTP executor on node:http/https. `download` streams to
 * the file through builder-util-runtime's own pipeline, so the sha512 is
 * checked while downloading and progress is reported, exactly as in Electron.
 * (No proxy support: Electron's net module gives the desktop app the system proxy.)
 */
export function createNodeHttpExecutor(): NodeHttpExecutor {
  if (!executorClass) {
    const rt = runtime();
    class Executor extends rt.HttpExecutor<http.ClientRequest> {
      createRequest(options: http.RequestOptions, callback: (response: http.IncomingMessage) => void): http.ClientRequest {
        return (options.protocol === 'http:' ? http.request : https.request)(options, callback);
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
  return new executorClass();
}

/** Put our executor on an updater built with `new XUpdater(options, adapter)` (which leaves it null). */
export function useNodeHttp(updater: object, executor: NodeHttpExecutor = createNodeHttpExecutor()): void {
  (updater as { httpExecutor: unknown }).httpExecutor = executor;
}
