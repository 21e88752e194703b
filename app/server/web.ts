import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { BerthError } from '../errors';
import type { Logger } from '../log';
import type { BerthHealth } from '../instance/verdict';
import { HANDOFF_HEADER } from '../instance/probe';
import { UiFiles, type UiFile } from './ui-files';
import { bearerToken, cookieName, cookieSignIn, refusalOf, sameOriginLocation, siteOf, tokenMatches } from './security';
import { RefusalLog, closeAfterAnswer, continueIfAsked } from './refusal';
import { redeemTicket } from './sign-in';
import { descriptors } from './descriptors';

export interface RouteContext {
  /**
   * For anything that reads private state or changes it. Routes name it as
   * their preHandler, and the server runs it earlier, as the route's first
   * onRequest hook: the token is checked before the body is read or parsed.
   */
  requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Register a long-lived response (an event stream) to be ended when the server drains. */
  onDrain: (fn: () => void) => void;
  /** Whether a request carries the token (the sign-in cookie or a Bearer header), for routes that answer both ways. */
  signedIn: (req: FastifyRequest) => boolean;
  log: Logger;
}

/**
 * A hosted app's part of one generation (app/hosting): its routes, its UI
 * or the proxy to its child, registered at the root. With one, the app owns
 * `/` and every path Berth does not answer itself, and Berth's console moves
 * to CONSOLE_PATH.
 */
export interface HostedSite {
  register(app: FastifyInstance, ctx: RouteContext): Promise<void>;
}

/** Where Berth's console is when a hosted app owns `/`. */
export const CONSOLE_PATH = '/berth/';

/**
 * A group of routes registered under /api: Berth's own (app/routes.ts), or
 * those createBerth is given. A hosted app's routes come through the public
 * API (app/hosting) and are registered at the root instead.
 */
export type ApiRoutes = (api: FastifyInstance, ctx: RouteContext) => void;

/** Answer first, act once the answer has left: the caller hears "accepted" before the act (a stop, a handover, a child's restart) begins. */
export function afterResponse(res: ServerResponse, fn: () => Promise<unknown>, log: { error: (o: object, m: string) => void }): void {
  res.once('finish', () => setImmediate(() => fn().catch((err) => log.error({ err }, 'action failed'))));
}

export interface WebAppOptions {
  identity: () => Omit<BerthHealth, 'state' | 'app'>;
  /** What /health says: 'draining' once the listener this app answers on is on its way out. */
  state: () => BerthHealth['state'];
  configuredHost: () => string;
  token: string;
  /** The built web UI; one table shared by every server generation of a host, read once. */
  ui: UiFiles;
  log: Logger;
  routes: ApiRoutes[];
  site?: HostedSite;
  /**
   * A successor's handoff probe: /health carrying X-Berth-Handoff. The host
   * decides whether the proof in it is good (true) or not (false, counted
   * with the refusals); the probe is answered either way.
   */
  onHandoffProbe?: (value: string) => boolean;
}

/**
 * One generation of Berth's web app: routes, settings and UI files as they
 * were when it was built. It owns no socket: a Listener hands it requests, so
 * an in-place restart swaps generations under an open port.
 */
export interface WebApp {
  app: FastifyInstance;
  /** Answer one request (the Listener calls this). */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** A request to switch protocols (WebSocket): to whatever in this generation listens for upgrades, or the socket is closed. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Requests this generation has not finished yet, event streams included. */
  readonly inFlight: number;
  /** Tell this generation's long-lived responses (event streams) to end: a newer one, or nobody, answers from now on. */
  retire(): void;
  /** Resolves once every request this generation took has finished. */
  idle(): Promise<void>;
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const UNAUTHORIZED_MESSAGE =
  'This tab is not signed in to Berth. Open Berth from its tray menu ("Open in browser") or run `berth open`.';

const BODY_LIMIT = 1024 * 1024;

/** One file of a built UI, with the encoding the request accepts and the caching its name allows. */
export function sendUiFile(req: FastifyRequest, reply: FastifyReply, file: UiFile, csp: string = CSP): FastifyReply {
  const { body, encoding } = UiFiles.body(file, req.headers['accept-encoding']);
  // Caches must keep one copy per encoding.
  if (Object.keys(file.encoded).length) reply.header('Vary', 'Accept-Encoding');
  if (encoding) reply.header('Content-Encoding', encoding);
  return reply
    .header('Content-Security-Policy', csp)
    .header('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .type(file.type)
    .send(body);
}

/**
 * A built UI at `/`: its files by exact path, and index.html for every other
 * page a browser asks for (client-side routes, deep links).
 */
export function serveUi(app: FastifyInstance, ui: UiFiles, csp: string, notBuilt: string): void {
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (req, reply) => {
      const pathname = req.url.split('?', 1)[0]!;
      const file = ui.get(pathname);
      if (file) return sendUiFile(req, reply, file, csp);
      const index = ui.get('/');
      if (index && (req.headers.accept ?? '').includes('text/html') && !pathname.startsWith('/api/')) return sendUiFile(req, reply, index, csp);
      return reply.code(404).send({ error: 'not-found', message: index ? `Nothing at ${pathname}` : notBuilt });
    },
  });
}

export function createWebApp(opts: WebAppOptions): WebApp {
  let retired = false;
  const drainHooks = new Set<() => void>();
  let handler: http.RequestListener | null = null;
  let server: http.Server | null = null;
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const app = Fastify({
    logger: false,
    // The Listener owns the socket and its timeouts; Fastify only routes. The server it is given never listens.
    serverFactory: (h) => {
      handler = h;
      server = http.createServer();
      return server;
    },
    // A retired generation still answers what it took (in-flight requests) normally instead of with 503s.
    return503OnClosing: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true },
  });

  const refusals = new RefusalLog(opts.log);
  /** Answer from the headers alone and close: the body is never read (refusal.ts). */
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, kind: string, payload: unknown) => {
    refusals.note(`${status} (${kind})`);
    closeAfterAnswer(req.raw, reply.raw);
    return reply.code(status).send(payload);
  };

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    const refusal = refusalOf({ method: req.method, url: req.raw.url ?? '/', rawHeaders: req.raw.rawHeaders, origin: req.headers.origin }, opts.configuredHost());
    if (refusal) {
      const kind = refusal.status === 421 ? 'a Host that is not Berth’s' : 'malformed Host, target or Origin';
      return refuse(req, reply, refusal.status, kind, refusal.status === 421 ? { error: 'misdirected', message: refusal.message } : { error: 'bad-request', message: refusal.message });
    }
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && siteOf(req.headers as never) === 'cross-site') {
      return refuse(req, reply, 403, 'cross-site', { error: 'cross-site', message: 'Cross-site requests may not change Berth.' });
    }
    // Signed in under another Berth cookie name only (this Berth moved here, or an older Berth set it): set this
    // port's own, so another Berth later signing in on the old port, which overwrites that name, signs nobody out here.
    if (cookieVerdict(req) === 'other') signIn(req, reply);
  });
  // The port this request reached: the sign-in cookie's name carries it (security.ts, cookieName).
  const portOf = (req: FastifyRequest) => req.socket.localPort ?? 0;
  const cookieVerdict = (req: FastifyRequest) => cookieSignIn(req.headers.cookie, portOf(req), opts.token);
  // A bearer token, when sent, is the whole answer; otherwise the cookie's.
  const signedIn = (req: FastifyRequest) => {
    const bearer = bearerToken(req.headers.authorization);
    return bearer !== undefined ? tokenMatches(bearer, opts.token) : cookieVerdict(req) !== null;
  };
  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!signedIn(req)) {
      reply.header('WWW-Authenticate', 'Bearer realm="berth"');
      return refuse(req, reply, 401, 'no valid token', { error: 'unauthorized', message: UNAUTHORIZED_MESSAGE });
    }
  };
  // A stream opened on a server already draining (over a kept-alive connection) hears of it at once.
  const onDrain = (fn: () => void) => (retired || opts.state() === 'draining' ? queueMicrotask(fn) : drainHooks.add(fn));
  const ctx: RouteContext = { requireToken, onDrain, signedIn, log: opts.log };
  // Every other check passed (the token's too). A body larger than the route takes is refused from its declared
  // length, before a byte of it is read; otherwise a client waiting for 100 Continue may now send it.
  app.addHook('preParsing', async (req, reply, payload) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const limit = req.routeOptions.bodyLimit ?? BODY_LIMIT;
    if (declared > limit) {
      refuse(req, reply, 413, 'body too large', { error: 'too-large', message: `The request body (${declared} bytes) is larger than this endpoint takes (${limit} bytes).` });
      return payload;
    }
    continueIfAsked(reply.raw);
    return payload;
  });
  // Answered while the body is still arriving (an error, a route that takes none): close rather than read it all.
  app.addHook('onSend', async (req, reply, payload) => {
    if (!req.raw.complete) closeAfterAnswer(req.raw, reply.raw);
    return payload;
  });
  // Sign-in before work: wherever a route asks for requireToken, it runs in the first hook that sees the
  // request (onRequest, after the Host and cross-site checks), so a request without the token is answered
  // 401 before its body is read, let alone parsed.
  app.addHook('onRoute', (route) => {
    const pre = [route.preHandler ?? []].flat();
    if (!pre.includes(requireToken)) return;
    const rest = pre.filter((h) => h !== requireToken);
    route.preHandler = rest.length ? rest : undefined;
    route.onRequest = [requireToken, ...[route.onRequest ?? []].flat()];
  });

  // The one sign-in cookie, set from ?ticket=, ?token= and the signed-out page's token field.
  const signIn = (req: FastifyRequest, reply: FastifyReply) =>
    reply.header('Set-Cookie', `${cookieName(portOf(req))}=${encodeURIComponent(opts.token)}; Path=/; HttpOnly; SameSite=Strict`);

  app.get('/health', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    const handoff = req.headers[HANDOFF_HEADER.toLowerCase()];
    if (opts.onHandoffProbe && typeof handoff === 'string') {
      const notify = opts.onHandoffProbe;
      reply.raw.once('finish', () => {
        if (!notify(handoff)) refusals.note('a handoff probe without a valid proof');
      });
    }
    const short = descriptors.health();
    return { app: 'berth', ...opts.identity(), state: opts.state(), ...(short ? { descriptors: short } : {}) } satisfies BerthHealth;
  });
  // /health only answers; anything sent to it is refused from its headers.
  app.route({
    method: ['POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/health',
    onRequest: async (req, reply) => {
      reply.header('Allow', 'GET, HEAD');
      return refuse(req, reply, 405, 'not GET /health', { error: 'method-not-allowed', message: '/health only answers GET and HEAD.' });
    },
    handler: async () => undefined,
  });

  app.register(
    async (api) => {
      api.addHook('onRequest', async (_req, reply) => {
        reply.header('Cache-Control', 'no-store');
      });
      api.get('/session', async (req) => {
        return { authenticated: signedIn(req), message: UNAUTHORIZED_MESSAGE };
      });
      // The signed-out page's token field (as Jupyter's): the same cookie ?token= sets. Cross-site posts are refused above.
      api.post('/session', async (req, reply) => {
        const given = (req.body as { token?: unknown } | null)?.token;
        if (typeof given !== 'string' || !tokenMatches(given.trim(), opts.token)) {
          return reply.code(403).send({ error: 'wrong-token', message: 'That is not this Berth’s token.' });
        }
        signIn(req, reply);
        return { authenticated: true, message: '' };
      });
      // A turn of the event loop between groups: building the next generation never holds up requests for long.
      for (const routes of opts.routes) {
        await yieldToLoop();
        routes(api, ctx);
      }
      api.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: 'not-found', message: `No API route ${req.method} ${req.url}` }));
    },
    { prefix: '/api' },
  );

  // ?ticket= (berth open, the tray: app/server/sign-in.ts) and ?token= sign a tab in once: the cookie is set and
  // the address bar loses them. A ticket used or expired lands on the signed-out page, which says so.
  app.addHook('preHandler', async (req, reply) => {
    const q = req.query as Record<string, unknown> | undefined;
    const ticket = typeof q?.ticket === 'string' ? q.ticket : null;
    const token = typeof q?.token === 'string' ? q.token : null;
    if (req.method !== 'GET' || (ticket === null && token === null) || req.url.startsWith('/api/')) return;
    const url = new URL(req.url, 'http://berth.local');
    url.searchParams.delete('token');
    url.searchParams.delete('ticket');
    const verdict = ticket !== null ? redeemTicket(ticket, opts.token) : tokenMatches(token!, opts.token) ? 'ok' : 'invalid';
    if (verdict === 'ok') signIn(req, reply);
    else url.searchParams.set('signin', verdict === 'invalid' ? 'rejected' : 'expired');
    return reply.code(303).header('Location', sameOriginLocation(url.pathname, url.search)).send();
  });

  const ui = opts.ui;
  const sendUi = (req: FastifyRequest, reply: FastifyReply, file: UiFile) => sendUiFile(req, reply, file, CSP);
  const consoleIndex = (req: FastifyRequest, reply: FastifyReply) => {
    const index = ui.get('/');
    return index ? sendUi(req, reply, index) : reply.code(404).send({ error: 'not-found', message: 'The web UI is not built; run `npm run build`.' });
  };
  if (opts.site) {
    // The hosted app owns `/`; the console is at CONSOLE_PATH, and its files keep their own (hashed) paths.
    for (const url of [CONSOLE_PATH, `${CONSOLE_PATH}*`]) app.route({ method: ['GET', 'HEAD'], url, handler: async (req, reply) => consoleIndex(req, reply) });
    for (const p of ui.paths()) {
      if (p !== '/index.html') app.route({ method: ['GET', 'HEAD'], url: p, handler: async (req, reply) => sendUi(req, reply, ui.get(p)!) });
    }
    const site = opts.site;
    app.register(async (scope) => site.register(scope, ctx));
  } else {
    serveUi(app, ui, CSP, 'The web UI is not built; run `npm run build`.');
  }
  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    // Berth's own errors are written for people (a save that failed says which file and why): pass them on.
    if (err instanceof BerthError) {
      const status = Number(err.details.httpStatus) || 500;
      if (status >= 500) opts.log.error(err.message);
      return reply.code(status).send({ error: String(err.details.error ?? 'error'), message: err.message, ...(err.details.file ? { file: err.details.file } : {}) });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) opts.log.error({ err }, 'request failed');
    return reply.code(status).send({ error: err.code ?? 'error', message: status >= 500 ? 'Internal error; see the log.' : err.message });
  });

  const finished = () => {
    inFlight--;
    if (inFlight === 0) {
      const w = waiters;
      waiters = [];
      for (const fn of w) fn();
    }
  };
  return {
    app,
    handle(req, res) {
      inFlight++;
      res.once('close', finished);
      handler!(req, res);
    },
    upgrade(req, socket, head) {
      if (server && server.listenerCount('upgrade') > 0) server.emit('upgrade', req, socket, head);
      else socket.destroy();
    },
    get inFlight() {
      return inFlight;
    },
    retire() {
      if (retired) return;
      retired = true;
      refusals.close();
      for (const fn of drainHooks) {
        try {
          fn();
        } catch (err) {
          opts.log.warn({ err }, 'drain hook failed');
        }
      }
    },
    idle() {
      return inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r));
    },
  };
}
