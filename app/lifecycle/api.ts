import type { ServerResponse } from 'node:http';
import type { ApiRoutes, RouteContext } from '../server/web';
import { levelValue, type LogSink } from '../log';
import { BerthError } from '../errors';
import { Fanout, type EventSource } from '../server/fanout';
import { loadSettings, rememberRemoteChoice, saveSettings, validateSettings, type Settings } from '../settings/settings';
import { checkAddress, type AddressCheck } from './address-check';
import type { HistoryEntry, HostStatus, ServerHost } from './host';
import type { FastifyReply } from 'fastify';
import { replacementPlan } from './plans';
import { startCommand } from './start-command';
import { berthWords, currentInvocation } from '../berth-command';
import { openCommandRoutes } from '../runtime/routes';
import { logRoutes, timeZoneOf } from '../logs/routes';
import { readableLine } from '../logs/format';
import { lineOf, type LogLine } from '../logs/reader';

/**
 * Something that pushes named events into the one /api/events stream (the
 * update state, or your own): called with a send function, it sends its
 * current state at once and returns its unsubscribe. It is subscribed once
 * for all connected pages (app/server/fanout.ts), and briefly once more for
 * each page that joins later, to give that page the current state.
 */
export type EventFeed = EventSource;

export interface CoreApiDeps {
  host: ServerHost;
  logs: LogSink;
  dataDir: string;
  /** Called after settings are saved, so the desktop shell can apply launch-at-login etc. */
  onSettingsSaved?: (settings: Settings) => void;
  /** More events for the stream besides status and log, e.g. `updateEvents(updates)`. Read per connection, so it may grow later. */
  feeds?: EventFeed[];
  /**
   * How a person starts this Berth again, for a page that has lost it: the
   * `berth serve` command line (headless), or null for the desktop app
   * (started from the Start menu or Applications). Default: decided from this process.
   */
  startCommand?: (host: ServerHost) => string | null;
}

/** What /api/status and the `status` event carry: the host's status and how to start Berth again. */
export type StatusWithStart = HostStatus & { startCommand: string | null };

function ownStartCommand(host: ServerHost): string | null {
  if (process.versions.electron) return null;
  // The page may be read anywhere: the full path of a source checkout's bin/berth.js, not one relative to where it was started.
  return startCommand({ args: process.argv.slice(2), env: process.env, host: host.host, port: host.port, dataDir: host.status().dataDir, berth: berthWords(currentInvocation(null)) });
}

function statusOf(deps: CoreApiDeps): StatusWithStart {
  const s = deps.host.status();
  return { ...s, startCommand: (deps.startCommand ?? ownStartCommand)(deps.host) };
}

/** A group of routes built from the core's dependencies. */
export type RouteGroup = (deps: CoreApiDeps) => ApiRoutes;

/** Answer first, act after the response has left: the caller hears "accepted" before the port closes. */
function afterResponse(res: ServerResponse, fn: () => Promise<unknown>, log: { error: (o: object, m: string) => void }): void {
  res.once('finish', () => setImmediate(() => fn().catch((err) => log.error({ err }, 'action failed'))));
}

/**
 * A restart or relaunch that did not happen: 409 when it could not start (this
 * Berth is busy with something else, or cannot relaunch itself), 500 when it
 * failed, with the history entry that says why.
 */
function failed(reply: FastifyReply, host: ServerHost, err: unknown, what: 'restart' | 'relaunch'): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const entry = err instanceof BerthError ? (err.details.entry as HistoryEntry | undefined) : undefined;
  if (!entry) return reply.code(409).send({ error: `${what}-refused`, message });
  // state: serving when this process serves on (the usual case), conflict when it could not claim the port again.
  return reply.code(500).send({ error: `${what}-failed`, message, failed: entry.failed ?? message, entry, state: host.state });
}

/** One SSE stream: a named event with JSON data. */
export function sseWrite(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** GET /api/status; POST /api/restart, /api/relaunch, /api/stop, /api/handoff. */
const lifecycleRoutes: RouteGroup =
  (deps) =>
  (api, { requireToken, log }) => {
    const { host } = deps;
    api.get('/status', { preHandler: requireToken }, async () => statusOf(deps));

    // Restart and relaunch answer once done, with the history entry: on failure too, with what failed, and
    // this process still serving (or, when the port could not be claimed again, saying so).
    api.post('/restart', { preHandler: requireToken }, async (_req, reply) => {
      try {
        const entry = await host.restart();
        return { restarted: entry.kind === 'relaunch' ? 'app' : 'server', entry, url: host.url, instance: host.instance, successor: host.successor };
      } catch (err) {
        return failed(reply, host, err, 'restart');
      }
    });

    api.post('/relaunch', { preHandler: requireToken }, async (_req, reply) => {
      // The drain that follows a handover must not cut this answer off.
      host.holdAnswer(reply.raw);
      try {
        const entry = await host.relaunch();
        return { restarted: 'app', entry, url: host.url, instance: host.instance, successor: host.successor };
      } catch (err) {
        return failed(reply, host, err, 'relaunch');
      }
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
  (api, { requireToken, log }) => {
    const { host } = deps;
    api.get('/settings', { preHandler: requireToken }, async () => {
      const loaded = loadSettings(deps.dataDir);
      return { settings: loaded.settings, warnings: loaded.warnings, file: loaded.file };
    });

    /**
     * A new address is checked before anything is written: host of this computer, port free, bind
     * works. One that fails is refused at its field (409 address-unavailable, with a free port to
     * offer), unless the request says `keepForNextStart: true`: then it is saved, unused, for the
     * next start. The server moves first and the file is written after, so settings.json never
     * holds an address that was refused. With `checkOnly: true` the same checks run and nothing
     * else happens: the page asks before it puts a question to the person about the address.
     */
    api.put('/settings', { preHandler: requireToken }, async (req, reply) => {
      const current = loadSettings(deps.dataDir).settings;
      // `keepForNextStart` and `checkOnly` are about this request, not settings: they are taken off before validation.
      const isObject = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body);
      const { keepForNextStart, checkOnly, ...fields } = (isObject ? req.body : {}) as Record<string, unknown>;
      const { value: valid, errors } = validateSettings(isObject ? fields : req.body, current);
      if (errors.length) return reply.code(400).send({ error: 'invalid-settings', message: errors.map((e) => e.message).join('; '), errors });
      // The page asked before sending a network address: this save is the opt-in the next start needs.
      const value = rememberRemoteChoice(valid, req.body);
      const save = () => {
        saveSettings(deps.dataDir, value);
        deps.onSettingsSaved?.(value);
      };
      // Move only when this save changed the address. A server started with --port or BERTH_PORT runs
      // elsewhere than the settings file says; saving the update channel must not move it.
      const addressChanged = value.host !== current.host || value.port !== current.port;
      const moving = addressChanged && (value.host !== host.host || value.port !== host.port);
      if (!moving) {
        if (checkOnly === true) return { ok: true, settings: value, url: host.url };
        save();
        return { settings: value, url: host.url, moved: false };
      }
      const where = `${value.host}:${value.port}`;
      const check = await checkAddress(value.host, value.port, { instance: host.instance });
      // `checkOnly`: the page asks before it puts the exposure question to the person. Only an address Berth can
      // take gets that question; nothing is saved or moved either way.
      if (checkOnly === true) {
        if (check.kind !== 'problem') return { ok: true, settings: value, url: host.url };
        record(host, log, check, where, `not moved, not saved: ${check.message}`);
        return reply.code(409).send(refusal(check, current, host.url));
      }
      if (check.kind === 'ours') {
        // The new address overlaps the one we hold (127.0.0.1 -> 0.0.0.0 on the same port): only a fresh start can switch.
        record(host, log, check, where, 'saved; a restart of the app switches to it');
        save();
        host.intendAddress(value.host, value.port);
        const message = `Berth cannot listen on ${value.host} port ${value.port} while it serves ${host.url} on the same port. The new address is saved; restart the app to use it.`;
        return reply.code(409).send({ error: 'restart-required', message, settings: value, url: host.url });
      }
      if (check.kind === 'problem') {
        if (keepForNextStart === true) {
          record(host, log, check, where, `kept for the next start; still serving ${host.url}`);
          save();
          return { settings: value, url: host.url, moved: false, kept: true, message: `${check.message} Saved anyway: Berth stays on ${host.url} and tries ${where} the next time it starts.` };
        }
        record(host, log, check, where, `not moved, not saved: ${check.message}`);
        return reply.code(409).send(refusal(check, current, host.url));
      }
      try {
        await host.moveTo(value.host, value.port);
      } catch (err) {
        // Taken in the moment between the check and the move: still nothing saved.
        const message = err instanceof BerthError ? err.message : String(err);
        host.recordProbe({ verdict: check.probe.verdict, what: 'taken after the check', action: `not moved, not saved: ${message}`, address: where, ms: 0 });
        return reply.code(409).send({ error: 'address-unavailable', message, errors: [{ field: 'port', message }], settings: current, url: host.url });
      }
      save();
      return { settings: value, url: host.url, moved: true };
    });
  };

/** The check's outcome in the Status page's "Port checks", and in the log. */
function record(host: ServerHost, log: RouteContext['log'], check: Exclude<AddressCheck, { kind: 'ok' }>, where: string, action: string): void {
  const probe = check.probe;
  if (!probe) {
    // The host is not an address of this computer: nothing was probed, no packet left the machine.
    host.recordProbe({ verdict: 'no-address', what: check.kind === 'problem' ? check.message : '', action, address: where, ms: 0 });
    log.info(`address check ${where}: not an address of this computer -> ${action}`);
    return;
  }
  let what: string;
  if (probe.verdict === 'free') what = check.kind === 'problem' && check.code ? `nothing answered, but the bind failed (${check.code})` : 'nothing';
  else if (probe.verdict === 'foreign' || probe.verdict === 'silent') what = probe.what;
  else what = `Berth ${probe.running.version} pid ${probe.running.pid} (${probe.running.state})`;
  host.recordProbe({ verdict: probe.verdict, what, action, address: `${probe.address}:${probe.port}`, ms: Math.round(probe.ms * 10) / 10 });
  log.info(`probe ${probe.address}:${probe.port}: ${probe.verdict} (${what}) -> ${action}`);
}

function refusal(check: Extract<AddressCheck, { kind: 'problem' }>, current: Settings, url: string) {
  const offer = check.freePort ? ` Port ${check.freePort} is free.` : '';
  return {
    error: 'address-unavailable',
    message: `Not saved: ${check.message}${offer}`,
    errors: [{ field: check.field, message: check.message }],
    freePort: check.freePort ?? null,
    settings: current,
    url,
  };
}

/**
 * GET /api/events: the one event stream for the UI. `status` on every change
 * (and at once), `log` for each line at debug and above, whatever the feeds
 * send (`update`), and `draining` just before the server goes away.
 */
const eventRoutes: RouteGroup =
  (deps) =>
  (api, { requireToken, onDrain }) => {
    const { host, logs } = deps;
    // Debug and above, as the log file has them: the Logs page filters.
    const minLevel = levelValue('debug');
    const status: EventSource = (send) => {
      const on = () => send('status', statusOf(deps));
      on();
      host.on('change', on);
      return () => host.off('change', on);
    };
    // One numbering for the whole process: a line's id stays unique when the subscription is made again.
    let seq = 0;
    const log: EventSource = (send) =>
      logs.ring.subscribe((e) => {
        if (levelValue(e.level) >= minLevel) send('log', lineOf(e, `live.${process.pid}.${++seq}`));
      });
    const pages = new Fanout(() => [status, log, ...(deps.feeds ?? [])], onDrain);
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
      // Each line with its readable form in this page's time zone (?tz=), as the Logs page's pages of the file have it.
      const tz = timeZoneOf(req);
      const send = (event: string, data: unknown) => {
        if (res.writableEnded) return;
        sseWrite(res, event, event === 'log' ? { ...(data as LogLine), text: readableLine(data as LogLine, tz) } : data);
      };
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
      const leave = pages.add({
        send,
        close: () => {
          clearInterval(heartbeat);
          // What the host is doing as it lets this stream go: a page tells a restart (restarting, relaunching, or a
          // move, which stays serving) from a stop (draining), and both from a crash, which sends nothing.
          send('draining', { instance: host.instance, state: host.state });
          res.end();
        },
      });
      req.raw.once('close', () => {
        clearInterval(heartbeat);
        leave();
      });
    });
  };

/**
 * Every route group the web UI talks to, registered under /api by both the
 * headless server and the desktop app. Bring your own web UI: add your group
 * (a `RouteGroup` in its own file) to this list.
 */
const groups: RouteGroup[] = [lifecycleRoutes, settingsRoutes, logRoutes, eventRoutes, openCommandRoutes];

export function coreApi(deps: CoreApiDeps): ApiRoutes {
  const routes = groups.map((group) => group(deps));
  return (api, ctx) => {
    for (const r of routes) r(api, ctx);
  };
}
