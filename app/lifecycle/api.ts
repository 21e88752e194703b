import type { ServerResponse } from 'node:http';
import type { ApiRoutes } from '../server/web';
import { levelValue, type Level, type LogSink } from '../log';
import { BerthError } from '../errors';
import { loadSettings, saveSettings, validateSettings, type Settings } from '../settings/settings';
import type { ServerHost } from './host';

export interface CoreApiDeps {
  host: ServerHost;
  logs: LogSink;
  dataDir: string;
  /** Called after settings are saved, so the desktop shell can apply launch-at-login etc. */
  onSettingsSaved?: (settings: Settings) => void;
}

/** Answer first, act after the response has left: the caller hears "accepted" before the port closes. */
function afterResponse(res: ServerResponse, fn: () => Promise<unknown>, log: { error: (o: object, m: string) => void }): void {
  res.once('finish', () => setImmediate(() => fn().catch((err) => log.error({ err }, 'action failed'))));
}

/** One SSE stream: a named event with JSON data. */
export function sseWrite(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export function coreApi(deps: CoreApiDeps): ApiRoutes {
  const { host, logs } = deps;
  return (api, { requireToken, onDrain, log }) => {
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

    // `berth serve --replace`: the newcomer asks us to hand over the port and go.
    api.post('/handoff', { preHandler: requireToken }, async (_req, reply) => {
      afterResponse(reply.raw, () => host.stopAndExit(0), log);
      return reply.code(202).send({ accepted: 'handoff', instance: host.instance, pid: process.pid });
    });

    api.get('/settings', { preHandler: requireToken }, async () => {
      const loaded = loadSettings(deps.dataDir);
      return { settings: loaded.settings, warnings: loaded.warnings, file: loaded.file };
    });

    api.put('/settings', { preHandler: requireToken }, async (req, reply) => {
      const current = loadSettings(deps.dataDir).settings;
      const { value, errors } = validateSettings(req.body, current);
      if (errors.length) return reply.code(400).send({ error: 'invalid-settings', message: errors.map((e) => e.message).join('; '), errors });
      saveSettings(deps.dataDir, value);
      deps.onSettingsSaved?.(value);
      const moving = value.host !== host.host || value.port !== host.port;
      if (moving) {
        try {
          await host.moveTo(value.host, value.port);
        } catch (err) {
          // The server stays where it is; the saved settings take effect on the next start.
          const message = err instanceof BerthError ? err.message : String(err);
          return reply.code(409).send({ error: 'move-refused', message, settings: value, url: host.url });
        }
      }
      return { settings: value, url: host.url, moved: moving };
    });

    api.get('/logs', { preHandler: requireToken }, async (req) => {
      const q = req.query as { level?: string; limit?: string };
      const level = (['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(q.level ?? '') ? q.level : 'info') as Level;
      const limit = Math.min(Math.max(Number(q.limit) || 200, 1), 1000);
      return { file: logs.file, entries: logs.ring.tail(limit, level) };
    });

    // One event stream for the UI: status changes and log lines, live.
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
      sseWrite(res, 'status', host.status());
      const minLevel = levelValue('info');
      const onChange = (s: unknown) => sseWrite(res, 'status', s);
      const offLog = logs.ring.subscribe((e) => {
        if (levelValue(e.level) >= minLevel) sseWrite(res, 'log', e);
      });
      host.on('change', onChange);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      const end = () => {
        clearInterval(heartbeat);
        host.off('change', onChange);
        offLog();
      };
      req.raw.once('close', end);
      onDrain(() => {
        sseWrite(res, 'draining', { instance: host.instance });
        end();
        res.end();
      });
    });
  };
}
