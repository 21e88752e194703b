/**
 * The one place a Berth is put together: log file, token, listen-address
 * check, host, routes, update service, how an install becomes a relaunch
 * plan, signal handling and what ends the process. `berth serve`, the desktop
 * shell and the tests that need "the app as shipped" all call createBerth;
 * only the parts that really differ (the console, the update service, the
 * relaunch plan, the lifecycle owner's install hooks, who handles signals)
 * are handed in. A test guards that nothing else composes one
 * (test/core/layering.test.ts).
 */
import path from 'node:path';
import { BerthError, ExitCode } from './errors';
import { announceServing, releaseGuardians, takeGuardianReports, type GuardianReport } from './guardian/guardian';
import { coreApi } from './routes';
import type { EventFeed } from './events/routes';
import { relaunchInProgress, type ProvenHandoff, type Succession } from './lifecycle/successor-protocol';
import { ServerHost, type HostOptions } from './lifecycle/host';
import { installPlan, type InstallHooks, type InstallStep, type RelaunchPlan } from './lifecycle/plans';
import type { HostedApp } from './hosting/definition';
import { hostedAppRoutes } from './hosting/routes';
import { HostedRuntime } from './hosting/runtime';
import type { ApiRoutes } from './server/web';
import { checkListenHost, exposureWarning, type Exposure } from './server/exposure';
import { ensureToken } from './server/token';
import { createLogSink, type ConsoleFilter, type LogSink, type Logger } from './log';
import { installSignalHandlers, type SignalHandlers, type StopSignal } from './lifecycle/signals';
import type { Settings } from './settings/settings';
import { diagnosticsRoutes } from './diagnostics/routes';
import { recordWhileServing } from './runtime/while-serving';
import { apiRequestBlockers, updateApi, updateEvents } from './update/api';
import type { UpdateHooks, UpdateService } from './update/service';

/**
 * A Berth's log: berth.log under the data folder, and the console. Opened by
 * the process owner before createBerth, because both log before there is a
 * Berth (the desktop before its single-instance lock, `berth serve` its
 * configuration's warnings and --replace); tests hand in a memory sink.
 */
export function openLogs(dataDir: string, o: { console: NodeJS.WritableStream | null; consoleFilter?: ConsoleFilter }): LogSink {
  return createLogSink({ dir: path.join(dataDir, 'logs'), console: o.console, consoleFilter: o.consoleFilter });
}

/** The host's own options pass straight through; the rest is what only the composition decides. */
export interface BerthOptions
  extends Pick<HostOptions, 'host' | 'port' | 'dataDir' | 'version' | 'logs' | 'rendererDir' | 'drainDeadline' | 'handoffDeadline' | 'probeTimeout' | 'firstProbeAt' | 'confirmWindow' | 'answerMs'> {
  /**
   * Whether this process is the successor of a relaunch here (successor-protocol.ts resolveSuccession, decided once); default: a fresh start.
   * A function is given the token first (`berth serve --replace` asks the running Berth with it to hand over).
   */
  succession?: Succession | ((token: string) => Promise<Succession>);
  /** The listen address, already checked (`berth serve` checks it before loading the server); absent: checked here. */
  exposure?: Exposure;
  /** Where the host setting came from, for the warning an exposed address gets once serving (config.ts). */
  hostFrom?: string;
  remoteAllowedBy?: string | null;
  /**
   * Headless: SIGINT, SIGTERM and SIGHUP drain and stop (lifecycle/signals.ts), installed once serving;
   * `passOn` tells the process that was started (cli/foreground.ts) of each stop. Absent: the process owner
   * ends the process its own way (the desktop: Electron's quit sequence and the Windows session end).
   */
  signals?: { passOn: (signal: StopSignal, now: boolean) => void };
  /** The process owner's logger, for what it would say itself: the token, an exposed address, signals (default: scope berth). */
  log?: Logger;
  /** A listening socket handed over by the predecessor (`--listen-fd`), or passed by systemd (`activated`). */
  inheritedFd?: number | null;
  activated?: boolean;
  /** Builds the update service around the hooks that hand the port over. */
  updates: (hooks: UpdateHooks) => UpdateService;
  /** What Restart app does here (headless: a new process beside us; desktop: Electron's relaunch). */
  relaunchPlan: () => RelaunchPlan;
  /** The lifecycle owner's part in an install (the desktop hands its single-instance lock over, and takes it back on failure). */
  installHooks?: InstallHooks;
  onSettingsSaved?: (settings: Settings) => void;
  routes?: ApiRoutes[];
  feeds?: EventFeed[];
  /** The app this Berth hosts (app/hosting): in process, or a child server behind the port. Absent: Berth's console alone. */
  app?: HostedApp;
  /**
   * The process owner's exit: called with 0 when a stop or relaunch asked of
   * the host has finished, and with 4 when the port was lost to another
   * program while serving (exitOnConflict), so nothing exits 0 without serving.
   */
  exit: (code: number) => void;
  /** Headless: a lost port ends the process with exit 4. The desktop shows the conflict instead. */
  exitOnConflict: boolean;
}

export interface Berth {
  host: ServerHost;
  /** The sign-in token of this data folder (server/token.ts). */
  token: string;
  /** Where the listen address can be reached from. */
  exposure: Exposure;
  /** The signal handlers, once serving, when `signals` asked for them: how a stop passed on by the foreground process arrives. */
  signals: SignalHandlers | null;
  /** The hosted app in this process, if there is one. */
  app: HostedRuntime | null;
  updates: UpdateService;
  handoff: ProvenHandoff | null;
  /** What guardians did while no Berth served (filled by start()): the desktop shows each as a notification. */
  recovered: GuardianReport[];
  /** Claim the port (or take the socket handed over) and serve; tell a predecessor that handed its socket over. */
  start(): Promise<void>;
}

export async function createBerth(o: BerthOptions): Promise<Berth> {
  const log = o.logs.root.child({ scope: 'berth' });
  const said = o.log ?? log;
  const { token, warning } = ensureToken(o.dataDir);
  if (warning) said.warn(warning);
  // A name must stand for this machine, and listening beyond it is said out loud (once serving).
  const exposure = o.exposure ?? (await checkListenHost(o.host));
  const succession: Succession = (typeof o.succession === 'function' ? await o.succession(token) : o.succession) ?? { kind: 'fresh', unproven: null };
  if (succession.kind === 'bystander') throw relaunchInProgress(succession.note);
  const proven = succession.kind === 'successor' ? succession.handoff : null;
  const unproven = succession.kind === 'fresh' ? succession.unproven : null;
  if (unproven) log.warn(`--handoff names instance ${unproven.instance} (pid ${unproven.pid}), but no handoff note from it is in ${o.dataDir}: starting as a new Berth`);
  if (o.inheritedFd != null && !proven && !o.activated) throw new BerthError('A listening socket was handed over (--listen-fd) without a handoff note from the predecessor; refusing to use it.', ExitCode.usage);

  const runtime = o.app ? new HostedRuntime(o.app, { dataDir: o.dataDir, logs: o.logs, token }) : null;
  let host!: ServerHost;
  const updates = o.updates({
    // A handover that fails after the installer started (a new version that crashes) is a failed install too.
    handOver: (step: InstallStep) =>
      host.relaunch(installPlan(step, o.installHooks)).then(
        () => undefined,
        (err: unknown) => {
          o.installHooks?.failed?.(err);
          throw err;
        },
      ),
  });
  host = new ServerHost({
    host: proven?.host ?? o.host,
    port: proven?.port ?? o.port,
    dataDir: o.dataDir,
    version: o.version,
    token,
    logs: o.logs,
    rendererDir: o.rendererDir,
    handoff: proven,
    inheritedFd: proven || o.activated ? (o.inheritedFd ?? null) : null,
    activated: o.activated,
    drainDeadline: o.drainDeadline,
    handoffDeadline: o.handoffDeadline,
    probeTimeout: o.probeTimeout,
    firstProbeAt: o.firstProbeAt,
    confirmWindow: o.confirmWindow,
    answerMs: o.answerMs,
    relaunchPlan: o.relaunchPlan,
    site: runtime?.site(),
    appStatus: runtime ? () => runtime.status() : undefined,
    appId: o.app?.id,
    onHandover: runtime ? (instance) => runtime.carry(instance) : undefined,
    // The app's requests held during the relaunch go on to the successor on the same port, or run here again.
    afterHandover: runtime ? (serves) => runtime.handedOver(serves ? { host: host.host, port: host.port } : null) : undefined,
    // A relaunch waits for requests in flight (settings saves...), up to their bound, like an install.
    beforeRelaunch: () => updates.blockers.waitUntilClear({ onWaiting: (labels) => log.info(`relaunch waits for: ${labels.join(', ')}`) }),
  });
  host.addRoutes(apiRequestBlockers(updates.blockers));
  host.addRoutes(coreApi({ host, logs: o.logs, dataDir: o.dataDir, onSettingsSaved: o.onSettingsSaved, feeds: [updateEvents(updates), ...(o.feeds ?? [])] }));
  host.addRoutes(updateApi(updates));
  host.addRoutes(hostedAppRoutes(runtime));
  if (runtime) {
    // The app's child follows what it says: its state is part of Berth's status.
    runtime.child?.on('change', () => host.emit('change', host.status()));
  }
  host.addRoutes(diagnosticsRoutes({ host, updates, logs: o.logs, dataDir: o.dataDir, token }));
  for (const r of o.routes ?? []) host.addRoutes(r);

  // runtime.json and this user's list of running Berths: how `berth status --data-dir` and `berth list` find it.
  recordWhileServing(host, { dataDir: o.dataDir, desktop: !!process.versions.electron, log });

  host.on('exit', (code) => {
    updates.stop();
    // The app's child server stops before the process ends.
    void (runtime?.dispose() ?? Promise.resolve()).finally(() => o.exit(code));
  });
  let served = false;
  host.on('state', (s) => {
    if (s === 'serving') served = true;
    // Stopped after serving (a stop, or the successor serves): the app's child server stops too.
    if (s === 'stopped' && served) void runtime?.dispose();
    // The port was lost while serving (taken between a close and a rebind): never a quiet exit 0.
    if (s === 'conflict' && served && o.exitOnConflict) {
      updates.stop();
      o.exit(ExitCode.portTaken);
    }
  });

  // Guardians (app/guardian): each one pending here watches the Berth that serves, until it has served a while;
  // one that stops on purpose (or hands over again, under a guardian of its own) lets go of those watching it.
  host.on('state', (s) => {
    if (s === 'serving') announceServing(o.dataDir);
    else if (s === 'stopped') releaseGuardians(o.dataDir);
  });
  const recovered: GuardianReport[] = [];
  let warned = false;

  const berth: Berth = {
    host,
    token,
    exposure,
    signals: null,
    app: runtime,
    updates,
    handoff: proven,
    recovered,
    async start() {
      await runtime?.prepare(proven?.instance ?? null);
      // A predecessor that started us hears from the host when it serves (on its channel).
      await host.start();
      // A guardian found no Berth serving, and started this one (or one before it): say what happened.
      for (const r of takeGuardianReports(o.dataDir, o.version)) {
        host.record({ kind: 'recovered', downtimeMs: r.downtimeMs, detail: r.message, failed: r.reason });
        log.warn(r.message);
        recovered.push(r);
      }
      // Requests wait for the child while it starts (they are held, not refused).
      void runtime?.start().catch((err: Error) => log.error(`${o.app!.name} could not be started: ${err.message}`));
      updates.start();
      if (exposure.exposed && !warned) {
        warned = true;
        said.warn(exposureWarning({ host: o.host, port: o.port, hostFrom: o.hostFrom ?? 'the options', remoteAllowedBy: o.remoteAllowedBy ?? null }, exposure));
      }
      if (o.signals && !berth.signals) berth.signals = signalHandling(host, o.signals.passOn, said);
    },
  };
  return berth;
}

function signalHandling(host: ServerHost, passOn: (signal: StopSignal, now: boolean) => void, log: Logger): SignalHandlers {
  return installSignalHandlers({
    stop: (signal) => {
      passOn(signal, false);
      return host.stopAndExit(0);
    },
    now: (signal) => passOn(signal, true),
    // Handed over, and waiting for the Berth serving now: the stop is passed on.
    doing: () => (host.state === 'stopped' ? 'stopping the Berth serving now' : 'draining and stopping'),
    log,
  });
}
