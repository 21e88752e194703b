/**
 * The command that starts this headless Berth again where it is now, for a
 * page that has lost it ("Berth is not running: start it with ..."). It
 * repeats only the address and data-directory flags the person gave (on the
 * command line or as BERTH_* variables), with the values in force now, so a
 * server moved from Settings is started where it went.
 */

export interface StartCommandInput {
  /** process.argv minus node and the script: ['serve', '--port', '9000', ...]. */
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  host: string;
  port: number;
  dataDir: string;
}

/** Whether `--name` was given, as `--name value` or `--name=value`. */
function given(args: readonly string[], name: string): boolean {
  return args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

/**
 * A shell word: plain when safe, otherwise in double quotes, which POSIX
 * shells, PowerShell and cmd.exe all read. Backslashes stay as they are
 * (Windows paths); a quote, $ or backquote is escaped for POSIX shells.
 */
export function shellWord(value: string): string {
  return /^[\w@%+=:,./\\-]+$/.test(value) ? value : `"${value.replace(/(["$`])/g, '\\$1')}"`;
}

export function startCommand(input: StartCommandInput): string {
  const words = ['berth', 'serve'];
  if (given(input.args, 'host') || input.env.BERTH_HOST) words.push('--host', shellWord(input.host));
  if (given(input.args, 'port') || input.env.BERTH_PORT) words.push('--port', String(input.port));
  if (given(input.args, 'data-dir') || input.env.BERTH_DATA_DIR) words.push('--data-dir', shellWord(input.dataDir));
  return words.join(' ');
}
