import fs from 'node:fs';
import path from 'node:path';
import { ExitCode } from '../errors';
import { refusalFor } from '../instance/claim';
import { probePort } from '../instance/probe';
import { BerthError } from '../errors';
import { relaunchInProgress, resolveSuccession, whomDoIReplace } from '../lifecycle/successor-protocol';
import { checkListenHost } from '../server/exposure';
import { checkDataFolder } from '../files/folder';
import { millis } from './args';
import type { Context } from './find';
import { configForSocket, takeActivatedSocket } from './activation';
import { foregroundRole } from './foreground';
import { withCommands } from './hints';

/**
 * `berth serve`, up to the decision to serve: a running Berth or another
 * program on the port is answered from one probe, before the server, its
 * logger and its libraries load (serve-host.ts), so a duplicate start costs
 * about one Node start-up.
 */
export async function serve(context: Context): Promise<number> {
  // A socket from systemd decides where Berth serves (cli/activation.ts).
  const activated = takeActivatedSocket();
  const ctx = activated ? { ...context, config: configForSocket(context.config, activated) } : context;
  const { config, flags } = ctx;
  // electron-updater's AppImage install runs the new file once with this set, and waits for it.
  if (process.env.APPIMAGE_EXIT_AFTER_INSTALL === 'true') return ExitCode.ok;
  // Before anything is read or made there: a path that cannot be a data folder ends the start at once, named.
  checkDataFolder(config.dataDir, config.sources.dataDir === 'env' ? 'BERTH_DATA_DIR' : '--data-dir');
  // Who we replace, if anyone, and whether we are the one its predecessor is waiting for.
  const { claimed, inheritedFd: handedFd, problem } = whomDoIReplace({ handoff: flags.handoff, handoffPid: flags['handoff-pid'], host: config.host, port: config.port, listenFd: flags['listen-fd'] });
  if (problem) throw new BerthError(problem, ExitCode.usage);
  const inheritedFd = activated ? activated.fd : handedFd;
  const succession = resolveSuccession(claimed, config.dataDir);
  // Someone else's relaunch is under way here: leave it alone (exit 3), whatever the flags.
  if (succession.kind === 'bystander') {
    const refusal = relaunchInProgress(succession.note);
    recordRefusal(config.dataDir, `a relaunch is in progress -> exit: ${refusal.message}`);
    throw refusal;
  }
  const successor = succession.kind === 'successor';
  // A name must stand for this machine only, and a network address is said out loud once serving.
  const exposure = await checkListenHost(config.host);
  const probeTimeout = millis(flags['probe-timeout'], 'probe-timeout', 1);
  const timeouts = {
    probeTimeout,
    handoffDeadline: millis(flags['handoff-timeout'], 'handoff-timeout'),
    drainDeadline: millis(flags['drain-timeout'], 'drain-timeout'),
  };
  // Before the server loads: a relaunched Berth tells the process that was started it is coming, so a stop meets it too.
  // Its successor gets the handoff deadline, and as long again to load, before the started process gives up on it.
  const foreground = foregroundRole({ relaunched: successor, dataDir: config.dataDir, successorDeadline: 2 * (timeouts.handoffDeadline ?? 10_000) });

  // First look. (claimPort probes again before binding, so a race after this look is still caught.)
  // A successor skips it: its probe proves to its predecessor that it may let go of the port,
  // and that must happen only once the server is loaded and ready to bind.
  const firstProbeAt = performance.now();
  // So does a Berth given its socket by systemd: the socket is its own, and a probe would only reach its own queue.
  const first = flags.replace || successor || activated ? null : await probePort(config.host, config.port, { timeout: probeTimeout });
  const refusal = first ? refusalFor(first) : null;
  if (refusal) {
    for (const w of config.warnings) ctx.out.warn(w);
    const unproven = succession.kind === 'fresh' ? succession.unproven : null;
    if (unproven) ctx.out.warn(`--handoff names instance ${unproven.instance} (pid ${unproven.pid}), but no handoff note from it is in ${config.dataDir}: starting as a new Berth`);
    recordRefusal(config.dataDir, `probe ${first!.address}:${first!.port}: ${first!.verdict} -> exit: ${refusal.message}`);
    throw await withCommands(refusal, config);
  }

  const { serveHost } = await import('./serve-host.js');
  const onServing = () => {
    // In this order: the compile cache is made under the flags the next start compiles with.
    ctx.hooks?.serving?.();
    useMemorySparingly();
  };
  try {
    return await serveHost(ctx, { succession, inheritedFd, activated: !!activated, exposure, foreground, firstProbeAt: first ? firstProbeAt : undefined, onServing, ...timeouts });
  } catch (err) {
    // Refused while claiming the port (another Berth or program got there first): with the commands that help.
    throw await withCommands(err, config);
  }
}

/**
 * Put a refused start in berth.log, as the server's logger would have, without
 * loading it: one JSON line appended (the running server appends to the same
 * file). Nothing is created for it; a data directory without logs stays so.
 */
function recordRefusal(dataDir: string, msg: string): void {
  try {
    const line = JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, scope: 'cli', msg });
    fs.appendFileSync(path.join(dataDir, 'logs', 'berth.log'), line + '\n', { mode: 0o600 });
  } catch {
    // no log folder yet, or not writable: the message on the terminal is the record
  }
}

/**
 * A server that may run for weeks beside the user's other programs: memory over
 * speed. V8 otherwise grows its young generation to 32 MB and keeps the old one
 * at its high-water mark, so a thousand in-place restarts left RSS at over
 * twice its idle size; with these it stays near idle (bench/startup.mjs). Both
 * flags are read by the garbage collector as it runs, so setting them once
 * serving takes effect; setting them before would cost start-up more
 * collections while the server loads.
 */
function useMemorySparingly(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- not before serving: a refused start never needs it
  const v8 = require('node:v8') as typeof import('node:v8');
  v8.setFlagsFromString('--optimize-for-size');
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
