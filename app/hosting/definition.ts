/**
 * What an app hosted by Berth says about itself: the one value an app author
 * writes (docs/HOSTING.md). Berth derives the rest from it: the data folder,
 * the desktop shell's names and icons, electron-builder's configuration.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BerthError, ExitCode } from '../errors';
import { checkFields, type SettingsField } from '../settings/fields';

export type { SettingsField } from '../settings/fields';

/** A route guard, used as a Fastify `preHandler` (or `onRequest`). */
export type Guard = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** The logger an app gets: pino's, scoped to the app, into Berth's log. */
export interface AppLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What the app's routes get, once per generation. */
export interface AppContext<S = undefined> {
  /** The app's state, made once per process by `state.create` (undefined without a state hook). */
  state: S;
  /** The data folder (settings, token and logs are here too): keep the app's files in it. */
  dataDir: string;
  log: AppLogger;
  /** The app's settings as saved now (the fields in `settings`, each with its value or default). */
  settings(): Record<string, unknown>;
  /**
   * Sign-in: put it on every route that reads private data or changes
   * anything (`{ preHandler: ctx.requireToken }`). It runs before the body is
   * read, and answers 401 without the token (the tab's cookie, or a Bearer header).
   */
  requireToken: Guard;
  /**
   * The CSRF guard: refuses a state-changing request sent by a page of
   * another site. Berth already runs it on every route, yours included; it is
   * here for code that answers requests outside Fastify's routes.
   */
  refuseCrossSite: Guard;
  /** Called when this generation stops receiving requests: end long-lived responses (event streams) here. */
  onRetire(fn: () => void): void;
  /** 1 for the first generation of this process, then one more per in-place restart. */
  generation: number;
}

/** The app's routes: a Fastify plugin, registered at the root for each generation. */
export type AppRoutes<S = undefined> = (app: FastifyInstance, ctx: AppContext<S>) => void | Promise<void>;

/**
 * State that outlives a generation: the hook that carries it across in-place
 * restarts and relaunches. `create` runs once per process, before the first
 * generation; every generation's routes get the same value (`ctx.state`). On
 * a relaunch or an update, `carry` runs in the old process just before the
 * new one starts, and what it returns (JSON) is `carried` in the new
 * process's `create`. From just before `carry` until the new process serves,
 * the old one holds the app's requests other than GET, HEAD and OPTIONS, then
 * passes them on to the new one (write-gate.ts): one writer at a time.
 * `dispose` runs when the process stops serving.
 */
export interface AppState<S> {
  create(ctx: { dataDir: string; log: AppLogger; carried: unknown; settings(): Record<string, unknown> }): S | Promise<S>;
  carry?(state: S): unknown;
  dispose?(state: S): void | Promise<void>;
}

/** A web server in any language that Berth starts, and proxies to, behind its own port. */
export interface ChildServerDefinition {
  /** The program, e.g. `python3`. */
  command: string;
  /**
   * Its arguments. `{socket}`, `{host}`, `{port}` and `{dataDir}` are
   * replaced by this launch's values (for servers that take them as flags);
   * the secret never is, because every local user can read a command line.
   */
  args?: string[];
  /** Its working folder (default: Berth's). */
  cwd?: string;
  env?: Record<string, string>;
  /**
   * How it listens. `unix` (the default on Linux and macOS): on the socket
   * in BERTH_APP_SOCKET, in a private folder of the data folder. `tcp` (the
   * default on Windows): on BERTH_APP_HOST:BERTH_APP_PORT, refusing every
   * request whose `X-Berth-App-Secret` header is not BERTH_APP_SECRET.
   */
  listen?: 'unix' | 'tcp';
  /** A path it answers once it is ready (default `/`); any status below 500 counts. */
  readyPath?: string;
  /** How long a start may take (default 30 s). */
  startTimeoutMs?: number;
  /** How long it gets to stop after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  /** How long a request waits while it (re)starts before a 503 (default 15 s). */
  holdMs?: number;
}

/** A page of the app in Berth's console: an ES module from the app's UI that exports `render(ctx)` (docs/HOSTING.md). */
export interface ConsolePage {
  id: string;
  title: string;
  /** The module's path on this server, e.g. `/console/stats.js` (a file of `ui`). */
  module: string;
}

export interface AppIcons {
  /** A square PNG, 512x512 or larger: the window, Linux and the base for the others. */
  png: string;
  /** Windows (.ico); derived by electron-builder from `png` when absent. */
  ico?: string;
  /** macOS (.icns); derived by electron-builder from `png` when absent. */
  icns?: string;
}

export interface AppDefinition<S = undefined> {
  /** Reverse-DNS id, e.g. `org.example.notes`: electron-builder's appId and Windows' AppUserModelID. */
  id: string;
  /** The name people see: window, tray, installer, data folder. */
  name: string;
  version: string;
  /** One line about the app, for installers and package managers. */
  description?: string;
  /** The port it serves on unless settings say otherwise (default 8787). */
  port?: number;
  icons?: AppIcons;
  /** Where the app's updates are published (electron-builder's generic provider); absent: it never looks. */
  updates?: { url: string };
  /** The built web UI (a folder of files, index.html at its root), served at `/`. */
  ui?: string;
  /** The app's routes (in process). */
  routes?: AppRoutes<S>;
  state?: AppState<S>;
  /** Or a web server in any language, started and proxied to; it answers everything Berth does not. */
  server?: ChildServerDefinition;
  consolePages?: ConsolePage[];
  /** Settings of the app: the console's Settings page shows them, the server checks them, they are saved in settings.json under `app`. */
  settings?: SettingsField[];
}

/** An app as Berth hosts it: a checked definition (whatever its state's type: Berth only hands the state back to the app). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HostedApp<S = any> = Readonly<AppDefinition<S>> & { readonly __checked: true };

const ID = /^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$/i;
const RESERVED_PAGES = new Set(['status', 'update', 'settings', 'logs', 'app']);

/** Check an app's definition once, at start, with one message per problem. */
export function defineApp<S = undefined>(def: AppDefinition<S>): HostedApp<S> {
  const problems: string[] = [];
  if (typeof def.id !== 'string' || !ID.test(def.id)) problems.push(`id must be reverse-DNS such as org.example.notes, not ${JSON.stringify(def.id)}`);
  if (typeof def.name !== 'string' || !def.name.trim() || /[/\\:*?"<>|]/.test(def.name)) problems.push('name must be a plain name (it names the data folder too)');
  if (typeof def.version !== 'string' || !/^\d+\.\d+\.\d+/.test(def.version)) problems.push('version must be semver, such as 1.0.0');
  if (def.port !== undefined && (!Number.isInteger(def.port) || def.port < 1 || def.port > 65535)) problems.push('port must be between 1 and 65535');
  if (def.server && def.ui) problems.push('an app with a child server serves its UI from that server: give `ui` or `server`, not both');
  if (def.server && (typeof def.server.command !== 'string' || !def.server.command)) problems.push('server.command must name a program');
  if (def.updates && !/^https?:\/\//.test(def.updates.url)) problems.push('updates.url must be an http(s) URL');
  for (const p of def.consolePages ?? []) {
    if (!/^[a-z][a-z0-9-]*$/.test(p.id) || RESERVED_PAGES.has(p.id)) problems.push(`console page id ${JSON.stringify(p.id)} must be lower-case words and not one of Berth's own (${[...RESERVED_PAGES].join(', ')})`);
    if (!p.module.startsWith('/') || p.module.startsWith('//')) problems.push(`console page ${p.id}: module must be a path on this server, such as /console/${p.id}.js`);
  }
  problems.push(...checkFields(def.settings ?? []));
  if (problems.length) throw new BerthError(`The app definition of ${JSON.stringify(def.name ?? def.id)} has problems: ${problems.join('; ')}.`, ExitCode.usage);
  return Object.freeze({ ...def, __checked: true as const }) as HostedApp<S>;
}
