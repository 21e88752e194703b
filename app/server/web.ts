import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../log';
import type { BerthHealth } from '../instance/verdict';
import { HANDOFF_HEADER } from '../instance/probe';
import { UiFiles, type UiFile } from './ui-files';
import { COOKIE_NAME, bearerToken, cookieValue, isAllowedHost, sameOriginLocation, siteOf, tokenMatches } from './security';

export interface RouteContext {
  /** preHandler for anything that reads private state or changes it. */
  requireToken: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Register a long-lived response (an event stream) to be ended when the server drains. */
  onDrain: (fn: () => void) => void;
  log: Logger;
}

/**
 * A group of routes registered under /api. This is where a web UI built on
 * Berth adds its own endpoints (README: "Bring your own web UI").
 */
export type ApiRoutes = (api: FastifyInstance, ctx: RouteContext) => void;

export interface WebServerOptions {
  identity: () => Omit<BerthHealth, 'state' | 'app'>;
  configuredHost: () => string;
  token: string;
  /** The built web UI; one table shared by every server generation of a host, read once. */
  ui: UiFiles;
  log: Logger;
  routes: ApiRoutes[];
  /** A successor probed /health naming this instance as the one it replaces. */
  onHandoffProbe?: () => void;
}

export interface WebServer {
  app: FastifyInstance;
  readonly draining: boolean;
  /** Health says draining, new responses carry Connection: close, event streams end. */
  setDraining(): void;
  /** Destroy every remaining connection (the drain deadline). */
  destroyConnections(): void;
  /** Open TCP connections, idle or busy. */
  connectionCount(): number;
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

/** Timeouts that stop a slow or malformed client from pinning the server. */
const HTTP_LIMITS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  connectionTimeout: 120_000,
  maxHeaderSize: 16 * 1024,
  bodyLimit: 1024 * 1024,
};

export function createWebServer(opts: WebServerOptions): WebServer {
  let draining = false;
  const drainHooks = new Set<() => void>();
  const sockets = new Set<Socket>();
  const app = Fastify({
    logger: false,
    // Draining answers in-flight and keep-alive requests normally (with Connection: close) instead of 503s,
    // so /health keeps telling a successor that we are on our way out.
    return503OnClosing: false,
    bodyLimit: HTTP_LIMITS.bodyLimit,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeout,
    requestTimeout: HTTP_LIMITS.requestTimeout,
    connectionTimeout: HTTP_LIMITS.connectionTimeout,
    http: {
      headersTimeout: HTTP_LIMITS.headersTimeout,
      maxHeaderSize: HTTP_LIMITS.maxHeaderSize,
      // Node checks header/request timeouts on this interval (default 30 s): a slowloris client lingers that long.
      connectionsCheckingInterval: 1_000,
    } as never,
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cross-Origin-Resource-Policy', 'same-origin');
    if (!isAllowedHost(req.headers.host, opts.configuredHost())) {
      return reply.code(421).type('text/plain').send('Misdirected request: Berth answers only to its own address (Host header refused).\n');
    }
    if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && siteOf(req.headers as never) === 'cross-site') {
      return reply.code(403).send({ error: 'cross-site', message: 'Cross-site requests may not change Berth.' });
    }
  });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('Connection', 'close');
  });

  const requireToken = async (req: FastifyRequest, reply: FastifyReply) => {
    const given = bearerToken(req.headers.authorization) ?? cookieValue(req.headers.cookie);
    if (!tokenMatches(given, opts.token)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="berth"').send({ error: 'unauthorized', message: UNAUTHORIZED_MESSAGE });
    }
  };

  // The one sign-in cookie, set from ?token= and from the signed-out page's token field.
  const signIn = (reply: FastifyReply) => reply.header('Set-Cookie', `${COOKIE_NAME}=${encodeURIComponent(opts.token)}; Path=/; HttpOnly; SameSite=Strict`);

  app.get('/health', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (opts.onHandoffProbe && req.headers[HANDOFF_HEADER.toLowerCase()] === opts.identity().instance) {
      const notify = opts.onHandoffProbe;
      reply.raw.once('finish', () => notify());
    }
    return { app: 'berth', ...opts.identity(), state: draining ? 'draining' : 'serving' } satisfies BerthHealth;
  });

  app.register(
    async (api) => {
      api.addHook('onRequest', async (_req, reply) => {
        reply.header('Cache-Control', 'no-store');
      });
      api.get('/session', async (req) => {
        const given = bearerToken(req.headers.authorization) ?? cookieValue(req.headers.cookie);
        return { authenticated: tokenMatches(given, opts.token), message: UNAUTHORIZED_MESSAGE };
      });
      // The signed-out page's token field (as Jupyter's): the same cookie ?token= sets. Cross-site posts are refused above.
      api.post('/session', async (req, reply) => {
        const given = (req.body as { token?: unknown } | null)?.token;
        if (typeof given !== 'string' || !tokenMatches(given.trim(), opts.token)) {
          return reply.code(403).send({ error: 'wrong-token', message: 'That is not this Berth’s token.' });
        }
        signIn(reply);
        return { authenticated: true, message: '' };
      });
      // A stream opened on a server already draining (over a kept-alive connection) hears of it at once.
      const onDrain = (fn: () => void) => (draining ? queueMicrotask(fn) : drainHooks.add(fn));
      const ctx: RouteContext = { requireToken, onDrain, log: opts.log };
      for (const routes of opts.routes) routes(api, ctx);
      api.setNotFoundHandler(async (req, reply) => reply.code(404).send({ error: 'not-found', message: `No API route ${req.method} ${req.url}` }));
    },
    { prefix: '/api' },
  );

  // ?token= signs a tab in once: the token becomes an HttpOnly cookie and leaves the address bar.
  app.addHook('preHandler', async (req, reply) => {
    const q = req.query as Record<string, unknown> | undefined;
    if (req.method !== 'GET' || typeof q?.token !== 'string' || req.url.startsWith('/api/')) return;
    const url = new URL(req.url, 'http://berth.local');
    url.searchParams.delete('token');
    // A wrong token lands on the signed-out page, which says so (?signin=rejected).
    if (tokenMatches(q.token, opts.token)) signIn(reply);
    else url.searchParams.set('signin', 'rejected');
    return reply.code(303).header('Location', sameOriginLocation(url.pathname, url.search)).send();
  });

  const ui = opts.ui;
  const sendUi = (req: FastifyRequest, reply: FastifyReply, file: UiFile) => {
    const { body, encoding } = UiFiles.body(file, req.headers['accept-encoding']);
    // Caches must keep one copy per encoding.
    if (Object.keys(file.encoded).length) reply.header('Vary', 'Accept-Encoding');
    if (encoding) reply.header('Content-Encoding', encoding);
    return reply
      .header('Content-Security-Policy', CSP)
      .header('Cache-Control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(file.type)
      .send(body);
  };
  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    handler: async (req, reply) => {
      const pathname = req.url.split('?', 1)[0]!;
      const file = ui.get(pathname);
      if (file) return sendUi(req, reply, file);
      // Client-side routes (#/settings...) and deep links load the one page.
      const index = ui.get('/');
      if (index && (req.headers.accept ?? '').includes('text/html') && !pathname.startsWith('/api/')) return sendUi(req, reply, index);
      return reply.code(404).send({ error: 'not-found', message: index ? `Nothing at ${pathname}` : 'The web UI is not built; run `npm run build`.' });
    },
  });
  app.setErrorHandler(async (err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) opts.log.error({ err }, 'request failed');
    return reply.code(status).send({ error: err.code ?? 'error', message: status >= 500 ? 'Internal error; see the log.' : err.message });
  });

  return {
    app,
    get draining() {
      return draining;
    },
    setDraining() {
      if (draining) return;
      draining = true;
      for (const fn of drainHooks) {
        try {
          fn();
        } catch (err) {
          opts.log.warn({ err }, 'drain hook failed');
        }
      }
    },
    destroyConnections() {
      app.server.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
    connectionCount: () => sockets.size,
  };
}
