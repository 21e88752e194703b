import type { Logger } from '../log';

/**
 * First SIGINT/SIGTERM (SIGBREAK on Windows: Ctrl+Break) drains and exits;
 * a second one exits at once, for a person who does not want to wait.
 */
export function installSignalHandlers(opts: { stop: () => Promise<void>; log: Logger }): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  if (process.platform === 'win32') signals.push('SIGBREAK');
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.log.warn(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    opts.log.info(`${signal}: draining and stopping (send it again to exit at once)`);
    opts.stop().catch((err) => {
      opts.log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}
