import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type * as RotatingFileStream from 'rotating-file-stream' with { 'resolution-mode': 'import' };
import { currentRunner, factsOf, judgeEntry } from './files/trust';
import { visible } from './terminal-text';
import { makeFolders } from './files/folder';

// rotating-file-stream ships CommonJS too, but its types are declared for ESM only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createStream } = require('rotating-file-stream') as typeof RotatingFileStream;

export type Logger = pino.Logger;
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogEntry {
  time: number;
  level: Level;
  scope?: string;
  msg: string;
  [key: string]: unknown;
}

const LEVEL_NAMES: Record<number, Level> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** The last entries in memory, for the web UI's Logs page and its live view. */
export class LogRing {
  private entries: LogEntry[] = [];
  private listeners = new Set<(e: LogEntry) => void>();
  constructor(private readonly capacity = 1000) {}

  write(line: string): void {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const entry = { ...raw, level: LEVEL_NAMES[Number(raw.level)] ?? 'info' } as LogEntry;
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    for (const l of this.listeners) l(entry);
  }

  tail(limit = 200, minLevel: Level = 'trace'): LogEntry[] {
    const min = levelValue(minLevel);
    return this.entries.filter((e) => levelValue(e.level) >= min).slice(-limit);
  }

  subscribe(listener: (e: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function levelValue(level: Level): number {
  return Number(Object.entries(LEVEL_NAMES).find(([, name]) => name === level)?.[0] ?? 30);
}

/**
 * One line a person can read on a terminal: time, level, scope, message. A
 * terminal that has been closed (EIO) or a pipe nobody reads any more (EPIPE)
 * ends the console, never the process: the file and the ring have every line.
 */
function consoleStream(out: NodeJS.WritableStream, filter?: ConsoleFilter) {
  let open = true;
  out.on('error', () => (open = false));
  return {
    get open() {
      return open;
    },
    close() {
      open = false;
    },
    write(line: string) {
      if (!open) return;
      let text = line;
      try {
        const e = JSON.parse(line) as { time: number; level: number; scope?: string; msg: string; console?: boolean };
        // The CLI prints its own final message for some entries; `console: false` keeps them file-only.
        if (e.console === false) return;
        if (filter && !filter({ level: LEVEL_NAMES[e.level] ?? 'info', scope: e.scope, msg: e.msg })) return;
        const t = new Date(e.time).toTimeString().slice(0, 8);
        const lvl = (LEVEL_NAMES[e.level] ?? 'info').toUpperCase().padEnd(5);
        // One entry, one line, and nothing a terminal would act on, whatever text reached the message.
        text = `${t} ${lvl} ${e.scope ? e.scope + ': ' : ''}${visible(String(e.msg), 4000)}\n`;
      } catch {
        // not one of our JSON lines: as it came
      }
      try {
        out.write(text);
      } catch {
        // a file that can no longer be written (a full disk under a redirected stderr)
        open = false;
      }
    },
  };
}

export interface LogSink {
  root: Logger;
  ring: LogRing;
  /** The current log file, or null when logs could not be written to disk. */
  file: string | null;
  /** Stop writing to the console (the terminal it was is no longer this process's to write to); the file goes on. */
  closeConsole(): void;
  close(): Promise<void>;
  /**
   * Write out now, before returning, what is still on its way to the file,
   * and write every later line synchronously: for a process the OS is about
   * to end (Windows logoff), where nothing asynchronous may run again.
   */
  flushSync(): void;
  /** Resolves once every line logged before the call is in the file: a reader of the file sees what was just logged. */
  written(): Promise<void>;
}

export interface LogOptions {
  /** Folder for berth.log and its rotations; null keeps logs in memory and on the console only. */
  dir: string | null;
  level?: Level;
  /** Where human-readable lines go (stderr for the CLI); null for none. */
  console?: NodeJS.WritableStream | null;
  consoleLevel?: Level;
  /** Which entries reach the console, beyond the level (the CLI keeps progress lines back until it serves). */
  consoleFilter?: ConsoleFilter;
}

export type ConsoleFilter = (entry: { level: Level; scope?: string; msg: string }) => boolean;

/**
 * The one log sink of a process: JSON lines to a rotating file under
 * <data-dir>/logs, a memory ring for the UI, and short lines on the console.
 * Every module takes a scoped child: `sink.root.child({ scope: 'probe' })`.
 */
export function createLogSink(opts: LogOptions): LogSink {
  const ring = new LogRing();
  const streams: pino.StreamEntry[] = [{ level: 'trace', stream: ring }];
  let file: string | null = null;
  let fileStream: ReturnType<typeof createStream> | null = null;
  /** Lines handed to the rotating stream and not yet written, for flushSync. */
  const pending = new Map<number, string>();
  let sent = 0;
  /** Lines logged in this turn of the event loop, not yet handed to the stream. */
  let queued: string[] = [];
  let send: () => void = () => undefined;
  let synchronous = false;
  /** Callers of written(), each with the last line it waits for. */
  let waiting: { upTo: number; resolve: () => void }[] = [];
  const problems: string[] = [];
  if (opts.dir) {
    try {
      // 0700 for the logs folder and for a data directory created on the way (the first thing a start creates).
      makeFolders(opts.dir);
      fs.accessSync(opts.dir, fs.constants.W_OK);
      const refused = logPlaceProblem(opts.dir, problems);
      if (refused) throw Object.assign(new Error(refused), { code: 'untrusted' });
      const stream = createStream('berth.log', { path: opts.dir, size: '5M', rotate: 5, mode: 0o600 });
      fileStream = stream;
      // A full disk must not take the server down, nor keep a reader of the file waiting for lines that will not come.
      stream.on('error', () => {
        for (const w of waiting) w.resolve();
        waiting = [];
      });
      const target = path.join(opts.dir, 'berth.log');
      // The stream makes one write call per chunk: lines logged in the same turn of the event loop (a busy
      // child server's output, a burst of requests) go to the file in one write, not one each.
      const write = (chunk: string) => {
        if (synchronous) return appendQuietly(target, chunk);
        if (queued.length === 0) setImmediate(send);
        queued.push(chunk);
      };
      send = () => {
        if (synchronous || queued.length === 0) return;
        const chunk = queued.length === 1 ? queued[0]! : queued.join('');
        queued = [];
        const id = sent++;
        pending.set(id, chunk);
        stream.write(chunk, () => {
          pending.delete(id);
          if (waiting.length === 0) return;
          // The stream writes in order: a line done means every earlier line is done.
          const done = waiting.filter((w) => w.upTo <= id);
          waiting = waiting.filter((w) => w.upTo > id);
          for (const w of done) w.resolve();
        });
      };
      // Debug and above: the Logs page offers them, and a support bundle wants them.
      streams.push({ level: opts.level ?? 'debug', stream: { write } });
      file = target;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(code === 'untrusted' ? `${(err as Error).message} Keeping logs in memory only.` : `Logs cannot be written to ${opts.dir} (${code ?? err}); keeping them in memory only.`);
    }
  }
  const terminal = opts.console ? consoleStream(opts.console, opts.consoleFilter) : null;
  if (terminal) streams.push({ level: opts.consoleLevel ?? 'info', stream: terminal });
  const root = pino(
    { level: 'trace', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime },
    pino.multistream(streams),
  );
  for (const p of problems) root.warn({ scope: 'log' }, p);
  return {
    root,
    ring,
    file,
    closeConsole: () => terminal?.close(),
    close: () =>
      new Promise<void>((resolve) => {
        if (!fileStream || synchronous) return resolve();
        send();
        fileStream.end(() => resolve());
      }),
    flushSync: () => {
      if (!fileStream || !file || synchronous) return;
      synchronous = true;
      // A write the stream has already started may land as well: a line twice beats a line lost.
      appendQuietly(file, [...pending.values(), ...queued].join(''));
      pending.clear();
      queued = [];
      for (const w of waiting) w.resolve();
      waiting = [];
      fileStream.destroy();
    },
    written: () =>
      new Promise<void>((resolve) => {
        // Nothing on its way, or the stream can no longer call back (a full disk, flushSync): nothing to wait for.
        if ((pending.size === 0 && queued.length === 0) || synchronous || !fileStream || fileStream.destroyed) return resolve();
        // Queued lines go out as the next chunk, the one numbered `sent`.
        waiting.push({ upTo: queued.length > 0 ? sent : sent - 1, resolve });
      }),
  };
}

function appendQuietly(file: string, text: string): void {
  if (!text) return;
  try {
    fs.appendFileSync(file, text, { mode: 0o600 });
  } catch {
    // A full disk must not take the server down.
  }
}

/**
 * Whether logs may go to `dir`: the folder must be Berth's own (the start-up
 * check refuses the whole data directory otherwise; this covers a sink made
 * before that check). A berth.log that is a link, a FIFO or someone else's
 * file is set aside, so log lines never go where someone else pointed them.
 * Returns why the folder is refused, or null.
 */
function logPlaceProblem(dir: string, notes: string[]): string | null {
  const runner = currentRunner();
  const folder = judgeEntry(dir, factsOf(fs.lstatSync(dir)), runner, { expect: 'dir' });
  if (folder) return `${folder.message} To fix it: ${folder.fix}.`;
  const file = path.join(dir, 'berth.log');
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    return null;
  }
  const problem = judgeEntry(file, factsOf(st), runner, { expect: 'file' });
  if (!problem) return null;
  const aside = `${file}.aside-${Date.now()}`;
  fs.renameSync(file, aside);
  notes.push(`${problem.message} It was moved to ${aside}; logging goes to a new ${file}.`);
  return null;
}

/** A sink that keeps everything in memory: for tests and for code paths before the data dir is known. */
export function memoryLogSink(): LogSink {
  return createLogSink({ dir: null, console: null });
}
