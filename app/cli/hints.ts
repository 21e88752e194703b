import type { ResolvedConfig } from '../config';
import { BerthError, ExitCode } from '../errors';
import { berthCommand } from './find';

/**
 * The commands an exit-3 or exit-4 message offers, written out in full as
 * they run here, with the flags that reach the same Berth (or a free port),
 * one to a line so each can be copied alone.
 */
export async function withCommands(err: unknown, config: Pick<ResolvedConfig, 'host' | 'port' | 'dataDir'>): Promise<unknown> {
  if (!(err instanceof BerthError)) return err;
  if (err.exitCode === ExitCode.alreadyRunning && isRunning(err.details.running)) {
    const r = err.details.running;
    const at = { ...config, port: Number(new URL(r.url).port) || config.port };
    return new BerthError(
      [
        `Berth ${r.version} is already running at ${r.url} (pid ${r.pid}).`,
        `  Open it:       ${berthCommand(at, 'open')}`,
        `  Stop it:       ${berthCommand(at, 'stop')}`,
        `  Take it over:  ${berthCommand(at, 'serve', '--replace')}`,
      ].join('\n'),
      err.exitCode,
      err.details,
    );
  }
  if (err.exitCode === ExitCode.portTaken) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- only a refused start needs it
    const { nextFreePort } = require('../lifecycle/address-check') as typeof import('../lifecycle/address-check');
    const free = await nextFreePort(config.host, config.port).catch(() => undefined);
    if (!free) return err;
    return new BerthError(`${err.message.replace(/\s+$/, '')}\n  Port ${free} is free:  ${berthCommand({ ...config, port: free }, 'serve')}`, err.exitCode, { ...err.details, freePort: free });
  }
  return err;
}

function isRunning(v: unknown): v is { version: string; url: string; pid: number } {
  return typeof v === 'object' && v !== null && typeof (v as { url?: unknown }).url === 'string';
}
