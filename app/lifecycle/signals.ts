import type { Logger } from '../log';

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGBREAK';

export interface SignalHandlers {
  /**
   * Act on a signal received elsewhere (the terminal's process passes on its
   * Ctrl+C, cli/foreground.ts). `again`: the sender had already passed one on.
   * Without it, a signal that finds a stop under way is the same stop, so one
   * that arrives both directly and passed on (systemd signals every process
   * of a service) never cuts the drain short.
   */
  deliver(signal: StopSignal, again: boolean): void;
  remove(): void;
}

/**
 * SIGINT, SIGTERM and SIGHUP (SIGBREAK on Windows: Ctrl+Break) drain and stop.
 * A second SIGINT or SIGTERM exits at once, for a person who does not want to
 * wait. SIGHUP is the terminal hanging up: a closing terminal and the shell in
 * it may each send one, so another SIGHUP never hurries the drain.
 */
export function installSignalHandlers(opts: {
  stop: (signal: StopSignal) => Promise<void>;
  /** Before exiting at once, at the second signal. */
  now?: (signal: StopSignal) => void;
  /** What the stop does, in words for the log (default: draining and stopping). */
  doing?: () => string;
  log: Logger;
}): SignalHandlers {
  const signals: StopSignal[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  if (process.platform === 'win32') signals.push('SIGBREAK');
  // 'passed on': the stop came from the waiter; the same signal sent here directly (systemd signals every
  // process of a service) is that stop, not a second one.
  let stopping: 'no' | 'passed on' | 'signalled' = 'no';
  const begin = (signal: StopSignal) => {
    const doing = opts.doing?.() ?? 'draining and stopping';
    opts.log.info(signal === 'SIGHUP' ? `SIGHUP: ${doing}` : `${signal}: ${doing} (send it again to exit at once)`);
    opts.stop(signal).catch((err) => {
      opts.log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  const exitNow = (signal: StopSignal) => {
    opts.log.warn(`${signal} again: exiting now`);
    opts.now?.(signal);
    process.exit(130);
  };
  const handler = (sig: NodeJS.Signals) => {
    const signal = sig as StopSignal;
    if (stopping === 'signalled') {
      if (signal !== 'SIGHUP') exitNow(signal);
      return;
    }
    if (stopping === 'no') begin(signal);
    stopping = 'signalled';
  };
  const deliver = (signal: StopSignal, again: boolean) => {
    if (stopping === 'no') {
      stopping = 'passed on';
      begin(signal);
    } else if (again) exitNow(signal);
  };
  for (const s of signals) process.on(s, handler);
  return {
    deliver,
    remove: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}
