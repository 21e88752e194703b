import type { FastifyReply, FastifyRequest } from 'fastify';
import { BerthError } from '../errors';
import type { ApiRoutes } from '../server/web';
import type { EventFeed } from '../events/routes';
import type { RestartBlockers } from './blockers';
import type { UpdateService } from './service';
import type { UpdateStatus } from './state';

/**
 * GET /api/update            the update state
 * POST /api/update/check     start a check (202 with the state once it has begun; follow the `update` event;
 *                            409 when the update URL is plain http to another machine)
 * POST /api/update/install   install the downloaded update (202, then the port is handed over; 409 if none is ready)
 * POST /api/update/retry     a stalled download reconnects and resumes; a cancelled or failed one starts again (202)
 * POST /api/update/cancel    stop the download in flight; what it wrote is removed (200 with the state, `available`)
 * All of them need the token.
 */
export function updateApi(service: UpdateService): ApiRoutes {
  return (api, { requireToken, log }) => {
    api.get('/update', { preHandler: requireToken }, async () => service.status());

    api.post('/update/check', { preHandler: requireToken }, async (_req, reply) => {
      const now = service.status();
      if (now.state === 'disabled') return reply.code(409).send({ error: 'disabled', message: now.reason, update: now });
      const refused = service.feedProblem();
      if (refused) {
        // The state says so too (the tray and the UI follow it); no request is made.
        await service.check();
        return reply.code(409).send({ error: 'insecure-update-url', message: refused, update: service.status() });
      }
      const started = service.check();
      // Answer once the state has moved (checking, or at once when there is nothing to do); the result comes as events.
      await Promise.race([started, new Promise((r) => setImmediate(r))]);
      return reply.code(202).send(service.status());
    });

    api.post('/update/retry', { preHandler: requireToken }, async (_req, reply) => {
      const now = service.status();
      if (now.state === 'disabled') return reply.code(409).send({ error: 'disabled', message: now.reason, update: now });
      if (now.state === 'installing') return reply.code(409).send({ error: 'installing', message: 'An update is being installed.', update: now });
      return reply.code(202).send(await service.retryDownload());
    });

    api.post('/update/cancel', { preHandler: requireToken }, async () => service.cancelDownload());

    api.post('/update/install', { preHandler: requireToken }, async (_req, reply) => {
      const s = service.status();
      if (s.state !== 'ready') {
        const message =
          s.state === 'disabled' ? s.reason : s.state === 'installing' ? 'An update is already being installed.' : `No update is ready to install (the update state is ${s.state}). Check for updates first.`;
        return reply.code(409).send({ error: 'not-ready', message, update: s });
      }
      // Answer first, install after the response has left: the caller hears "accepted" before the port closes.
      reply.raw.once('finish', () =>
        setImmediate(() =>
          service.install().catch((err) => {
            if (!(err instanceof BerthError)) log.error({ err }, 'update install failed');
          }),
        ),
      );
      return reply.code(202).send({ accepted: 'install', version: s.version, update: s });
    });
  };
}

/**
 * Makes every state-changing /api request in flight (PUT, POST, PATCH,
 * DELETE) a restart blocker, so an install waits for a settings save or an
 * upload to finish. Reads are not: a read cut short is simply asked again
 * (a long download can hold a blocker itself). Event streams never end by
 * themselves, and the drain closes them properly.
 */
export function apiRequestBlockers(blockers: RestartBlockers): ApiRoutes {
  return (api) => {
    api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (READS.has(req.method) || isLongLived(req)) return;
      const release = blockers.hold(`${req.method} ${req.url.split('?', 1)[0]}`);
      // 'close' comes once the response is sent, or when the client goes away mid-request.
      reply.raw.once('close', release);
    });
  };
}

function isLongLived(req: FastifyRequest): boolean {
  const path = req.url.split('?', 1)[0]!;
  return (req.headers.accept ?? '').includes('text/event-stream') || path === '/api/events' || path === '/api/update/install' || LIFECYCLE.has(path);
}

// These answer once their restart or relaunch is done, and a relaunch waits for blockers: held, they would wait on themselves.
const LIFECYCLE = new Set(['/api/restart', '/api/relaunch', '/api/stop', '/api/handoff']);

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The `update` event for the /api/events stream: call with a send function,
 * get back the unsubscribe. Sends the current state at once.
 */
export function updateEvents(service: UpdateService): EventFeed {
  return (send) => {
    const on = (s: UpdateStatus) => send('update', s);
    send('update', service.status());
    service.on('change', on);
    return () => service.off('change', on);
  };
}
