/**
 * The desktop app's own command-line flags. Electron's argv also carries the
 * app path and Chromium switches (--no-sandbox, --inspect=0 under Playwright),
 * so unknown arguments are ignored instead of refused, unlike the CLI.
 */
export interface DesktopArgs {
  /** Started by the login item: stay in the tray, no window. */
  hidden: boolean;
  /** The instance this process replaces (relaunch, update): wait for it instead of quitting. */
  handoff: string | null;
  handoffPid: number | null;
  host?: string;
  port?: string;
  dataDir?: string;
}

const VALUED = ['--handoff', '--handoff-pid', '--host', '--port', '--data-dir'] as const;

export function parseDesktopArgs(argv: readonly string[]): DesktopArgs {
  const values: Partial<Record<(typeof VALUED)[number], string>> = {};
  let hidden = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--hidden') {
      hidden = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(0, eq) : arg) as (typeof VALUED)[number];
    if (!VALUED.includes(name)) continue;
    if (eq > 0) values[name] = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) values[name] = argv[++i]!;
  }
  const pid = values['--handoff-pid'] !== undefined ? Number(values['--handoff-pid']) : NaN;
  return {
    hidden,
    handoff: values['--handoff'] || null,
    handoffPid: Number.isInteger(pid) && pid > 0 ? pid : null,
    host: values['--host'],
    port: values['--port'],
    dataDir: values['--data-dir'],
  };
}
