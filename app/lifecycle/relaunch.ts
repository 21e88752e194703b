import { spawn } from 'node:child_process';

export interface Handoff {
  instance: string;
  pid: number;
  /** Where the predecessor serves now, which may differ from its command line after a move from Settings. */
  host?: string;
  port?: number;
}

/**
 * How a process replaces itself. The headless one is below; the desktop
 * shell supplies one built on Electron's app.relaunch.
 */
export interface Relauncher {
  /** True when start() replaces this very process (execve): the drain must finish first. */
  readonly replacesProcess: boolean;
  /**
   * True when the successor runs beside us (a spawned child): we keep serving
   * while it loads, and close the listener only when it probes us as its
   * predecessor, so the port is unavailable for one bind, not a whole startup.
   * False (Electron's app.relaunch, execve): the successor starts after we exit.
   */
  readonly startsBeforeExit?: boolean;
  /**
   * Start the successor, telling it which instance it replaces. When the
   * successor is our child, return when it exits, so the host can serve
   * again if it dies before taking the port.
   */
  start(handoff: Handoff): Promise<Successor | void>;
}

export interface Successor {
  exited: Promise<number | null>;
  /** Stop a successor that never got as far as probing us. */
  kill(): void;
}

const HANDOFF_FLAGS = new Set(['--handoff', '--handoff-pid']);
const ADDRESS_FLAGS = new Set(['--host', '--port']);
const DROPPED_FLAGS = new Set(['--replace']);

/**
 * The same command line, minus the previous handoff, plus this one. When the
 * handoff names the current address, it replaces --host/--port, so a server
 * moved from Settings relaunches where it is, not where it started.
 */
export function successorArgs(args: readonly string[], handoff: Handoff): string[] {
  const replaced = new Set(HANDOFF_FLAGS);
  if (handoff.host !== undefined && handoff.port !== undefined) for (const f of ADDRESS_FLAGS) replaced.add(f);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [name] = a.split('=', 1);
    if (replaced.has(name!)) {
      if (!a.includes('=')) i++;
      continue;
    }
    if (DROPPED_FLAGS.has(name!)) continue;
    out.push(a);
  }
  const address = handoff.host !== undefined && handoff.port !== undefined ? [`--host=${handoff.host}`, `--port=${handoff.port}`] : [];
  // `--flag=value`: an instance id may begin with '-', which would read as another flag.
  return [...out, ...address, `--handoff=${handoff.instance}`, `--handoff-pid=${handoff.pid}`];
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * Headless relaunch, the `os.execv` path: where Node has process.execve the
 * process image is replaced and the pid kept (launchd and systemd track it);
 * otherwise a detached successor is spawned and this process exits.
 */
export function headlessRelauncher(opts: { argv?: readonly string[]; execArgv?: readonly string[]; preferExecve?: boolean } = {}): Relauncher {
  const argv = opts.argv ?? process.argv;
  const execArgv = opts.execArgv ?? process.execArgv;
  const execve = (process as unknown as { execve?: Execve }).execve;
  const useExecve = (opts.preferExecve ?? true) && typeof execve === 'function';
  return {
    replacesProcess: useExecve,
    startsBeforeExit: !useExecve,
    async start(handoff) {
      const args = [...execArgv, argv[1]!, ...successorArgs(argv.slice(2), handoff)];
      if (useExecve) execve!.call(process, process.execPath, [process.execPath, ...args], process.env);
      return await new Promise<Successor>((resolve, reject) => {
        const child = spawn(process.execPath, args, { detached: true, stdio: 'inherit', windowsHide: true });
        child.once('error', reject);
        child.once('spawn', () => {
          child.unref();
          resolve({ exited: new Promise((r) => child.once('exit', (code) => r(code))), kill: () => child.kill('SIGKILL') });
        });
      });
    },
  };
}
