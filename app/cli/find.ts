import { setTimeout as sleep } from 'node:timers/promises';
import { addressFlags, berthCommandLine } from '../berth-command';
import type { ResolvedConfig } from '../config';
import { listRecords, readRuntimeFile } from '../runtime/record';
import { BerthError, ExitCode } from '../errors';
import { PROBE_TIMEOUT_MS, probeAddresses, probePort, type ProbeResult } from '../instance/probe';
import type { HostedApp } from '../hosting/definition';
import type { Flags } from './args';
import type { Output } from './output';

/**
 * How the commands that talk to a running Berth (status, stop, restart, open)
 * find it: a probe of the configured address, and the errors for what they
 * find instead (nothing, or another program).
 */

export interface Context {
  config: ResolvedConfig;
  flags: Flags;
  out: Output;
  probeTimeout?: number;
  hooks?: RunHooks;
}

/** What the program running the command (bin/berth.js, or a hosted app's own command) brings and wants to hear of. */
export interface RunHooks {
  /** The app this command hosts (app/hosting): its name and port are the defaults, and `serve` serves it. */
  app?: HostedApp;
  /** `serve` is serving: start-up is over (bin/berth.js writes its compile cache then). */
  serving?: () => void;
}

export type RunningProbe = ProbeResult & { verdict: 'duplicate' | 'predecessor' };

/** How often a request or probe that met a closing connection is tried, and how long to wait between. */
export const ATTEMPTS = 6;
export const backoff = (attempt: number) => 25 * 2 ** attempt;

export function isBerth(p: ProbeResult): p is RunningProbe {
  return p.verdict === 'duplicate' || p.verdict === 'predecessor';
}

export function where(p: { address: string; port: number }): string {
  return `${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port}`;
}

/**
 * Probe Berth's address. A connection closed without a word is what a server
 * in the middle of a restart can do; probe again before believing it.
 */
export async function look(ctx: Context, timeout = ctx.probeTimeout): Promise<ProbeResult> {
  let p = await probePort(ctx.config.host, ctx.config.port, { timeout });
  for (let attempt = 0; attempt < ATTEMPTS - 1 && p.observation.kind === 'closed'; attempt++) {
    await sleep(backoff(attempt));
    p = await probePort(ctx.config.host, ctx.config.port, { timeout });
  }
  return p;
}

/** A `berth` command line, as it runs here, for the same Berth this one looked for: `node bin/berth.js open --port 9000`. */
export function berthCommand(config: Pick<ResolvedConfig, 'host' | 'port' | 'dataDir'>, command: string, ...extra: string[]): string {
  return berthCommandLine([command, ...extra, ...addressFlags(config)]);
}

/**
 * Where the command should look. Given only a data folder (no --host or
 * --port, nor BERTH_HOST or BERTH_PORT), the Berth of that folder says where
 * it serves in its runtime file, which beats the settings (it may have been
 * started with --port). Given only an address, this user's list of running
 * Berths says which data folder (and so which token) the Berth there uses.
 */
export function locate(config: ResolvedConfig): ResolvedConfig {
  const addressGiven = config.sources.host === 'flag' || config.sources.host === 'env' || config.sources.port === 'flag' || config.sources.port === 'env';
  if (!addressGiven) {
    const rec = readRuntimeFile(config.dataDir);
    return rec ? { ...config, host: rec.host, port: rec.port } : config;
  }
  if (config.sources.dataDir !== 'default') return config;
  const there = listRecords().filter((r) => r.port === config.port && (r.host === config.host || probeAddresses(r.host)[0] === probeAddresses(config.host)[0]));
  return there.length === 1 && there[0]!.dataDir !== config.dataDir ? { ...config, dataDir: there[0]!.dataDir } : config;
}

/** The error for a probe that found no Berth: not running (exit 1) or another program on the port (exit 4). */
export function notBerth(ctx: Context, p: ProbeResult): BerthError {
  if (p.verdict === 'free') return new BerthError(`Berth is not running on ${where(p)}. Start it with: ${berthCommand(ctx.config, 'serve')}`, ExitCode.unexpected, { running: false });
  // A Berth this data folder names, busy or stopped, is silent too: say so rather than call it another program.
  const ours = p.verdict === 'silent' ? readRuntimeFile(ctx.config.dataDir) : null;
  if (ours && ours.port === p.port) {
    const waited = (ctx.probeTimeout ?? PROBE_TIMEOUT_MS) / 1000;
    return new BerthError(
      `Berth pid ${ours.pid} on ${where(p)} accepted the connection but did not answer within ${waited} s (busy, or stopped). Try again, or give it longer with --probe-timeout <ms>.`,
      ExitCode.unexpected,
      { running: true, pid: ours.pid, answered: false },
    );
  }
  const what = p.verdict === 'foreign' ? p.what : p.verdict === 'silent' ? 'a program that accepts connections but does not answer' : 'something else';
  return new BerthError(`Port ${p.port} is in use by ${what}, not by Berth.`, ExitCode.portTaken, { running: false, foreign: what });
}

/** The Berth on the configured address, or the error that says why there is none. */
export async function runningBerth(ctx: Context): Promise<RunningProbe> {
  const p = await look(ctx);
  if (isBerth(p)) return p;
  throw notBerth(ctx, p);
}
