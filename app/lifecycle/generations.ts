import type { LogSink } from '../log';
import { createWebApp, type ApiRoutes, type HostedSite, type WebApp } from '../server/web';
import { UiFiles } from '../server/ui-files';
import type { BerthHealth } from '../instance/verdict';
import { within } from '../timeout';

export interface GenerationOptions {
  identity: () => Omit<BerthHealth, 'state' | 'app'>;
  token: string;
  logs: LogSink;
  rendererDir: string;
  routes: ApiRoutes[];
  /** A hosted app's part of each generation (app/hosting). */
  site?: HostedSite;
  /** What /health says for apps answering on `host`'s listener. */
  state: () => BerthHealth['state'];
  onHandoffProbe: (value: string) => boolean;
}

/**
 * Builds the web app generations a host serves: one per start, restart and
 * move. The UI build is read once for all of them. The next restart's
 * generation is built ahead, as soon as the last one serves: building a
 * Fastify app takes milliseconds of CPU that would otherwise land right on
 * the restart.
 */
export class Generations {
  private readonly ui: UiFiles;
  private standby: { host: string; app: Promise<WebApp> } | null = null;
  private epoch = 0;

  constructor(private readonly opts: GenerationOptions) {
    this.ui = new UiFiles(opts.rendererDir);
  }

  /** A new generation for a listener on `host` (the Host-header allowlist depends on it), ready to answer. */
  async build(host: string): Promise<WebApp> {
    const s = this.standby;
    this.standby = null;
    if (s && s.host === host) return s.app;
    if (s) void s.app.then((a) => a.app.close()).catch(() => undefined);
    return this.fresh(host);
  }

  private async fresh(host: string): Promise<WebApp> {
    const o = this.opts;
    const web = createWebApp({
      identity: o.identity,
      state: o.state,
      configuredHost: () => host,
      token: o.token,
      ui: this.ui,
      log: o.logs.root.child({ scope: 'http' }),
      routes: o.routes,
      site: o.site,
      onHandoffProbe: o.onHandoffProbe,
    });
    await web.app.ready();
    return web;
  }

  /**
   * Build the next one ahead, starting now: a build yields to the event loop
   * between its parts (createWebApp, a hosted app's site), so it never holds
   * up requests for long, and a restart that comes before it is done waits
   * for this one instead of building another.
   */
  prepare(host: string): void {
    const epoch = this.epoch;
    setImmediate(() => {
      // Dropped since (stopped, moved, routes added): nothing to build ahead for.
      if (this.standby || epoch !== this.epoch) return;
      this.standby = { host, app: this.fresh(host) };
      this.standby.app.catch(() => (this.standby = null));
    });
  }

  /** Routes changed, or nothing more will be built: a prepared generation is out of date. */
  drop(): void {
    this.epoch++;
    const s = this.standby;
    this.standby = null;
    if (s) void s.app.then((a) => a.app.close()).catch(() => undefined);
  }
}

/** Retire a generation that no longer receives requests: end its event streams, let what it took finish (bounded), close it. */
export async function retire(app: WebApp, deadlineMs: number): Promise<void> {
  app.retire();
  await within(app.idle(), deadlineMs, () => undefined);
  await app.app.close().catch(() => undefined);
}
