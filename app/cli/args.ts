import { parseArgs } from 'node:util';
import { berthCommandLine } from '../berth-command';
import { BerthError, ExitCode } from '../errors';

/**
 * The `berth` command line: its commands and options, in one table that both
 * the parser and the help text read, so the help lists every option there is.
 */

export const COMMANDS = ['serve', 'status', 'stop', 'restart', 'open', 'list', 'diagnose'] as const;
export type Command = (typeof COMMANDS)[number];

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** What the value is, for the help: `--port <n>`. */
  value?: string;
  help: string;
  /** The commands that take it; every command when absent. */
  commands?: readonly Command[];
  /** Set by Berth itself when it relaunches; not for people, so not in the help. */
  internal?: boolean;
}

export const OPTIONS = {
  host: { type: 'string', value: 'addr', help: 'Address Berth serves on (default 127.0.0.1; env BERTH_HOST)' },
  port: { type: 'string', value: 'n', help: 'Port (default 8787; env BERTH_PORT)' },
  'data-dir': { type: 'string', value: 'dir', help: 'Folder for settings, token and logs (env BERTH_DATA_DIR)' },
  replace: { type: 'boolean', help: 'Take the port over from the Berth running there', commands: ['serve'] },
  app: { type: 'boolean', help: 'Relaunch the whole process, not just the server', commands: ['restart'] },
  json: { type: 'boolean', help: 'Machine-readable output: one JSON object per line' },
  'probe-timeout': { type: 'string', value: 'ms', help: 'How long a probe of the port waits for an answer (default 2000)' },
  'handoff-timeout': { type: 'string', value: 'ms', help: 'How long to wait for the port to be freed (default 10000)', commands: ['serve'] },
  'drain-timeout': { type: 'string', value: 'ms', help: 'How long requests in progress get to finish (default 1000)', commands: ['serve'] },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
  version: { type: 'boolean', short: 'v', help: 'Print the version' },
  handoff: { type: 'string', help: '', commands: ['serve'], internal: true },
  'handoff-pid': { type: 'string', help: '', commands: ['serve'], internal: true },
  // A listening socket handed over by the predecessor, as an inherited descriptor.
  'listen-fd': { type: 'string', help: '', commands: ['serve'], internal: true },
} satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export type Flags = {
  [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

export interface CommandLine {
  /** Undefined for plain `berth`, `berth --help` and `berth --version`. */
  command?: Command;
  flags: Flags;
}

/** Where to read more, as a command that runs here (`node bin/berth.js serve --help` in a source checkout). */
const HELP = (command?: Command) => (command ? `Run '${berthCommandLine([command, '--help'])}' for its options.` : `Run '${berthCommandLine(['--help'])}' for the commands.`);

/** Parse the arguments; every mistake is one sentence (exit 2) that points at the right help. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const options = OPTIONS as Record<string, OptionSpec>;
  argv = joinNegativeValues(argv, options);
  // A lenient pass first, to know the command even when an option is wrong (and so which help to point at).
  const words = parseArgs({ args: [...argv], allowPositionals: true, strict: false, options }).positionals;
  const asksHelp = words[0] === 'help';
  const command = asksHelp ? words[1] : words[0];
  if (command !== undefined && !isCommand(command)) {
    const guess = closest(command, COMMANDS);
    throw new BerthError(`Unknown command '${command}'${guess ? ` (did you mean '${guess}'?)` : ''}. ${HELP()}`, ExitCode.usage);
  }
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options }));
  } catch (err) {
    throw new BerthError(parseError(err as Error & { code?: string }, command), ExitCode.usage);
  }
  const extra = positionals.slice(asksHelp ? 2 : 1);
  if (extra.length) throw new BerthError(`Unexpected argument '${extra[0]}'. ${HELP(command)}`, ExitCode.usage);
  if (asksHelp) return { command, flags: { help: true } };
  if (command) {
    for (const name of Object.keys(values) as OptionName[]) {
      const takers = options[name]!.commands;
      if (takers && !takers.includes(command)) {
        const where = takers.length === 1 ? `only 'berth ${takers[0]}' takes it` : `it is for ${takers.map((c) => `'berth ${c}'`).join(', ')}`;
        throw new BerthError(`'berth ${command}' has no option --${name} (${where}). ${HELP(command)}`, ExitCode.usage);
      }
    }
  }
  return { command, flags: values as Flags };
}

/**
 * `--probe-timeout -5`: a value that looks like a negative number is the
 * option's value (parseArgs would take it for an option of its own), so the
 * check of the value can say what is wrong with it.
 */
function joinNegativeValues(argv: readonly string[], options: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : null;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function isCommand(s: string): s is Command {
  return (COMMANDS as readonly string[]).includes(s);
}

function parseError(err: Error & { code?: string }, command?: Command): string {
  const m = err.message;
  const option = /'(-{1,2}[^' ]+)/.exec(m)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const name = option?.replace(/^-+/, '') ?? '';
      const names = Object.keys(OPTIONS).filter((n) => !(OPTIONS as Record<string, OptionSpec>)[n]!.internal);
      const guess = closest(name, names);
      return `Unknown option '${option}'${guess ? ` (did you mean '--${guess}'?)` : ''}. ${HELP(command)}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      // "Option '--port <value>' argument missing", "Option '--port' argument is ambiguous" (followed by
      // another option) or "Option '--json' does not take an argument"
      if (/does not take an argument/.test(m)) return `Option ${option} takes no value. ${HELP(command)}`;
      return `Option ${option} needs a value. ${HELP(command)}`;
    default:
      return `${m.replace(/\. To specify.*$/s, '').replace(/\.?$/, '.')} ${HELP(command)}`;
  }
}

/** The candidate within two edits of `word`, if exactly one is that close: a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const near = candidates.filter((c) => distance(word.toLowerCase(), c) <= Math.min(2, Math.floor(c.length / 2)));
  return near.length === 1 ? near[0] : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j]!;
      row[j] = next;
    }
  }
  return row[b.length]!;
}

/** A millisecond option: a whole or decimal number, at least `min`. */
export function millis(value: string | undefined, name: OptionName, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min) {
    throw new BerthError(`--${name} must be a number of milliseconds${min > 0 ? ` of at least ${min}` : ''}, not ${JSON.stringify(value)}.`, ExitCode.usage);
  }
  return n;
}
