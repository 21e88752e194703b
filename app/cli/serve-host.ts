import path from 'node:path';
import { BerthError, ExitCode } from '../errors';
import type { ResolvedConfig } from '../config';
import { appVersion, rendererDir } from '../paths';
import { createLogSink, levelValue, type LogSink } from '../log';
import { ensureToken } from '../server/token';
import { probePort } from '../instance/probe';
import { ServerHost } from '../lifecycle/host';
import { coreApi } from '../lifecycle/api';
import { headlessRelauncher } from '../lifecycle/relaunch';
import { installSignalHandlers } from '../lifecycle/signals';
import { HeadlessUpdates } from '../update/headless';
import { updateEvents } from '../update/api';
import { NoAnswer, request } from './api';
import type { Context } from './find';

/**
 * `berth serve` once the first look found nothing in the way: the server,
 * its logger and the update service. Loaded only then (serve.ts), so a
 * refused start never pays for them; the updater library itself loads only
 * where this copy can update itself, at its first check after serving.
 */
export interface ServeOptions {
  handoffFrom: string | null;
  handoffPid: number | null;
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
  let { handoffFrom, handoffPid } = o;
  // Human-readable lines go to stderr in every mode; --json keeps stdout for machine output.
  // Until it serves, the console shows only warnings and errors: a start that fails prints its error
  // alone, one that succeeds prints the line below. Everything is in the log file either way.
  let serving = false;
  const logs = createLogSink({
    dir: path.join(config.dataDir, 'logs'),
    console: process.stderr,
    consoleFilter: (e) => serving || levelValue(e.level) >= levelValue('warn'),
  });
  const log = logs.root.child({ scope: 'cli' });
  for (const w of config.warnings) log.warn(w);
  const token = ensureToken(config.dataDir);
  if (token.warning) log.warn(token.warning);
  if (flags.replace) ({ handoffFrom, handoffPid } = await askToHandOver(config, token.token, log));

  const updates = new HeadlessUpdates({ dataDir: config.dataDir, version: appVersion(), logs });
  const host = new ServerHost({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    version: appVersion(),
    token: token.token,
    logs,
    rendererDir: rendererDir(),
    handoffFrom,
    handoffPid,
    drainDeadline: o.drainDeadline,
    handoffDeadline: o.handoffDeadline,
    probeTimeout: o.probeTimeout,
    firstProbeAt: o.firstProbeAt,
    relauncher: updates.relauncher(headlessRelauncher()),
    beforeRelaunch: () => updates.service.blockers.waitUntilClear({ onWaiting: (labels) => log.info(`relaunch waits for: ${labels.join(', ')}`) }),
  });
  host.addRoutes(coreApi({ host, logs, dataDir: config.dataDir, feeds: [updateEvents(updates.service)] }));
  updates.attach(host);
  const exit = async (code: number) => {
    await logs.close();
    process.exit(code);
  };
  host.on('exit', (code) => {
    updates.stop();
    void exit(code);
  });
  try {
    await host.start();
  } catch (err) {
    if (err instanceof BerthError) log.error({ console: false, exitCode: err.exitCode }, err.message);
    await logs.close();
    throw err;
  }
  installSignalHandlers({ stop: () => host.stopAndExit(0), log });
  updates.start();
  const s = host.status();
  serving = true;
  out.result(`Berth ${s.version} is serving on ${s.url} (pid ${s.pid}). Open it signed in with: berth open`, {
    event: 'serving',
    url: s.url,
    pid: s.pid,
    version: s.version,
    instance: s.instance,
    dataDir: s.dataDir,
  });
  if (o.onServing) setImmediate(o.onServing);
  return new Promise<number>(() => undefined);
}

/** --replace: ask the running Berth to hand the port over, and wait for it as our predecessor. */
async function askToHandOver(config: ResolvedConfig, token: string, log: LogSink['root']): Promise<{ handoffFrom: string | null; handoffPid: number | null }> {
  const seen = await probePort(config.host, config.port);
  if (seen.verdict !== 'duplicate' && seen.verdict !== 'predecessor') return { handoffFrom: null, handoffPid: null };
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
  return { handoffFrom: seen.running.instance, handoffPid: seen.running.pid };
}
