import type { ServerResponse } from 'node:http';
import type { ApiRoutes } from '../server/web';
import { levelValue, type Level, type LogSink } from '../log';
import { BerthError } from '../errors';
import { loadSettings, rememberRemoteChoice, saveSettings, validateSettings, type Settings } from '../settings/settings';
import type { ServerHost } from './host';
import { replacementPlan } from './plans';

/**
 * Something that pushes named events into the one /api/events stream (the
 * update state, or your own): called once per connected page with a send
 * function; sends its current state at once and returns its unsubscribe.
 */
export type EventFeed = (send: (event: string, data: unknown) => void) => () => void;

export interface CoreApiDeps {
  host: ServerHost;
  logs: LogSink;
  dataDir: string;
  /** Called after settings are saved, so the desktop shell can apply launch-at-login etc. */
  onSettingsSaved?: (settings: Settings) => void;
  /** More events for the stream besides status and log, e.g. `updateEvents(updates)`. Read per connection, so it may grow later. */
  feeds?: EventFeed[];
}

/** A group of routes built from the core's dependencies. */
export type RouteGroup = (deps: CoreApiDeps) => ApiRoutes;

/** Answer first, act after the response has left: the caller hears "accepted" before the port closes. */
function afterResponse(res: ServerResponse, fn: () => Promise<unknown>, log: { error: (o: object, m: string) => void }): void {
  res.once('finish', () => setImmediate(() => fn().catch((err) => log.error({ err }, 'action failed'))));
}

/** One SSE stream: a named event with JSON data. */
export function sseWrite(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** GET /api/status; POST /api/restart, /api/relaunch, /api/stop, /api/handoff. */
const lifecycleRoutes: RouteGroup =
  ({ host }) =>
  (api, { requireToken, log }) => {
    api.get('/status', { preHandler: requireToken }, async () => host.status());

    api.post('/restart', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.restart(), log);
      return reply.code(202).send({ accepted: 'restart', instance: host.instance });
    });

    api.post('/relaunch', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.relaunch(), log);
      return reply.code(202).send({ accepted: 'relaunch', instance: host.instance, pid: process.pid });
    });

    api.post('/stop', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.stopAndExit(0), log);
      return reply.code(202).send({ accepted: 'stop', instance: host.instance, pid: process.pid });
    });

    // `berth serve --replace`: the newcomer asks for the port. Once this answer has left (it must not count as a
    // request in flight that the relaunch waits for), we leave it a handoff note: it shares our data directory, or
    // its token would not have worked. We let go of the port when it proves itself with the note's secret.
    api.post('/handoff', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.relaunch(replacementPlan()), log);
      return reply.code(202).send({ accepted: 'handoff', instance: host.instance, pid: process.pid });
    });
  };

/** GET/PUT /api/settings: validated (400 with one message per field), saved atomically; a new address moves the server. */
const settingsRoutes: RouteGroup =
  (deps) =>
  (api, { requireToken }) => {
    const { host } = deps;
    api.get('/settings', { preHandler: requireToken }, async () => {
      const loaded = loadSettings(deps.dataDir);
      return { settings: loaded.settings, warnings: loaded.warnings, file: loaded.file };
    });

    api.put('/settings', { preHandler: requireToken }, async (req, reply) => {
      const current = loadSettings(deps.dataDir).settings;
      const { value: valid, errors } = validateSettings(req.body, current);
      if (errors.length) return reply.code(400).send({ error: 'invalid-settings', message: errors.map((e) => e.message).join('; '), errors });
      // The page asked before sending a network address: this save is the opt-in the next start needs.
      const value = rememberRemoteChoice(valid, req.body);
      saveSettings(deps.dataDir, value);
      deps.onSettingsSaved?.(value);
      // Move only when this save changed the address. A server started with --port or BERTH_PORT runs
      // elsewhere than the settings file says; saving the update channel must not move it.
      const addressChanged = value.host !== current.host || value.port !== current.port;
      const moving = addressChanged && (value.host !== host.host || value.port !== host.port);
      if (moving) {
        try {
          await host.moveTo(value.host, value.port);
        } catch (err) {
          // The server stays where it is; the saved settings take effect on the next start.
          const running = err instanceof BerthError ? (err.details.running as { instance?: string } | undefined) : undefined;
          if (running?.instance === host.instance) {
            // The new address overlaps the one we hold (127.0.0.1 -> 0.0.0.0 on the same port): only a fresh start can switch.
            host.intendAddress(value.host, value.port);
            const message = `Berth cannot listen on ${value.host} port ${value.port} while it serves ${host.url} on the same port. The new address is saved; restart the app to use it.`;
            return reply.code(409).send({ error: 'restart-required', message, settings: value, url: host.url });
          }
          const message = err instanceof BerthError ? err.message : String(err);
          return reply.code(409).send({ error: 'move-refused', message, settings: value, url: host.url });
        }
      }
      return { settings: value, url: host.url, moved: moving };
    });
  };

/** GET /api/logs?level=info&limit=200: the tail of the in-memory log. */
const logRoutes: RouteGroup =
  ({ logs }) =>
  (api, { requireToken }) => {
    api.get('/logs', { preHandler: requireToken }, async (req) => {
      const q = req.query as { level?: string; limit?: string };
      const level = (['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(q.level ?? '') ? q.level : 'info') as Level;
      const limit = Math.min(Math.max(Number(q.limit) || 200, 1), 1000);
      return { file: logs.file, entries: logs.ring.tail(limit, level) };
    });
  };

/**
 * GET /api/events: the one event stream for the UI. `status` on every change
 * (and at once), `log` for each line at info and above, whatever the feeds
 * send (`update`), and `draining` just before the server goes away.
 */
const eventRoutes: RouteGroup =
  (deps) =>
  (api, { requireToken, onDrain }) => {
    const { host, logs } = deps;
    api.get('/events', { preHandler: requireToken }, async (req, reply) => {
      const res = reply.raw;
      reply.hijack();
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.write('retry: 1000\n\n');
      const send = (event: string, data: unknown) => {
        if (!res.writableEnded) sseWrite(res, event, data);
      };
      send('status', host.status());
      const minLevel = levelValue('info');
      const onChange = (s: unknown) => send('status', s);
      const offLog = logs.ring.subscribe((e) => {
        if (levelValue(e.level) >= minLevel) send('log', e);
      });
      host.on('change', onChange);
      const offFeeds = (deps.feeds ?? []).map((feed) => feed(send));
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        clearInterval(heartbeat);
        host.off('change', onChange);
        offLog();
        for (const off of offFeeds) off();
      };
      req.raw.once('close', end);
      onDrain(() => {
        send('draining', { instance: host.instance });
        end();
        res.end();
      });
    });
  };

/**
 * Every route group the web UI talks to, registered under /api by both the
 * headless server and the desktop app. Bring your own web UI: add your group
 * (a `RouteGroup` in its own file) to this list.
 */
const groups: RouteGroup[] = [lifecycleRoutes, settingsRoutes, logRoutes, eventRoutes];

export function coreApi(deps: CoreApiDeps): ApiRoutes {
  const routes = groups.map((group) => group(deps));
  return (api, ctx) => {
    for (const r of routes) r(api, ctx);
  };
}
