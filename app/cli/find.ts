import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedConfig } from '../config';
import { BerthError, ExitCode } from '../errors';
import { probePort, type ProbeResult } from '../instance/probe';
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

/**
 * A `berth` command line for the same Berth this one looked for: with the
 * address and data directory the user typed (what came from the environment
 * or the settings file is found again the same way).
 */
export function berthCommand(flags: Flags, command: string, ...extra: string[]): string {
  const args = ['berth', command, ...extra];
  if (flags.host !== undefined) args.push('--host', flags.host);
  if (flags.port !== undefined) args.push('--port', flags.port);
  if (flags['data-dir'] !== undefined) args.push('--data-dir', flags['data-dir']);
  return args.map(shellWord).join(' ');
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The error for a probe that found no Berth: not running (exit 1) or another program on the port (exit 4). */
export function notBerth(ctx: Context, p: ProbeResult): BerthError {
  if (p.verdict === 'free') return new BerthError(`Berth is not running on ${where(p)}. Start it with: ${berthCommand(ctx.flags, 'serve')}`, ExitCode.unexpected, { running: false });
  const what = p.verdict === 'foreign' || p.verdict === 'silent' ? p.what : 'something else';
  return new BerthError(`Port ${p.port} is in use by ${what}, not by Berth.`, ExitCode.portTaken, { running: false, foreign: what });
}

/** The Berth on the configured address, or the error that says why there is none. */
export async function runningBerth(ctx: Context): Promise<RunningProbe> {
  const p = await look(ctx);
  if (isBerth(p)) return p;
  throw notBerth(ctx, p);
}
