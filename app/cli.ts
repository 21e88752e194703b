import { BerthError, ExitCode } from './errors';
import type { ResolvedConfig } from './config';
import { millis, parseCommandLine, type Command, type Flags } from './cli/args';
import { Output } from './cli/output';
import type { Context, RunHooks } from './cli/find';

/* eslint-disable @typescript-eslint/no-require-imports -- modules load when a command needs them (bench/startup.mjs) */
const help = () => require('./cli/help') as typeof import('./cli/help');
const paths = () => require('./paths') as typeof import('./paths');
const config = () => require('./config') as typeof import('./config');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The `berth` command. Each command lives in its own module under cli/ and is
 * loaded only when run; `serve` loads the server only once its first probe
 * says there is nothing in the way (cli/serve.ts). Resolves with the exit
 * code, or never for `serve` (it exits when the host does).
 */
export async function run(argv: string[], hooks: RunHooks = {}): Promise<number> {
  let out = new Output(argv.includes('--json'));
  try {
    const { command, flags } = parseCommandLine(argv);
    out = new Output(!!flags.json);
    if (flags.help || (!command && !flags.version)) {
      process.stdout.write((command ? help().commandHelp(command) : help().generalHelp()) + '\n');
      return flags.help ? ExitCode.ok : ExitCode.usage;
    }
    if (flags.version || !command) {
      const version = paths().appVersion();
      out.result(version, { version });
      return ExitCode.ok;
    }
    if (command === 'list') {
      const given = (['host', 'port', 'data-dir'] as const).find((f) => flags[f] !== undefined);
      if (given) throw new BerthError(`'berth list' shows every Berth of this user; it takes no --${given}. Run 'berth list --help' for its options.`, ExitCode.usage);
      const ctx: Context = { config: null as unknown as ResolvedConfig, flags, out, hooks };
      return await load(command)(ctx);
    }
    let config = await configFor(command, flags, hooks);
    // The commands that talk to a running Berth look where it really is (its runtime file, this user's list).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded with the command that needs it
    if (command !== 'serve') config = (require('./cli/find') as typeof import('./cli/find')).locate(config);
    const ctx: Context = { config, flags, out, probeTimeout: millis(flags['probe-timeout'], 'probe-timeout', 1), hooks };
    if (command !== 'serve') for (const w of ctx.config.warnings) out.warn(w);
    return await load(command)(ctx);
  } catch (err) {
    if (err instanceof BerthError) {
      out.error(err);
      return err.exitCode;
    }
    // Never a stack trace on the terminal: one sentence, and where to find more.
    const message = err instanceof Error ? err.message : String(err);
    if (process.env.BERTH_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? message}\n`);
    out.error(new BerthError(`Unexpected error: ${message.replace(/\.$/, '')}. Run again with BERTH_DEBUG=1 to see where it came from.`, ExitCode.unexpected));
    return ExitCode.unexpected;
  }
}

/**
 * Where the command looks: flags > environment > settings > defaults. Only
 * serve may change anything on disk (a corrupt settings file is set aside);
 * the others read. A host Berth could not listen on is a usage error (exit 2).
 */
async function configFor(command: Command, flags: Flags, hooks: RunHooks): Promise<ResolvedConfig> {
  // A hosted app has its own data folder (named after it) and its own port.
  const app = hooks.app;
  const defaults = app ? { dataDir: paths().defaultDataDir(process.platform, process.env, undefined, app.name), port: app.port } : undefined;
  const resolved = config().resolveConfig({ flags: { host: flags.host, port: flags.port, dataDir: flags['data-dir'] }, env: process.env, defaults }, { readOnly: command !== 'serve' });
  if (!isPlainLocal(resolved.host)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only for an unusual host
    const { notOwnHost } = require('./instance/local-address') as typeof import('./instance/local-address');
    const problem = await notOwnHost(resolved.host);
    if (problem) {
      const from = resolved.sources.host === 'flag' ? '--host' : resolved.sources.host === 'env' ? 'BERTH_HOST' : 'the settings file';
      throw new BerthError(`Host ${resolved.host} (from ${from}) ${problem}; use 127.0.0.1, 0.0.0.0 or one of this computer's own addresses.`, ExitCode.usage);
    }
  }
  return resolved;
}

/** The usual hosts need no look at the network interfaces. */
function isPlainLocal(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host === '0.0.0.0' || host === '::';
}

/* eslint-disable @typescript-eslint/no-require-imports -- each command loads when it runs */
function load(command: Command): (ctx: Context) => Promise<number> {
  switch (command) {
    case 'serve':
      return (require('./cli/serve') as typeof import('./cli/serve')).serve;
    case 'status':
      return (require('./cli/status') as typeof import('./cli/status')).status;
    case 'stop':
      return (require('./cli/stop') as typeof import('./cli/stop')).stop;
    case 'restart':
      return (require('./cli/restart') as typeof import('./cli/restart')).restart;
    case 'open':
      return (require('./cli/open') as typeof import('./cli/open')).open;
    case 'list':
      return (require('./cli/list') as typeof import('./cli/list')).list;
    case 'diagnose':
      return (require('./cli/diagnose') as typeof import('./cli/diagnose')).diagnose;
  }
}
/* eslint-enable @typescript-eslint/no-require-imports */

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => process.exit(code));
}
