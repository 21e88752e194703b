/**
 * Restart blockers: work that should finish before Berth installs an update
 * or relaunches (an upload in progress, a job a route is running). The wait is
 * bounded, so a stuck client can delay an update but never prevent it.
 */

export const DEFAULT_BLOCKER_WAIT_MS = 30_000;

export interface BlockerWait {
  waitedMs: number;
  /** True when the bound was reached with work still holding; the caller proceeds anyway. */
  timedOut: boolean;
  /** What was still holding when the wait ended (empty unless timedOut). */
  left: string[];
}

export class RestartBlockers {
  private readonly holds = new Map<number, string>();
  private readonly listeners = new Set<(labels: string[]) => void>();
  private nextId = 1;

  /**
   * Hold off install and relaunch while `label` runs ("PUT /api/settings",
   * "export of 3 files"). Returns the release function; calling it twice is harmless.
   */
  hold(label: string): () => void {
    const id = this.nextId++;
    this.holds.set(id, label);
    this.changed();
    return () => {
      if (this.holds.delete(id)) this.changed();
    };
  }

  /** What holds right now, one entry per distinct label ("PUT /api/settings (2)" for two of a kind). */
  list(): string[] {
    const counts = new Map<string, number>();
    for (const label of this.holds.values()) counts.set(label, (counts.get(label) ?? 0) + 1);
    return [...counts].map(([label, n]) => (n > 1 ? `${label} (${n})` : label));
  }

  get size(): number {
    return this.holds.size;
  }

  onChange(fn: (labels: string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Resolve as soon as nothing holds, or when `maxWaitMs` has passed.
   * `onWaiting` hears the current list whenever it changes during the wait.
   */
  waitUntilClear(opts: { maxWaitMs?: number; onWaiting?: (labels: string[]) => void } = {}): Promise<BlockerWait> {
    const maxWaitMs = opts.maxWaitMs ?? DEFAULT_BLOCKER_WAIT_MS;
    const started = performance.now();
    if (this.holds.size === 0) return Promise.resolve({ waitedMs: 0, timedOut: false, left: [] });
    opts.onWaiting?.(this.list());
    return new Promise((resolve) => {
      const finish = (timedOut: boolean) => {
        clearTimeout(timer);
        off();
        resolve({ waitedMs: Math.round(performance.now() - started), timedOut, left: timedOut ? this.list() : [] });
      };
      const off = this.onChange((labels) => {
        if (labels.length === 0) finish(false);
        else opts.onWaiting?.(labels);
      });
      const timer = setTimeout(() => finish(true), maxWaitMs);
    });
  }

  private changed(): void {
    const labels = this.list();
    for (const fn of [...this.listeners]) fn(labels);
  }
}
