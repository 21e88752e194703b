/**
 * A hosted app in one process: its state (made once, carried to the next
 * process), its child server if it has one, its settings, and its part of
 * each generation (`site()`, registered by web.ts at the root).
 */
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import { BerthError, ExitCode } from '../errors';
import { readOwnFile } from '../files/read';
import { writeFileAtomic } from '../files/write';
import type { Logger } from '../log';
import { siteOf } from '../server/security';
import { UiFiles } from '../server/ui-files';
import { CONSOLE_PATH, serveUi, type HostedSite, type RouteContext } from '../server/web';
import { readValues, validateValues, type FieldError } from '../settings/fields';
import { loadSettings, saveSettings } from '../settings/settings';
import { ChildServer, type ChildStatus } from './child';
import type { AppContext, HostedApp } from './definition';
import { childDispatcher, registerChildProxy } from './proxy';
import { WriteGate, type Successor } from './write-gate';

/** What the Status page, the tray and /api/app say about the hosted app. */
export interface HostedStatus {
  id: string;
  name: string;
  version: string;
  kind: 'in-process' | 'child';
  /** `ready` in process; the child's state otherwise. */
  state: ChildStatus['state'];
  generation: number;
  child: ChildStatus | null;
}

export const APP_SETTINGS_FILE = 'app-settings.json';
const CARRY_PREFIX = 'carried-';
/** How long a relaunch waits for the app's requests that are running to answer before its state is carried. */
const WRITES_BOUND_MS = 15_000;

/** The app's own UI: scripts and styles from its files only, like the console. */
const APP_CSP = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"].join('; ');

export class HostedRuntime {
  private state: unknown = undefined;
  readonly child: ChildServer | null;
  private dispatcher: Dispatcher | null = null;
  private generation = 0;
  private readonly ui: UiFiles | null;
  private readonly log: Logger;
  private disposed = false;
  private readonly writes: WriteGate;

  constructor(
    readonly app: HostedApp,
    private readonly o: { dataDir: string; logs: { root: Logger }; token: string },
  ) {
    this.log = o.logs.root.child({ scope: 'app' });
    this.writes = new WriteGate(this.log);
    this.ui = app.ui ? new UiFiles(app.ui) : null;
    this.child = app.server ? new ChildServer(app.server, { dataDir: o.dataDir, log: this.log, name: app.name }) : null;
  }

  /** Make the state (from what the previous process carried, if it did) before the first generation is built. */
  async prepare(carriedFrom: string | null): Promise<void> {
    await this.child?.prepare();
    // The app's port is its default: written once, so the Settings page shows (and keeps) the port it serves on.
    const saved = loadSettings(this.o.dataDir);
    if (this.app.port && !saved.present.includes('port')) saveSettings(this.o.dataDir, { ...saved.settings, port: this.app.port });
    const carried = carriedFrom ? takeCarried(this.o.dataDir, carriedFrom, this.log) : undefined;
    if (this.app.state) this.state = await this.app.state.create({ dataDir: this.o.dataDir, log: this.log, carried, settings: () => this.settings() });
  }

  /** Start the child server, if there is one; requests wait for it meanwhile. */
  async start(): Promise<void> {
    if (!this.child) return;
    await this.child.start();
  }

  /**
   * The old process, just before its successor starts: the app takes no more
   * writes here (write-gate.ts), then what `carry` returns is written where
   * the successor looks.
   */
  async carry(instance: string): Promise<void> {
    await this.writes.close(WRITES_BOUND_MS);
    if (!this.app.state?.carry) return;
    const value = this.app.state.carry(this.state as never);
    if (value === undefined) return;
    writeFileAtomic(path.join(this.o.dataDir, `${CARRY_PREFIX}${instance}.json`), JSON.stringify(value), 0o600, { durable: false });
  }

  /**
   * The relaunch is over: the successor serves (the app's requests here go on to it), or not (they run here: the
   * relaunch failed, or the successor starts once this process exits and reads the app's files then).
   */
  handedOver(to: Successor | null): void {
    if (to) this.writes.handOn(to);
    else this.writes.reopen();
  }

  /** This process stops serving (stop, or the successor serves): stop the child, then dispose of the state. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.child?.stop().catch((err: Error) => this.log.error(`${this.app.name} did not stop cleanly: ${err.message}`));
    await this.dispatcher?.close().catch(() => undefined);
    await Promise.resolve(this.app.state?.dispose?.(this.state as never)).catch((err: Error) => this.log.error(`the app's state could not be disposed of: ${err.message}`));
  }

  status(): HostedStatus {
    const child = this.child?.status() ?? null;
    return { id: this.app.id, name: this.app.name, version: this.app.version, kind: this.child ? 'child' : 'in-process', state: child?.state ?? 'ready', generation: this.generation, child };
  }

  settings(): Record<string, unknown> {
    return readValues(this.app.settings ?? [], readAppSettings(this.o.dataDir));
  }

  /** Check and save a whole or partial set of the app's settings: the saved values, or every problem at its field. */
  saveSettings(input: unknown): { value: Record<string, unknown>; errors: FieldError[] } {
    const { value, errors } = validateValues(this.app.settings ?? [], input, this.settings());
    if (!errors.length) writeFileAtomic(path.join(this.o.dataDir, APP_SETTINGS_FILE), JSON.stringify(value, null, 2) + '\n');
    return { value, errors };
  }

  /** The app's part of one generation. */
  site(): HostedSite {
    return {
      register: async (scope, ctx) => {
        const generation = ++this.generation;
        // Each part is a turn of the event loop of its own: a restart's build never blocks requests for long.
        await yieldToLoop();
        if (this.ui) serveUi(scope, this.ui, APP_CSP, `${this.app.name}'s UI has no index.html in ${this.app.ui}.`);
        if (this.app.routes) {
          const routes = this.app.routes;
          const appCtx = this.contextFor(ctx, generation);
          await scope.register(async (appScope) => {
            await yieldToLoop();
            appScope.addHook('onRequest', this.writes.hook);
            await routes(appScope, appCtx as AppContext<never>);
          });
        }
        if (this.child) {
          await yieldToLoop();
          this.dispatcher ??= childDispatcher(this.child);
          await registerChildProxy(scope, { child: this.child, dispatcher: this.dispatcher, name: this.app.name, token: this.o.token, signedIn: ctx.signedIn, signInPath: CONSOLE_PATH, log: this.log });
        }
      },
    };
  }

  private contextFor(ctx: RouteContext, generation: number): AppContext<unknown> {
    return {
      state: this.state,
      dataDir: this.o.dataDir,
      log: this.log,
      settings: () => this.settings(),
      requireToken: ctx.requireToken,
      refuseCrossSite,
      onRetire: ctx.onDrain,
      generation,
    };
  }
}

async function refuseCrossSite(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && siteOf(req.headers as never) === 'cross-site') {
    await reply.code(403).send({ error: 'cross-site', message: 'Cross-site requests may not change this app.' });
  }
}

function readAppSettings(dataDir: string): unknown {
  const read = readOwnFile(path.join(dataDir, APP_SETTINGS_FILE), { maxBytes: 1024 * 1024 });
  if (read.state === 'refused') throw new BerthError(read.problem.message, ExitCode.usage);
  if (read.state !== 'read') return {};
  try {
    return JSON.parse(read.text);
  } catch {
    return {};
  }
}

/** What the predecessor carried for us, read once and removed (with any left by relaunches that failed). */
function takeCarried(dataDir: string, instance: string, log: Logger): unknown {
  const file = path.join(dataDir, `${CARRY_PREFIX}${instance}.json`);
  let carried: unknown;
  const read = readOwnFile(file, { maxBytes: 16 * 1024 * 1024 });
  if (read.state === 'read') {
    try {
      carried = JSON.parse(read.text);
    } catch {
      log.warn(`${file} is not JSON; the app starts without what its previous process carried`);
    }
  }
  for (const name of safeList(dataDir)) if (name.startsWith(CARRY_PREFIX) && name.endsWith('.json')) fs.rmSync(path.join(dataDir, name), { force: true });
  return carried;
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
