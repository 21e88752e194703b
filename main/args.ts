import { parseArgs } from 'node:util';

/**
 * The desktop app's own command-line flags. Electron's argv also carries the
 * app path and Chromium switches (--no-sandbox, --inspect=0 under Playwright),
 * so unknown arguments are ignored instead of refused, unlike the CLI.
 */
export interface DesktopArgs {
  /** Started by the login item: stay in the tray, no window. */
  hidden: boolean;
  /** The instance this process replaces (relaunch, update): proven against the handoff note before it counts. */
  handoff: string | null;
  handoffPid: number | null;
  host?: string;
  port?: string;
  dataDir?: string;
}

const OPTIONS = {
  hidden: { type: 'boolean' },
  handoff: { type: 'string' },
  'handoff-pid': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export function parseDesktopArgs(argv: readonly string[]): DesktopArgs {
  // A flag followed by another flag has no value (`--port --hidden`), rather than the next flag as its value.
  const args = argv.flatMap((a, i) => (a.startsWith('--') && !a.includes('=') && a.slice(2) in OPTIONS && OPTIONS[a.slice(2) as keyof typeof OPTIONS].type === 'string' && (argv[i + 1] ?? '--').startsWith('--') ? [] : [a]));
  const { values } = parseArgs({ args, options: OPTIONS, strict: false, allowPositionals: true });
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const pid = Number(str(values['handoff-pid']) ?? NaN);
  return {
    hidden: values.hidden === true,
    handoff: str(values.handoff) ?? null,
    handoffPid: Number.isInteger(pid) && pid > 0 ? pid : null,
    host: str(values.host),
    port: str(values.port),
    dataDir: str(values['data-dir']),
  };
}

/**
 * The command line a successor of this process starts with (Restart app, an
 * update's relaunch): Berth's own flags and nothing else. What Chromium,
 * Playwright (--inspect=0 --remote-debugging-port=0) or an installer
 * (--updated) put around them stays behind. In development the app folder
 * comes first, as Electron needs it. --hidden goes on only while there is
 * no window to come back to: a Berth whose window was open comes back with
 * it. The handoff (--handoff, --handoff-pid, the address) is added by the
 * relaunch plan (app/lifecycle/plans.ts successorArgs).
 */
export function relaunchArgs(argv: readonly string[], opts: { appPath: string | null; hidden: boolean }): string[] {
  const a = parseDesktopArgs(argv);
  return [
    ...(opts.appPath ? [opts.appPath] : []),
    ...(a.dataDir ? ['--data-dir', a.dataDir] : []),
    ...(a.host ? ['--host', a.host] : []),
    ...(a.port ? ['--port', a.port] : []),
    ...(opts.hidden ? ['--hidden'] : []),
  ];
}
