/**
 * One log line as a person reads it, the same on the Logs page (Copy), in its
 * readable download and in `berth diagnose`: local time with its offset,
 * level, process, scope, message. Pure (Intl only), so the page uses it too.
 */
import type { LogLine } from './reader';

const formats = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      fractionalSecondDigits: 3,
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    });
    formats.set(key, f);
  }
  return f;
}

/** Whether `timeZone` is one this runtime knows (an IANA name such as "Europe/Berlin"). */
export function knownTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** "2026-11-29 11:00:00.123 +01:00", in `timeZone` (default: this computer's). */
export function readableTime(ms: number, timeZone?: string): string {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  // "GMT+01:00", or "GMT" for UTC itself.
  const offset = (parts.timeZoneName ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}.${parts.fractionalSecond} ${offset}`;
}

/** What a line says: its message, and its error's words when the message does not already hold them. */
export function lineText(l: Pick<LogLine, 'msg' | 'err'>): string {
  return l.err && !l.msg.includes(l.err) ? `${l.msg}: ${l.err}` : l.msg;
}

/** One line of the log as the page shows it, on one line of text. */
export function readableLine(l: LogLine, timeZone?: string): string {
  return `${l.time ? readableTime(l.time, timeZone) : '-'} ${l.level.toUpperCase().padEnd(5)} ${l.pid ? `pid ${l.pid} ` : ''}${l.scope ? `${l.scope}: ` : ''}${lineText(l).replace(/\r?\n/g, ' ⏎ ')}`;
}
