import type { App } from 'electron';
import type { Logger } from '../app/log';

export type LockApp = Pick<App, 'requestSingleInstanceLock'>;

/** What a second launch tells the first one (Electron passes it as `additionalData`). */
export interface LaunchData {
  /** Started by the login item: the first instance should stay out of the way. */
  hidden: boolean;
  /** Set when the launch is a successor waiting for us to go (relaunch, AppImage update). */
  handoff: string | null;
}

export function isLaunchData(v: unknown): v is LaunchData {
  return typeof v === 'object' && v !== null && typeof (v as LaunchData).hidden === 'boolean' && 'handoff' in v;
}

export interface LockOptions {
  data: LaunchData;
  /** How long a successor keeps trying while its predecessor exits (default 10 s, the handoff deadline). */
  deadlineMs?: number;
  everyMs?: number;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type LockResult = { acquired: true; attempts: number; waitedMs: number } | { acquired: false; attempts: number; waitedMs: number };

/**
 * Claim the single-instance lock (keyed on the userData folder). A plain
 * launch tries once: losing means another Berth is running and has just been
 * told about us. A successor (--handoff) retries for a bounded time, because
 * its predecessor may still hold the lock while it exits; quitting at once is
 * the known failure where an updated app starts and immediately dies.
 */
export async function acquireSingleInstanceLock(app: LockApp, opts: LockOptions): Promise<LockResult> {
  const now = opts.now ?? (() => performance.now());
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  let attempts = 0;
  const attempt = () => {
    attempts++;
    // Electron serialises additionalData with the structured clone algorithm: plain data only.
    return app.requestSingleInstanceLock({ ...opts.data });
  };
  if (attempt()) return { acquired: true, attempts, waitedMs: 0 };
  if (!opts.data.handoff) {
    opts.log.info('another Berth holds the single-instance lock; it has been asked to show itself');
    return { acquired: false, attempts, waitedMs: now() - started };
  }
  const deadline = started + (opts.deadlineMs ?? 10_000);
  opts.log.info(`predecessor ${opts.data.handoff} still holds the single-instance lock; retrying for up to ${opts.deadlineMs ?? 10_000} ms`);
  while (now() < deadline) {
    await sleep(Math.min(opts.everyMs ?? 100, Math.max(0, deadline - now())));
    if (attempt()) {
      const waitedMs = Math.round(now() - started);
      opts.log.info(`single-instance lock acquired after ${attempts} attempts (${waitedMs} ms)`);
      return { acquired: true, attempts, waitedMs };
    }
  }
  const waitedMs = Math.round(now() - started);
  opts.log.warn(`predecessor ${opts.data.handoff} still held the single-instance lock after ${waitedMs} ms; giving up`);
  return { acquired: false, attempts, waitedMs };
}
