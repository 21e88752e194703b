import { describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import { acquireSingleInstanceLock, isLaunchData, type LaunchData, type LockApp } from '../../main/single-instance';

/** Stands in for Electron's lock: free once `freeAfter` attempts have failed (Infinity: never). */
function lockHeldFor(freeAfter: number) {
  const calls: LaunchData[] = [];
  const app: LockApp = {
    requestSingleInstanceLock: (data?: Record<string, unknown>) => {
      calls.push(data as unknown as LaunchData);
      return calls.length > freeAfter;
    },
  };
  return { app, calls };
}

const log = () => memoryLogSink();

describe('single-instance lock', () => {
  it('a plain launch that gets the lock goes on at once', async () => {
    const { app, calls } = lockHeldFor(0);
    const r = await acquireSingleInstanceLock(app, { data: { hidden: false, handoff: null }, log: log().root });
    expect(r).toMatchObject({ acquired: true, attempts: 1 });
    expect(calls).toEqual([{ hidden: false, handoff: null }]);
  });

  it('a plain second launch tries once and gives up (the first instance has been told)', async () => {
    const { app, calls } = lockHeldFor(Infinity);
    const logs = log();
    const r = await acquireSingleInstanceLock(app, { data: { hidden: true, handoff: null }, log: logs.root, deadlineMs: 5000 });
    expect(r.acquired).toBe(false);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual({ hidden: true, handoff: null });
    expect(logs.ring.tail().map((e) => e.msg).join('\n')).toMatch(/another Berth holds the single-instance lock/);
  });

  it('a successor retries while its predecessor exits, and wins once the lock is free', async () => {
    const { app, calls } = lockHeldFor(4);
    const logs = log();
    const r = await acquireSingleInstanceLock(app, { data: { hidden: false, handoff: 'prev-1' }, log: logs.root, everyMs: 5, deadlineMs: 5000 });
    expect(r).toMatchObject({ acquired: true, attempts: 5 });
    // Every attempt tells the predecessor who is knocking, so it can ignore us instead of showing its window.
    expect(calls.every((c) => c.handoff === 'prev-1')).toBe(true);
    expect(logs.ring.tail().map((e) => e.msg).join('\n')).toMatch(/acquired after 5 attempts/);
  });

  it('a successor gives up at the deadline and says so', async () => {
    const { app, calls } = lockHeldFor(Infinity);
    const logs = log();
    // A clock that moves only when the lock waits: the count of attempts does not depend on how late timers fire under load.
    let clock = 0;
    const r = await acquireSingleInstanceLock(app, {
      data: { hidden: false, handoff: 'prev-2' },
      log: logs.root,
      everyMs: 10,
      deadlineMs: 150,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect(r).toEqual({ acquired: false, attempts: 16, waitedMs: 150 });
    expect(calls).toHaveLength(16);
    expect(logs.ring.tail(10, 'warn').map((e) => e.msg).join('\n')).toMatch(/still held the single-instance lock after \d+ ms; giving up/);
  });

  it('recognises the launch data a second instance sends', () => {
    expect(isLaunchData({ hidden: false, handoff: null })).toBe(true);
    expect(isLaunchData({ hidden: true, handoff: 'x' })).toBe(true);
    expect(isLaunchData(undefined)).toBe(false);
    expect(isLaunchData({})).toBe(false);
    expect(isLaunchData({ hidden: 'yes', handoff: null })).toBe(false);
  });
});
