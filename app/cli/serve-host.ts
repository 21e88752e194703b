import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode } from '../errors';
import type { ResolvedConfig } from '../config';
import { appVersion, rendererDir } from '../paths';
import { levelValue, type LogSink } from '../log';
import { probePort } from '../instance/probe';
import { createBerth, openLogs } from '../berth';
import { CONFIRM_MS, guardHandover } from '../guardian/guardian';
import { readHandoffNote, resolveSuccession, type Handoff, type Succession } from '../lifecycle/successor-protocol';
import { headlessRelaunchPlan } from '../lifecycle/plans';
import type { Exposure } from '../server/exposure';
import { headlessUpdates } from '../update/headless';
import { NoAnswer, request } from './api';
import { berthCommand, type Context } from './find';
import type { ForegroundRole } from './foreground';
import { exitCleanlyWithoutTerminal } from './terminal';

/**
 * `berth serve` once the first look found nothing in the way: the server,
 * its logger and the update service. Loaded only then (serve.ts), so a
 * refused start never pays for them; the updater library itself loads only
 * where this copy can update itself, at its first check after serving.
 */
export interface ServeOptions {
  /** Whether this process is a relaunch's successor (resolveSuccession, decided once in serve.ts). */
  succession: Succession;
  /** A listening socket handed over by the predecessor (`--listen-fd`), or passed by systemd. */
  inheritedFd: number | null;
  /** The socket came from systemd (LISTEN_FDS), not from a predecessor. */
  activated?: boolean;
  exposure: Exposure;
  /** Where this process stands towards the one that was started (cli/foreground.ts). */
  foreground: ForegroundRole;
  /** When serve first probed the port: the wait for a silent holder counts from there. */
  firstProbeAt?: number;
  probeTimeout?: number;
  handoffDeadline?: number;
  drainDeadline?: number;
  /** Called once, just after the serving line is out. */
  onServing?: () => void;
}

export async function serveHost(ctx: Context, o: ServeOptions): Promise<number> {
  const { config, flags, out } = ctx;
  // Human-readable lines go to stderr in every mode; --json keeps stdout for machine output.
  // Until it serves, the console shows only warnings and errors: a start that fails prints its error
  // alone, one that succeeds prints the line below. Everything is in the log file either way.
  let serving = false;
  const logs = openLogs(config.dataDir, {
    console: process.stderr,
    consoleFilter: (e) => serving || levelValue(e.level) >= levelValue('warn'),
  });
  const log = logs.root.child({ scope: 'cli' });
  // A terminal closed under us (EIO) or a pipe no one reads (EPIPE) must not end the server; the log file has every line.
  process.stdout.on('error', () => undefined);
  exitCleanlyWithoutTerminal();
  for (const w of config.warnings) log.warn(w);

  const fg = o.foreground;
  let handedOver = false;
  const exit = async (code: number) => {
    const final = await fg.finish(code, handedOver);
    await logs.close();
    process.exit(final);
  };
  const app = ctx.hooks?.app;
  const version = app?.version ?? appVersion();
  const berth = await createBerth({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    version,
    logs,
    log,
    rendererDir: rendererDir(),
    // --replace: ask the running Berth, with the token, to hand the port over; it is then our predecessor.
    succession: flags.replace
      ? async (token) => {
          const claimed = await askToHandOver(config, token, log);
          return claimed ? resolveSuccession(claimed, config.dataDir) : o.succession;
        }
      : o.succession,
    exposure: o.exposure,
    hostFrom: config.hostFrom,
    remoteAllowedBy: config.remoteAllowedBy,
    signals: { passOn: (signal, now) => fg.forward(signal, now) },
    inheritedFd: o.inheritedFd,
    activated: o.activated,
    drainDeadline: o.drainDeadline,
    handoffDeadline: o.handoffDeadline,
    probeTimeout: o.probeTimeout,
    firstProbeAt: o.firstProbeAt,
    updates: headlessUpdates({ dataDir: config.dataDir, version, logs }),
    app,
    // BERTH_HANDOVER=probe: relaunch by close and rebind even where the socket could be handed over (to compare, or to test that path).
    relaunchPlan: () =>
      headlessRelaunchPlan({
        handover: process.env.BERTH_HANDOVER === 'probe' ? 'probe' : undefined,
        // Close and rebind: this process watches its successor for up to two handoff deadlines (ready, then
        // serving), then exits; a guardian watches on, at least as long as the successor had to come up.
        guard: (h, relaunch) => {
          const deadline = o.handoffDeadline ?? 10_000;
          const confirmMs = Math.max(CONFIRM_MS, deadline);
          return guardHandover({ dataDir: config.dataDir, host: h.host, port: h.port, fromVersion: appVersion(), what: 'the relaunch', relaunch, allowanceMs: 2 * deadline + 10_000, confirmMs }, log);
        },
      }),
    exit: (code) => void exit(code),
    exitOnConflict: true,
  });
  let last = berth.host.state;
  berth.host.on('state', (s) => {
    if (s === 'stopped' && last === 'relaunching') handedOver = true;
    last = s;
    fg.state(s, berth.host.url);
  });
  try {
    await berth.start();
  } catch (err) {
    if (err instanceof BerthError) log.error({ console: false, exitCode: err.exitCode }, err.message);
    await logs.close();
    throw err;
  }
  fg.attach({ log, signal: berth.signals!.deliver, gone: () => logs.closeConsole() });
  const s = berth.host.status();
  serving = true;
  const where = s.exposed ? `${s.listenAddress}, open to other machines (on this one: ${s.url})` : s.url;
  out.result(`Berth ${s.version} is serving on ${where} (pid ${s.pid}). Open it signed in with: ${berthCommand({ host: s.host, port: s.port, dataDir: config.dataDir }, 'open')}`, {
    event: 'serving',
    url: s.url,
    listenAddress: s.listenAddress,
    exposed: s.exposed,
    pid: s.pid,
    version: s.version,
    instance: s.instance,
    dataDir: s.dataDir,
  });
  if (o.onServing) setImmediate(o.onServing);
  return new Promise<number>(() => undefined);
}

/**
 * --replace: ask the running Berth to hand the port over. It writes a handoff
 * note in the data directory (which we share, or the token would not have
 * worked) and waits for our proof; we wait for it as our predecessor.
 */
async function askToHandOver(config: ResolvedConfig, token: string, log: LogSink['root']): Promise<Handoff | null> {
  const seen = await probePort(config.host, config.port);
  if (seen.verdict !== 'duplicate' && seen.verdict !== 'predecessor') return null;
  const res = await request(seen, token, 'POST', '/api/handoff').catch((err) => {
    if (!(err instanceof NoAnswer)) throw err;
    throw new BerthError(`Berth at ${seen.running.url} closed the connection before answering the request to hand over (${err.code}); try again.`, ExitCode.unexpected);
  });
  if (res.status !== 202) {
    throw new BerthError(
      `Berth ${seen.running.version} at ${seen.running.url} (pid ${seen.running.pid}) refused to hand over the port (HTTP ${res.status}); it may use another data directory (--data-dir) and token.`,
      ExitCode.alreadyRunning,
    );
  }
  log.info(`asked Berth pid ${seen.running.pid} to hand over ${seen.running.url}`);
  // It answers first, then writes the note (our proof comes from its secret); wait for that, bounded.
  for (let i = 0; i < 250 && readHandoffNote(config.dataDir)?.instance !== seen.running.instance; i++) await sleep(20);
  return { instance: seen.running.instance, pid: seen.running.pid, host: config.host, port: config.port };
}
