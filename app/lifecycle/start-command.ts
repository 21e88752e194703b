import { shellWord } from '../berth-command';

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
  /** How `berth` runs here (berth-command.ts): ['berth'], or ['node', '/path/to/bin/berth.js'] in a source checkout. */
  berth?: readonly string[];
}

/** Whether `--name` was given, as `--name value` or `--name=value`. */
function given(args: readonly string[], name: string): boolean {
  return args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
}

export function startCommand(input: StartCommandInput): string {
  const words = [...(input.berth ?? ['berth']).map(shellWord), 'serve'];
  if (given(input.args, 'host') || input.env.BERTH_HOST) words.push('--host', shellWord(input.host));
  if (given(input.args, 'port') || input.env.BERTH_PORT) words.push('--port', String(input.port));
  if (given(input.args, 'data-dir') || input.env.BERTH_DATA_DIR) words.push('--data-dir', shellWord(input.dataDir));
  return words.join(' ');
}
