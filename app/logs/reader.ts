/**
 * The log as it is on disk: berth.log and its rotated segments (berth.log.1
 * is the newest of those, berth.log.5 the oldest), written by this process
 * and by every Berth before it on this data folder. Read newest first, a page
 * at a time, from the end of each file backwards, so the first page of a log
 * of any length costs one or two reads; a search or filter reads on until it
 * has a page, and counts what matches in the rest.
 *
 * A position in the log is a cursor: the file's identity (its inode, which a
 * rotation's rename keeps) and a byte offset in it. Pages asked for with a
 * cursor stay the same pages while new lines are written and files rotate.
 */
import fs from 'node:fs';
import path from 'node:path';
import { currentRunner, factsOf, judgeEntry } from '../files/trust';
import type { Level } from '../log';

export const LOG_FILE = 'berth.log';
/** How many rotated segments are kept (log.ts: rotate: 5). */
export const SEGMENTS_KEPT = 5;

const LEVELS: Record<number, Level> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const LEVEL_NUMBERS: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
export const LEVEL_NAMES = Object.values(LEVELS);

/** One line of the log as the page gets it. */
export interface LogLine {
  /** Where it is in the log (a cursor): stable while the log grows and rotates. */
  id: string;
  time: number;
  level: Level;
  scope?: string;
  msg: string;
  pid?: number;
  /** An error's own words, when the line carries one. */
  err?: string;
  /** Any other fields of the line (exit codes, an error's stack...). */
  fields?: Record<string, unknown>;
  /** The line as a person reads it (format.ts), in the reader's time zone: what Copy copies. */
  text?: string;
}

export interface LogQuery {
  /** The lowest level shown. */
  level?: Level;
  /** Words in the line (its scope, message or error), any case. */
  q?: string;
  /** Only lines at or after / before this time (ms since the epoch). */
  from?: number;
  to?: number;
}

export interface LogPage {
  /** Newest first. */
  entries: LogLine[];
  /** Where the next (older) page starts; null at the beginning of the log. */
  older: string | null;
  /** Lines in the whole log, whatever the query. */
  total: number;
  /** Lines that match the query in the whole log (total when there is no query). */
  matching: number;
}

interface Segment {
  file: string;
  id: string;
  size: number;
}

/** berth.log.5 ... berth.log.1, berth.log: oldest first. Only regular files of ours, never a link. */
export function segments(dir: string): Segment[] {
  const runner = currentRunner();
  const found: Segment[] = [];
  for (let i = SEGMENTS_KEPT; i >= 0; i--) {
    const file = path.join(dir, i === 0 ? LOG_FILE : `${LOG_FILE}.${i}`);
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(file, { bigint: true });
    } catch {
      continue;
    }
    const facts = factsOf(fs.lstatSync(file));
    if (judgeEntry(file, facts, runner, { expect: 'file' })) continue;
    found.push({ file, id: st.ino.toString(36), size: Number(st.size) });
  }
  return found;
}

/** `dev.offset` in base 36: where a line starts. */
function cursorOf(segment: Segment, offset: number): string {
  return `${segment.id}.${offset.toString(36)}`;
}

function parseCursor(c: string | undefined | null): { id: string; offset: number } | null {
  const m = /^([0-9a-z]{1,20})\.([0-9a-z]{1,12})$/.exec(c ?? '');
  return m ? { id: m[1]!, offset: parseInt(m[2]!, 36) } : null;
}

const CHUNK = 64 * 1024;
/** Longer lines are cut here when read (a line this long is not one Berth wrote). */
const MAX_LINE = 256 * 1024;
// O_NOFOLLOW: a link swapped in after the look above is not followed.
const READ_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0);

/** The lines of `segment` that start before `end`, newest first, with where each starts. */
function* linesBackward(segment: Segment, end: number): Generator<{ start: number; text: string }> {
  let fd: number;
  try {
    fd = fs.openSync(segment.file, READ_FLAGS);
  } catch {
    return;
  }
  try {
    let pos = Math.min(end, fs.fstatSync(fd).size);
    let carry: Buffer = Buffer.alloc(0);
    // The newest file may end in a line still being written: leave it for the next read.
    let dropUnterminated = end >= segment.size;
    while (pos > 0) {
      const start = Math.max(0, pos - CHUNK);
      const chunk = Buffer.allocUnsafe(pos - start);
      const n = fs.readSync(fd, chunk, 0, chunk.length, start);
      const data = carry.length ? Buffer.concat([chunk.subarray(0, n), carry]) : chunk.subarray(0, n);
      let lineEnd = data.length;
      if (dropUnterminated) {
        const lastNewline = data.lastIndexOf(0x0a);
        if (lastNewline === -1) {
          // All of this chunk is the unfinished line; it began further back.
          carry = Buffer.alloc(0);
          pos = start;
          continue;
        }
        dropUnterminated = false;
        lineEnd = lastNewline + 1;
      }
      // Lines end at '\n': walk back over them.
      let nl = data.lastIndexOf(0x0a, lineEnd - 1);
      if (nl === lineEnd - 1) {
        lineEnd = nl;
        nl = data.lastIndexOf(0x0a, lineEnd - 1);
      }
      while (nl !== -1) {
        if (lineEnd > nl + 1) yield { start: start + nl + 1, text: data.toString('utf8', nl + 1, Math.min(lineEnd, nl + 1 + MAX_LINE)) };
        lineEnd = nl;
        nl = lineEnd > 0 ? data.lastIndexOf(0x0a, lineEnd - 1) : -1;
      }
      carry = lineEnd > MAX_LINE ? data.subarray(0, MAX_LINE) : data.subarray(0, lineEnd);
      pos = start;
    }
    if (carry.length) yield { start: 0, text: carry.toString('utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

/** A line of the file as the page shows it; a line that is not JSON is shown as it is. */
export function toLine(text: string, id: string): LogLine {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not an object');
  } catch {
    return { id, time: 0, level: 'info', msg: text };
  }
  return lineOf(raw, id);
}

/** A log entry (as pino wrote it, or as the memory ring keeps it) as the page shows it. */
export function lineOf(raw: Record<string, unknown>, id: string): LogLine {
  const { time, level, scope, msg, pid, err, ...rest } = raw;
  const line: LogLine = {
    id,
    time: typeof time === 'number' ? time : Date.parse(String(time)) || 0,
    level: typeof level === 'number' ? (LEVELS[level] ?? 'info') : LEVEL_NAMES.includes(level as Level) ? (level as Level) : 'info',
    msg: typeof msg === 'string' ? msg : msg === undefined ? '' : JSON.stringify(msg),
  };
  if (typeof scope === 'string') line.scope = scope;
  if (typeof pid === 'number') line.pid = pid;
  if (err && typeof err === 'object') {
    const message = (err as { message?: unknown }).message;
    if (typeof message === 'string') line.err = message;
    rest.err = err;
  }
  if (Object.keys(rest).length) line.fields = rest;
  return line;
}

/** The text a search looks in, as the page shows the line. */
export function searchText(l: Pick<LogLine, 'scope' | 'msg' | 'err'>): string {
  return `${l.scope ?? ''} ${l.msg}${l.err && !l.msg.includes(l.err) ? `: ${l.err}` : ''}`.toLowerCase();
}

/**
 * Whether a line matches, deciding from its raw text where that is enough:
 * pino writes `{"level":30,"time":...` first, and a word that is not in the
 * raw text is not in the message either (unless JSON escaped it).
 */
function matcher(query: LogQuery): (text: string, id: string) => LogLine | null {
  const min = query.level ? LEVEL_NUMBERS[query.level] : 0;
  const q = query.q?.trim().toLowerCase() ?? '';
  // Quotes, backslashes and control characters are escaped in JSON: the raw text cannot be used to rule those out.
  const rawSearch = q && !/["\\\u0000-\u001f]/.test(q);
  return (text, id) => {
    const head = /^\{"level":(\d+),"time":(\d+)/.exec(text);
    if (head) {
      if (Number(head[1]) < min) return null;
      const t = Number(head[2]);
      if ((query.from !== undefined && t < query.from) || (query.to !== undefined && t > query.to)) return null;
    }
    if (rawSearch && !text.toLowerCase().includes(q)) return null;
    const line = toLine(text, id);
    if (!head) {
      if (LEVEL_NUMBERS[line.level] < min) return null;
      if ((query.from !== undefined && line.time < query.from) || (query.to !== undefined && line.time > query.to)) return null;
    }
    if (q && !searchText(line).includes(q)) return null;
    return line;
  };
}

/** Lines per file (by inode, which a rotation keeps), so that a growing log is counted only where it grew. */
const lineCounts = new Map<string, { size: number; lines: number }>();

/** Lines in a file: its newlines. */
function countLines(segment: Segment): number {
  const known = lineCounts.get(segment.id);
  let from = 0;
  let lines = 0;
  if (known && known.size <= segment.size) {
    from = known.size;
    lines = known.lines;
  }
  let fd: number;
  try {
    fd = fs.openSync(segment.file, READ_FLAGS);
  } catch {
    return 0;
  }
  try {
    const buf = Buffer.allocUnsafe(CHUNK * 4);
    for (let pos = from; pos < segment.size; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, segment.size - pos), pos);
      if (n === 0) break;
      for (let i = buf.indexOf(0x0a); i !== -1 && i < n; i = buf.indexOf(0x0a, i + 1)) lines++;
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (lineCounts.size > 64) lineCounts.clear();
  lineCounts.set(segment.id, { size: segment.size, lines });
  return lines;
}

/** Matching lines in the whole log, per query and log state: the pages of one search count once. */
const matchCounts = new Map<string, number>();

function countMatching(all: Segment[], query: LogQuery, match: (text: string, id: string) => LogLine | null): number {
  const key = JSON.stringify([query, all.map((s) => [s.id, s.size])]);
  const known = matchCounts.get(key);
  if (known !== undefined) return known;
  let n = 0;
  for (const segment of all) for (const l of linesBackward(segment, segment.size)) if (match(l.text, '')) n++;
  if (matchCounts.size > 32) matchCounts.clear();
  matchCounts.set(key, n);
  return n;
}

/**
 * A page of the log in `dir`, newest first: up to `limit` lines that match
 * `query`, older than `before` (a cursor from an earlier page) when given.
 */
export function readPage(dir: string, query: LogQuery, opts: { before?: string | null; limit?: number } = {}): LogPage {
  const limit = Math.min(Math.max(opts.limit ?? 200, 1), 2000);
  const all = segments(dir);
  const total = all.reduce((n, s) => n + countLines(s), 0);
  const match = matcher(query);
  const filtered = !!(query.level && query.level !== 'trace') || !!query.q?.trim() || query.from !== undefined || query.to !== undefined;
  const matching = filtered ? countMatching(all, query, match) : total;
  const entries: LogLine[] = [];
  let startAt = all.length - 1;
  let end = Infinity;
  if (opts.before) {
    const cursor = parseCursor(opts.before);
    startAt = cursor ? all.findIndex((s) => s.id === cursor.id) : -1;
    // The file the cursor was in has been rotated out of the log: nothing older is left.
    if (startAt === -1) return { entries, older: null, total, matching };
    end = cursor!.offset;
  }
  for (let i = startAt; i >= 0; i--) {
    const segment = all[i]!;
    for (const l of linesBackward(segment, i === startAt && end !== Infinity ? end : segment.size)) {
      const line = match(l.text, cursorOf(segment, l.start));
      if (!line) continue;
      // One more than the page: it says whether there is an older page.
      if (entries.length === limit) return { entries, older: entries.at(-1)!.id, total, matching };
      entries.push(line);
    }
  }
  return { entries, older: null, total, matching };
}

/** Every line that matches `query`, oldest first, for a download: as read, and as it is on disk. */
export function* readAll(dir: string, query: LogQuery): Generator<{ line: LogLine; raw: string }> {
  const match = matcher(query);
  for (const segment of segments(dir)) {
    const lines = Array.from(linesBackward(segment, segment.size));
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = match(lines[i]!.text, cursorOf(segment, lines[i]!.start));
      if (line) yield { line, raw: lines[i]!.text };
    }
  }
}

/** The raw lines of every segment, oldest first, as they are on disk. */
export function* rawLines(dir: string): Generator<string> {
  for (const segment of segments(dir)) {
    const lines = Array.from(linesBackward(segment, segment.size));
    for (let i = lines.length - 1; i >= 0; i--) yield lines[i]!.text;
  }
}
