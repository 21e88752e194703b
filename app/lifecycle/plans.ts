/**
 * Relaunch plans as data. Every relaunch and update install is one call to
 * the host with one of these; the plan says who starts the successor and what
 * happens to the listening socket (ARCHITECTURE.md, "Handover: one engine,
 * four plans"). An in-place restart needs no plan: it is `host.restart()`.
 */
import type { ChildProcess } from 'node:child_process';
import { startSuccessor, type SuccessorProcess } from './successor-process';
import { HANDOFF_ENV, encodeHandoffEnv, freshArgs, listenFdArgs, successorArgs, type Handoff } from './successor-protocol';

/** A process that has really started (its `spawn` event fired). */
export interface Started {
  /** Its pid, for a watcher that outlives us (a guardian waiting for an installer). */
  pid?: number;
  /** Resolves with the exit code when it exits; never, for a process we cannot watch. */
  exited: Promise<number | null>;
  /** Stop a successor that will not get as far as serving. */
  kill(): void;
}

/** What every plan may have. */
interface PlanBase {
  label: string;
  /** Restart blockers were already waited for (an update install waits for them itself, with its own bound). */
  blockersCleared?: boolean;
  /** Work done while this process still serves, before anything closes (a package install that asks for a password). */
  prepare?: () => Promise<void>;
  /**
   * Called just before this process lets go of the port while its successor
   * has yet to serve (close and rebind, after exit): the place to start a
   * watcher that outlives this process. A rejection keeps this process
   * serving, like any other failure before the port is let go.
   */
  beforeLettingGo?: (h: Handoff) => Promise<void>;
}

/**
 * The successor is our own child, started from a worker thread
 * (successor-process.ts) with an IPC channel: that channel is its proof,
 * and how it says `ready` and `serving`. `socket`: where we can, it inherits
 * the listening socket (`start` gets its descriptor) and the port never
 * closes. `probe`, or a socket we cannot pass: we keep serving until it says
 * it is ready, then close, and it binds.
 */
export interface OwnSuccessorPlan extends PlanBase {
  kind: 'beside';
  startedBy: 'berth';
  handover: 'socket' | 'probe';
  start(h: Handoff, fd: number | null): SuccessorProcess;
}

/**
 * A successor with no channel to us starts beside us (an updater's, a `berth
 * serve --replace` already running, or the desktop's AppImage started again
 * from outside its mount): it proves itself with the note's secret in its
 * handoff probe; we close, and it binds.
 */
export interface NoteSuccessorPlan extends PlanBase {
  kind: 'beside';
  startedBy: 'updater' | 'newcomer' | 'appimage';
  handover: 'probe';
  start(h: Handoff): Promise<Started>;
}

/**
 * The successor starts after this process exits (Electron's app.relaunch,
 * an installer that waits for us). `start` resolves once that is certain:
 * the relaunch is registered, or the installer's process has started.
 */
export interface AfterExitPlan extends PlanBase {
  kind: 'after-exit';
  startedBy: 'electron' | 'installer';
  start(h: Handoff): Promise<Started | void>;
}

export type RelaunchPlan = OwnSuccessorPlan | NoteSuccessorPlan | AfterExitPlan;

/**
 * One update install (app/update builds it from electron-updater): which
 * order the new version starts in, and how to start the installer. `start`
 * resolves only once the installer's process has really started.
 */
export interface InstallStep {
  /**
   * `beside`: the new version starts while this process still runs
   * (AppImage): keep serving until it proves it is ready, then close.
   * `after-exit` (NSIS, Squirrel.Mac, deb): the new version starts after this
   * process has exited.
   */
  order: 'beside' | 'after-exit';
  /** Work done while this process still serves, before anything closes (writing the new version, a package install, Squirrel.Mac's staging). */
  prepare?: () => Promise<void>;
  /** `env`: what the new version must find in its environment (the handoff), for an installer that passes it on. */
  start(env: Record<string, string>): Promise<Started | void>;
  /** The installer starts nothing itself (deb): the process owner starts the new version once this one exits. */
  relaunchAfter?: boolean;
  /** How this process ends once the port is let go, where the installer quits the app itself (Squirrel.Mac's quitAndInstall). */
  endWith?: () => void;
  /**
   * After exit, nothing of this process is left to see the installer or the
   * new version fail: a guardian (app/guardian) should watch. `what` is the
   * subject of its report ("the update to 1.0.1"); `installerMayOutlive`:
   * the process started is a launcher (elevate.exe) the installer can outlive.
   */
  guard?: { what: string; toVersion: string; installerMayOutlive?: boolean };
}

/**
 * An update install as a relaunch plan. The handoff rides in the installer's
 * environment for one that passes it on (AppImage); one that starts the new
 * version through the shell (NSIS) drops it, and the note in the data
 * directory is enough. `hooks` let the desktop's lifecycle owner hand over
 * the single-instance lock, take it back if the installer fails, and end the
 * process the way the installer needs.
 */
export interface InstallHooks {
  beforeStart?: () => void;
  failed?: (err: unknown) => void;
  /** Start the new version once this process exits (Electron's app.relaunch), for an installer that does not. */
  relaunch?: (h: Handoff) => void;
  /** End the process with this, instead of exiting, once the port is let go (step.endWith). */
  endWith?: (end: () => void) => void;
  /**
   * Start a guardian for the install (step.guard), before the port is let
   * go: `waitForPid` is the installer's, when one was started. Without this
   * hook there is none (`berth serve` installs only AppImages, beside itself).
   */
  guard?: (h: Handoff, watch: { what: string; toVersion: string; waitForPid: number | null; installerMayOutlive: boolean }) => Promise<unknown>;
}

export function installPlan(step: InstallStep, hooks: InstallHooks = {}): RelaunchPlan {
  const start = async (h: Handoff): Promise<Started | void> => {
    try {
      hooks.beforeStart?.();
      const s = await step.start({ [HANDOFF_ENV]: encodeHandoffEnv(h) });
      if (step.relaunchAfter) {
        if (!hooks.relaunch) throw new Error('nothing here can start the new version after this one exits');
        hooks.relaunch(h);
      }
      if (step.endWith) {
        if (!hooks.endWith) throw new Error('nothing here can end this process the way the installer needs');
        hooks.endWith(step.endWith);
      }
      // The guardian's spawn comes first thing: even an installer that kills us now (NSIS, after about a second) leaves it running.
      if (step.guard && hooks.guard) await hooks.guard(h, { ...step.guard, installerMayOutlive: !!step.guard.installerMayOutlive, waitForPid: s?.pid ?? null });
      return s;
    } catch (err) {
      hooks.failed?.(err);
      throw err;
    }
  };
  if (step.order === 'beside') {
    return {
      kind: 'beside',
      handover: 'probe',
      startedBy: 'updater',
      label: 'update: the installer starts the new version beside this one',
      blockersCleared: true,
      prepare: step.prepare,
      start: async (h) => (await start(h)) ?? { exited: new Promise<number | null>(() => undefined), kill: () => undefined },
    } satisfies NoteSuccessorPlan;
  }
  return { kind: 'after-exit', startedBy: 'installer', label: 'update: the new version starts after this one exits', blockersCleared: true, prepare: step.prepare, start };
}

/** Resolves on the child's `spawn` event, rejects on its `error`: a library returning true proves nothing. */
export function started(child: ChildProcess): Promise<Started> {
  return new Promise((resolve, reject) => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      child.on('error', () => undefined);
      resolve({ pid: child.pid, exited, kill: () => void child.kill('SIGKILL') });
    });
  });
}

export interface HeadlessPlanOptions {
  argv?: readonly string[];
  execArgv?: readonly string[];
  platform?: NodeJS.Platform;
  /** Force the close-and-rebind plan even where the socket could be handed over (tests, soak). */
  handover?: 'socket' | 'probe';
  /**
   * Close and rebind: called as the successor starts, with how to start this
   * Berth afresh (app/guardian watches the port once we have gone); this
   * process waits for it before it lets go of the port. It never rejects.
   */
  guard?: (h: Handoff, relaunch: { command: string; args: string[] }) => Promise<unknown>;
}

/**
 * `berth restart --app`: a new `berth serve` beside us, started from a worker
 * thread with an IPC channel. On Linux and macOS it inherits the listening
 * socket (stdio[3]); Windows cannot listen on an inherited descriptor, so
 * there it says when it is ready, we close, and it binds.
 */
export function headlessRelaunchPlan(opts: HeadlessPlanOptions = {}): OwnSuccessorPlan {
  const argv = opts.argv ?? process.argv;
  const execArgv = opts.execArgv ?? process.execArgv;
  const platform = opts.platform ?? process.platform;
  const command = (h: Handoff, extra: string[] = []) => [...execArgv, argv[1]!, ...successorArgs(argv.slice(2), h, extra)];
  const handover = opts.handover ?? (platform === 'win32' ? 'probe' : 'socket');
  let guarding: Promise<unknown> | undefined;
  return {
    kind: 'beside',
    // Windows cannot listen on an inherited descriptor.
    handover: platform === 'win32' ? 'probe' : handover,
    startedBy: 'berth',
    label: handover === 'socket' ? 'a new process takes over the listening socket' : 'a new process binds when this one closes',
    start(h, fd) {
      // Close and rebind: the guardian starts while the successor loads (PowerShell takes a moment).
      if (fd === null) guarding = opts.guard?.(h, { command: process.execPath, args: [...execArgv, argv[1]!, ...freshArgs(argv.slice(2), h)] });
      // stdio[3] is INHERITED_FD, the descriptor `--listen-fd` names; the channel comes after it.
      const stdio: ('ignore' | 'inherit' | 'ipc' | number)[] = fd === null ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'inherit', 'inherit', fd, 'ipc'];
      return startSuccessor(process.execPath, command(h, fd === null ? [] : listenFdArgs()), { detached: true, stdio, windowsHide: true });
    },
    // ... and runs before anything closes.
    beforeLettingGo: async () => void (await guarding),
  };
}

/**
 * `berth serve --replace`: the successor is already running and asked for the
 * port through the API, so there is nothing to start; it waits for the note,
 * and proves itself with the handoff probe like any other.
 */
export function replacementPlan(): NoteSuccessorPlan {
  return {
    kind: 'beside',
    handover: 'probe',
    startedBy: 'newcomer',
    label: 'a `berth serve --replace` takes the port',
    start: async () => ({ exited: new Promise<number | null>(() => undefined), kill: () => undefined }),
  };
}
