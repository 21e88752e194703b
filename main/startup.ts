import net from 'node:net';
import { BerthError, ExitCode } from '../app/errors';
import type { Logger } from '../app/log';
import type { RunningBerth } from '../app/instance/verdict';

/**
 * Turning the core's start-up verdicts into desktop behaviour: a dialog with
 * a way forward instead of a silent exit, and never a restart loop (every
 * retry is a person's choice, and there are only a few).
 */

export interface StartDialog {
  kind: 'duplicate' | 'foreign' | 'error';
  type: 'info' | 'warning' | 'error';
  title: string;
  message: string;
  detail: string;
  buttons: string[];
  /** What each button does, by index. */
  choices: StartChoice[];
  defaultId: number;
  cancelId: number;
}

export type StartChoice = 'open-running' | 'other-port' | 'show-logs' | 'quit';

export function startDialog(err: unknown, ctx: { logFile: string | null }): StartDialog {
  if (err instanceof BerthError && err.exitCode === ExitCode.alreadyRunning && isRunning(err.details.running)) {
    const r = err.details.running;
    return {
      kind: 'duplicate',
      type: 'info',
      title: 'Berth',
      message: `Berth is already running at ${r.url}`,
      detail: `Berth ${r.version} (pid ${r.pid}) serves this address, perhaps started with 'berth serve'. Open it, or quit this copy.`,
      buttons: ['Open', 'Quit'],
      choices: ['open-running', 'quit'],
      defaultId: 0,
      cancelId: 1,
    };
  }
  if (err instanceof BerthError && err.exitCode === ExitCode.portTaken) {
    const what = typeof err.details.what === 'string' ? err.details.what : 'another program';
    return {
      kind: 'foreign',
      type: 'warning',
      title: 'Berth',
      message: `Berth's port is in use by ${what}`,
      detail: `${err.message}\n\n"Choose another port…" moves Berth to a free port and saves it in its settings.`,
      buttons: ['Choose another port…', 'Quit'],
      choices: ['other-port', 'quit'],
      defaultId: 0,
      cancelId: 1,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return {
    kind: 'error',
    type: 'error',
    title: 'Berth',
    message: 'Berth could not start its server',
    detail: message + (ctx.logFile ? `\n\nThe log is at ${ctx.logFile}` : ''),
    buttons: ['Quit', 'Show logs'],
    choices: ['quit', 'show-logs'],
    defaultId: 0,
    cancelId: 0,
  };
}

function isRunning(v: unknown): v is RunningBerth {
  return typeof v === 'object' && v !== null && typeof (v as RunningBerth).url === 'string' && typeof (v as RunningBerth).pid === 'number';
}

/** Whether `port` can be listened on right now (a real bind, closed at once). */
export function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port }, () => srv.close(() => resolve(true)));
  });
}

/** A free port near the taken one (so the URL stays recognisable), else one the OS picks. */
export async function pickFreePort(host: string, taken: number, tries = 50): Promise<number> {
  for (let p = taken + 1; p <= Math.min(65535, taken + tries); p++) {
    if (await canListen(host, p)) return p;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0 }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** What startServer needs of a host: start(), and which port it serves. */
export interface StartableHost {
  start(): Promise<void>;
  readonly port: number;
  readonly url: string;
}

export interface StartDeps<H extends StartableHost> {
  /** A fresh host on this port (a failed host is not reused). */
  createHost: (port: number) => H;
  port: number;
  host: string;
  /** Show the dialog; resolves with the button index. */
  ask: (dialog: StartDialog) => Promise<number>;
  /** Remember a newly chosen port in settings.json. */
  savePort: (port: number) => void;
  /** Open a running Berth's UI (the duplicate case). */
  openRunning: (url: string) => void;
  showLogs: () => void;
  log: Logger;
  logFile?: string | null;
  /** Each new host, before it starts: the tray and lifecycle follow it. */
  onHost?: (host: H) => void;
  maxAttempts?: number;
}

export type StartOutcome<H> = { serving: H } | { quit: StartChoice };

/**
 * Start the server; when the port is not ours to take, ask what to do. Only
 * "Choose another port…" tries again, on a port that was free a moment ago,
 * and only a few times.
 */
export async function startServer<H extends StartableHost>(deps: StartDeps<H>): Promise<StartOutcome<H>> {
  let port = deps.port;
  const max = deps.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const host = deps.createHost(port);
    deps.onHost?.(host);
    try {
      await host.start();
      return { serving: host };
    } catch (err) {
      const d = startDialog(err, { logFile: deps.logFile ?? null });
      deps.log.error({ exitCode: err instanceof BerthError ? err.exitCode : ExitCode.unexpected }, `the server did not start on port ${port}: ${(err as Error).message}`);
      if (d.kind === 'foreign' && attempt >= max) {
        deps.log.error(`gave up after ${attempt} ports; quitting`);
        return { quit: 'quit' };
      }
      const choice = d.choices[await deps.ask(d)] ?? 'quit';
      deps.log.info(`start-up dialog (${d.kind}): ${choice}`);
      if (choice === 'open-running' && err instanceof BerthError && isRunning(err.details.running)) {
        deps.openRunning(err.details.running.url);
        return { quit: choice };
      }
      if (choice === 'show-logs') {
        deps.showLogs();
        return { quit: choice };
      }
      if (choice !== 'other-port') return { quit: choice };
      port = await pickFreePort(deps.host, port);
      deps.log.info(`moving to port ${port}, which is free; saving it in settings`);
      try {
        deps.savePort(port);
      } catch (saveErr) {
        deps.log.warn(`could not save port ${port} in settings (${(saveErr as Error).message}); using it for this run only`);
      }
    }
  }
}
