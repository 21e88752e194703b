import { afterResponse, type ApiRoutes } from '../server/web';
import type { HostedRuntime } from './runtime';

/**
 * The hosted app's part of Berth's API:
 * GET /api/app (what it is, its state, its console pages and settings fields with their values),
 * PUT /api/app/settings (its settings, checked against its fields; 400 with one message per field),
 * POST /api/app/restart (restart its child server; requests meanwhile wait for it).
 */
export function hostedAppRoutes(runtime: HostedRuntime | null): ApiRoutes {
  return (api, { requireToken, log }) => {
    // Berth's console alone: there is no app, and the console asks once, at load.
    if (!runtime) {
      api.get('/app', { preHandler: requireToken }, async () => ({ hosted: false }));
      return;
    }
    api.get('/app', { preHandler: requireToken }, async () => ({
      hosted: true,
      ...runtime.status(),
      pages: runtime.app.consolePages ?? [],
      fields: runtime.app.settings ?? [],
      settings: runtime.settings(),
    }));

    api.put('/app/settings', { preHandler: requireToken }, async (req, reply) => {
      const { value, errors } = runtime.saveSettings(req.body);
      if (errors.length) return reply.code(400).send({ error: 'invalid-settings', message: errors.map((e) => e.message).join('; '), errors });
      return { settings: value };
    });

    api.post('/app/restart', { preHandler: requireToken }, async (_req, reply) => {
      const child = runtime.child;
      if (!child) return reply.code(409).send({ error: 'no-child-server', message: `${runtime.app.name} runs inside Berth; restart the server instead (POST /api/restart).` });
      afterResponse(reply.raw, () => child.restart(), log);
      return reply.code(202).send({ accepted: 'app-restart', pid: child.status().pid });
    });
  };
}
