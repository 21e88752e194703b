/**
 * Berth's port in front of a child server: every request that is not
 * Berth's own goes to the child, through @fastify/http-proxy (undici for
 * HTTP, ws for WebSocket upgrades). Berth's guarantees stay in front: the
 * Host allowlist and the cross-site check have run before this, sign-in is
 * required here, and a request that arrives while the child (re)starts waits
 * for it (ChildServer.whenReady) instead of being refused.
 */
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import httpProxy from '@fastify/http-proxy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../log';
import { bearerToken, isBerthCookie } from '../server/security';
import { SECRET_HEADER, type ChildServer } from './child';

/**
 * Connection errors that mean the request never reached the child: safe to
 * send again once it answers. EAGAIN: a Unix socket's listen queue is full
 * (a busy child), where TCP would have retried the connection by itself.
 */
const NOT_REACHED = new Set(['ECONNREFUSED', 'ENOENT', 'EAGAIN', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);
const RETRY_EVERY_MS = 50;

/**
 * One pool of connections to the child for the whole process: generations
 * come and go with in-place restarts, the child and its connections stay.
 */
export function childDispatcher(child: ChildServer): Dispatcher {
  const { socketPath } = child.upstream();
  return new Agent(socketPath ? { connect: { socketPath } } : {});
}

export interface ChildProxyOptions {
  child: ChildServer;
  dispatcher: Dispatcher;
  name: string;
  token: string;
  /** Whether the request carries Berth's token (cookie or Bearer). */
  signedIn: (req: FastifyRequest) => boolean;
  /** Where a browser that is not signed in is sent: the console, which has the sign-in page. */
  signInPath: string;
  log: Logger;
}

/** Register the proxy for everything Berth does not answer itself. */
export async function registerChildProxy(app: FastifyInstance, o: ChildProxyOptions): Promise<void> {
  const { child } = o;
  const { origin, socketPath } = child.upstream();

  const toChild = (req: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders => {
    const out: IncomingHttpHeaders = { ...headers };
    // The child answers to the address the browser used (servers that check Host or Origin against each other).
    if (req.headers.host) out.host = req.headers.host;
    out['x-forwarded-for'] = req.ip;
    out['x-forwarded-proto'] = 'http';
    if (req.headers.host) out['x-forwarded-host'] = req.headers.host;
    // Berth's token is not the child's to see: it would give the child the keys to Berth.
    delete out[SECRET_HEADER];
    const cookie = withoutBerthCookie(headers.cookie);
    if (cookie) out.cookie = cookie;
    else delete out.cookie;
    if (bearerToken(headers.authorization) === o.token) delete out.authorization;
    const secret = child.secret();
    if (secret) out[SECRET_HEADER] = secret;
    return out;
  };

  // One warning per child process: a child that sets the cookie on every answer must not fill Berth's log.
  let warnedPid: number | null = null;
  const fromChild = (headers: IncomingHttpHeaders): IncomingHttpHeaders => {
    const setCookie = headers['set-cookie'];
    if (!setCookie) return headers;
    const { kept, dropped } = withoutBerthSetCookie(Array.isArray(setCookie) ? setCookie : [setCookie]);
    if (!dropped.length) return headers;
    const out: IncomingHttpHeaders = { ...headers };
    if (kept.length) out['set-cookie'] = kept;
    else delete out['set-cookie'];
    const pid = child.status().pid;
    if (pid !== warnedPid) {
      warnedPid = pid;
      o.log.warn(`${o.name} (pid ${pid}) tried to set Berth's sign-in cookie (Set-Cookie ${[...new Set(dropped)].join(', ')}); Berth dropped it, and drops any more from this process without saying so again.`);
    }
    return out;
  };

  const signIn = async (req: FastifyRequest, reply: FastifyReply) => {
    if (o.signedIn(req)) return;
    if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) return reply.code(303).header('Location', o.signInPath).send();
    return reply.code(401).header('WWW-Authenticate', 'Bearer realm="berth"').send({ error: 'unauthorized', message: `Open ${o.name} from its tray menu, or sign in at ${o.signInPath}.` });
  };

  await app.register(httpProxy, {
    upstream: origin,
    undici: o.dispatcher as never,
    httpMethods: ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'],
    preHandler: async (req, reply) => {
      await signIn(req, reply);
      if (reply.sent) return;
      const waiting = child.whenReady();
      if (waiting) await waiting;
      // An upgrade lives as long as its WebSocket: it does not hold up a restart.
      if (req.headers.upgrade) return;
      reply.raw.once('close', child.enter());
    },
    replyOptions: {
      rewriteRequestHeaders: (req, headers) => toChild(req as FastifyRequest, headers),
      // A child could otherwise sign the person out of Berth, or shadow its cookie under another Path.
      rewriteHeaders: (headers) => fromChild(headers),
      // The child crashed between our look and the connection: wait for it and send the request again,
      // when there was nothing (no body) that the first attempt could have used up.
      retryDelay: ({ err, req, attempt }) => {
        const code = (err as { code?: string } | null)?.code;
        if (!err || !code || !NOT_REACHED.has(code) || typeof req.body === 'object') return null;
        return attempt * RETRY_EVERY_MS < child.holdMs ? RETRY_EVERY_MS : null;
      },
      onError: (reply, { error }) => {
        o.log.warn(`${o.name} did not answer ${reply.request.method} ${reply.request.url}: ${error.message}`);
        void reply.code(502).send({ error: 'bad-gateway', message: `${o.name} did not answer (${error.message}).` });
      },
    },
    // The browser's WebSocket handshake is answered by Berth's own server before the child is reached:
    // the child's handshake headers (Set-Cookie among them) never get to the browser.
    websocket: true,
    wsClientOptions: {
      ...(socketPath ? { createConnection: () => net.connect(socketPath) } : {}),
      rewriteRequestHeaders: (headers: Record<string, unknown>, req: FastifyRequest) => {
        const out: Record<string, unknown> = { ...headers };
        const cookie = withoutBerthCookie(req.headers.cookie);
        if (cookie) out.cookie = cookie;
        if (req.headers.origin) out.origin = req.headers.origin;
        const secret = child.secret();
        if (secret) out[SECRET_HEADER] = secret;
        return out;
      },
    },
  });
}

/**
 * A Cookie header without any Berth's sign-in cookie: this Berth's, and those
 * of every other Berth on the host (the browser sends them all, whatever the port).
 */
export function withoutBerthCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !isBerthCookie(p.slice(0, p.indexOf('=') < 0 ? p.length : p.indexOf('=')).trim()));
  return kept.length ? kept.join('; ') : undefined;
}

/**
 * A child's Set-Cookie lines without those for any Berth's sign-in cookie
 * name, in any letter case: a browser treats BERTH_TOKEN_8787 as another
 * cookie, but it reads as Berth's, and the child has no business with it.
 * A nameless cookie ("=berth_token_8787=x") goes back to the server as its
 * bare value, which reads as that name: its value's name counts.
 */
export function withoutBerthSetCookie(lines: string[]): { kept: string[]; dropped: string[] } {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const line of lines) {
    const pair = line.split(';')[0]!.replace(/^[\s=]+/, '');
    const name = pair.slice(0, pair.indexOf('=') < 0 ? pair.length : pair.indexOf('=')).trim();
    if (isBerthCookie(name.toLowerCase())) dropped.push(name);
    else kept.push(line);
  }
  return { kept, dropped };
}
