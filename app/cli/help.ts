import { berthCommandLine } from '../berth-command';
import { COMMANDS, OPTIONS, type Command, type OptionSpec } from './args';

const ABOUT: Record<Command, { summary: string; usage: string; text: string; exits: string }> = {
  serve: {
    summary: 'Run the web UI server in the foreground (headless)',
    usage: 'berth serve [options]',
    text:
      'Serves the web UI until stopped (Ctrl+C, `berth stop`). If a Berth already runs on the\n' +
      'address it says so and exits 3; if another program holds the port, exit 4.',
    exits: '0 stopped, 2 bad usage or config, 3 Berth already running there, 4 port held by something else',
  },
  status: {
    summary: "Show what is running on Berth's address",
    usage: 'berth status [options]',
    text: 'Looks at the port and says what answers there. Changes nothing, on the server or on disk.',
    exits: '0 Berth is running, 1 nothing is running, 4 another program holds the port',
  },
  stop: {
    summary: 'Ask the running Berth to stop',
    usage: 'berth stop [options]',
    text: 'Asks the Berth on the address to finish what it is doing and exit, and waits until the port is free.',
    exits: '0 stopped (or was not running), 1 it did not stop, 2 no token (another --data-dir?), 4 another program holds the port',
  },
  restart: {
    summary: 'Restart the running server in place (--app: relaunch the process)',
    usage: 'berth restart [--app] [options]',
    text:
      'Restarts the server inside the running process, on the same port. With --app, a new\n' +
      'process takes over the port; if it fails to start, the running one keeps serving.',
    exits: '0 restarted, 1 the restart failed (the running Berth keeps serving), 2 no token (another --data-dir?)',
  },
  open: {
    summary: 'Open the running Berth in your browser, signed in',
    usage: 'berth open [options]',
    text: 'Opens the web UI of the Berth on the address, signed in with the token from the data directory.',
    exits: '0 opened (or printed the address to open), 1 Berth is not running, 2 no token (another --data-dir?)',
  },
  list: {
    summary: "List this user's running Berths",
    usage: 'berth list [--json]',
    text:
      'Shows every Berth this user runs (berth serve and the desktop app), with its address,\n' +
      'process id, version and data folder. Set BERTH_RUNTIME_DIR to keep a separate list.',
    exits: '0 listed (also when none is running), 2 bad usage',
  },
  diagnose: {
    summary: 'Print diagnostics to paste into an issue (no secrets)',
    usage: 'berth diagnose [options]',
    text:
      'Version, system, runtime, paths, settings, port checks, update state, history and the\n' +
      'last 200 log lines, from the running Berth (or from the data folder when none runs).\n' +
      'The token, handoff secrets and cookie values are removed.',
    exits: '0 printed, 2 bad usage',
  },
};

const EXIT_CODES = `Exit codes: 0 ok, 1 unexpected error, 2 bad usage or config,
            3 Berth already running there, 4 port held by something else.`;

function optionLines(filter: (spec: OptionSpec) => boolean): string[] {
  const rows = Object.entries(OPTIONS as Record<string, OptionSpec>)
    .filter(([, spec]) => !spec.internal && filter(spec))
    .map(([name, spec]) => [`${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` <${spec.value}>` : ''}`, spec.help] as const);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`);
}

/** `berth --help`: the commands and the options every command takes. */
export function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.length));
  return [
    `Usage: ${berthCommandLine([])} <command> [options]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.padEnd(width)}  ${ABOUT[c].summary}`),
    '',
    'Options for every command:',
    ...optionLines((spec) => !spec.commands),
    '',
    `Run '${berthCommandLine([])} <command> --help' for all the options of a command.`,
    '',
    EXIT_CODES,
  ].join('\n');
}

/** `berth serve --help`: every option that command takes, the timeouts included. */
export function commandHelp(command: Command): string {
  const about = ABOUT[command];
  return [
    `Usage: ${about.usage.replace(/^berth /, `${berthCommandLine([])} `)}`,
    '',
    `${about.summary}.`,
    about.text,
    '',
    'Options:',
    ...optionLines((spec) => !spec.commands || spec.commands.includes(command)),
    '',
    `Exit codes: ${about.exits}.`,
  ].join('\n');
}
