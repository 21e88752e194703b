import type { ServerResponse } from 'node:http';
import type { ApiRoutes } from '../server/web';
import { levelValue, type LogSink } from '../log';
import { Fanout, type EventSource } from '../server/fanout';
import { statusOf, type StatusDeps } from '../lifecycle/routes';
import { timeZoneOf } from '../logs/routes';
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

export interface EventStreamDeps extends StatusDeps {
  logs: LogSink;
  /** More events for the stream besides status and log, e.g. `updateEvents(updates)`. Read per connection, so it may grow later. */
  feeds?: EventFeed[];
}

/** One SSE stream: a named event with JSON data. */
function sseWrite(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/**
 * GET /api/events: the one event stream for the UI. `status` on every change
 * (and at once), `log` for each line at debug and above, whatever the feeds
 * send (`update`), and `draining` just before the server goes away.
 */
export function eventRoutes(deps: EventStreamDeps): ApiRoutes {
  return (api, { requireToken, onDrain }) => {
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
}
