import type { BerthError } from '../errors';

/**
 * What the `berth` command prints. Results go to stdout (one JSON object per
 * result with --json); errors and warnings are one sentence each on stderr
 * (errors as JSON on stdout with --json), never a stack trace.
 */
export class Output {
  constructor(readonly json: boolean) {}

  result(human: string, data: Record<string, unknown>): void {
    process.stdout.write(this.json ? JSON.stringify(data) + '\n' : sentence(human) + '\n');
  }

  warn(message: string): void {
    process.stderr.write(`berth: warning: ${sentence(message)}\n`);
  }

  error(err: BerthError): void {
    if (this.json) process.stdout.write(JSON.stringify({ error: sentence(err.message), exitCode: err.exitCode, ...err.details }) + '\n');
    else process.stderr.write(`berth: ${sentence(err.message)}\n`);
  }
}

/**
 * Messages come from many places; they all reach the terminal starting with a
 * capital. (No full stop is added: a message may end with a command to copy.)
 */
export function sentence(text: string): string {
  const t = text.trim();
  return t && t[0]!.toUpperCase() + t.slice(1);
}

/** A moment in this computer's time zone, with its offset: "2026-11-29 11:00:00 +01:00". Anything unreadable is shown as given. */
export function localTime(when: string | number | Date): string {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) return String(when);
  const pad = (n: number) => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`;
}
