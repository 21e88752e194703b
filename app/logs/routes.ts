/**
 * The log over HTTP, for the Logs page and `berth diagnose`:
 *
 * GET /api/logs?level=&q=&from=&to=&before=&limit=
 *   a page of the log, newest first (reader.ts), with where the next older
 *   page starts, how many lines the log has and how many match;
 * GET /api/logs/download?format=text|json&level=&q=&from=&to=&tz=Europe/Berlin
 *   every matching line, oldest first: as the page shows them (text, in the
 *   reader's time zone), or the JSON lines as they are on disk.
 *
 * Where the log could not be written to disk, the lines kept in memory
 * stand in for the file.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Level, LogSink } from '../log';
import type { ApiRoutes } from '../server/web';
import { within } from '../timeout';
import { knownTimeZone, readableLine } from './format';
import { LEVEL_NAMES, rawLines, readAll, readPage, searchText, toLine, type LogPage, type LogQuery } from './reader';

/** The reader's time zone, from ?tz= (an IANA name the page sends); undefined: this computer's. */
export function timeZoneOf(req: FastifyRequest): string | undefined {
  const tz = (req.query as { tz?: unknown } | undefined)?.tz;
  return typeof tz === 'string' && tz.length < 64 && knownTimeZone(tz) ? tz : undefined;
}

function queryOf(req: FastifyRequest): LogQuery & { before?: string; limit?: number; tz?: string } {
  const q = req.query as Record<string, string | undefined>;
  const num = (v: string | undefined) => (v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
  return {
    level: LEVEL_NAMES.includes(q.level as Level) ? (q.level as Level) : undefined,
    q: q.q ? String(q.q).slice(0, 200) : undefined,
    from: num(q.from),
    to: num(q.to),
    before: q.before || undefined,
    limit: num(q.limit),
    tz: timeZoneOf(req),
  };
}

/** The lines kept in memory, as a page: when there is no file to read. */
function memoryPage(logs: LogSink, query: LogQuery, before: string | undefined, limit = 200): LogPage {
  const all = logs.ring.tail(10_000).map((e, i) => toLine(JSON.stringify(e), `m.${i}`));
  const min = LEVEL_NAMES.indexOf(query.level ?? 'trace');
  const q = query.q?.trim().toLowerCase();
  const kept = all
    .filter((l) => LEVEL_NAMES.indexOf(l.level) >= min && (query.from === undefined || l.time >= query.from) && (query.to === undefined || l.time <= query.to) && (!q || searchText(l).includes(q)))
    .reverse();
  const startAt = before ? kept.findIndex((l) => l.id === before) + 1 : 0;
  const entries = kept.slice(startAt, startAt + limit);
  return { entries, older: startAt + limit < kept.length ? entries.at(-1)!.id : null, total: all.length, matching: kept.length };
}

/** Every line logged so far is in the file, or a second has passed. */
function settled(logs: LogSink): Promise<void> {
  return within(logs.written(), 1000, () => undefined);
}

export function logRoutes(deps: { logs: LogSink }): ApiRoutes {
  const { logs } = deps;
  const dir = () => (logs.file ? path.dirname(logs.file) : null);
  return (api, { requireToken }) => {
    api.get('/logs', { preHandler: requireToken }, async (req) => {
      const query = queryOf(req);
      // What was logged just before this request (a restart's own line) is on the page; a stalled disk
      // delays the page a moment, never hangs it.
      await settled(logs);
      const d = dir();
      const page = d ? readPage(d, query, { before: query.before, limit: query.limit }) : memoryPage(logs, query, query.before, query.limit);
      for (const l of page.entries) l.text = readableLine(l, query.tz);
      return { file: logs.file, ...page };
    });

    api.get('/logs/download', { preHandler: requireToken }, async (req, reply) => {
      const query = queryOf(req);
      const json = (req.query as { format?: string }).format === 'json';
      const day = new Date().toISOString().slice(0, 10);
      reply.header('Content-Disposition', `attachment; filename="berth-${day}.${json ? 'log' : 'txt'}"`).type('text/plain; charset=utf-8');
      await settled(logs);
      const d = dir();
      const filtered = query.level !== undefined || !!query.q || query.from !== undefined || query.to !== undefined;
      let lines: Iterable<string>;
      if (!d) {
        const entries = memoryPage(logs, query, undefined, 10_000).entries.reverse();
        lines = json ? logs.ring.tail(10_000).map((e) => JSON.stringify(e)) : entries.map((l) => readableLine(l, query.tz));
      } else if (json && !filtered) lines = rawLines(d);
      else lines = mapLines(readAll(d, query), (l) => (json ? l.raw : readableLine(l.line, query.tz)));
      return reply.send(Readable.from(withNewlines(lines)));
    });
  };
}

function* mapLines<T>(from: Iterable<T>, fn: (v: T) => string): Generator<string> {
  for (const v of from) yield fn(v);
}

function* withNewlines(lines: Iterable<string>): Generator<string> {
  for (const l of lines) yield `${l}\n`;
}
