/**
 * Short version of the soak's restart phase: a real `berth serve`, restarted
 * in-process and relaunched through its API with the token, while a separate
 * process keeps a keep-alive load on the port. Nothing may be lost.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { procs } from '../../soak/lib/common.mjs';
import { runRestartSoak } from '../../soak/lib/restarts.mjs';

afterAll(async () => {
  await procs.killAll();
});

describe('restarts and relaunches under keep-alive load (short soak)', () => {
  it('60 in-process restarts and 4 relaunches: no EADDRINUSE, nothing lost, no fd leak, no predecessor left but the started one, which waits', async () => {
    const r = await runRestartSoak({ restarts: 60, relaunches: 4 });
    const rs = r.restarts;
    const rl = r.relaunches;
    console.log(
      `restarts: ${rs.count} in ${rs.ms} ms, ` +
        `load ${rs.load.acknowledged} acknowledged / ${rs.load.lost} lost (${rs.load.retried} retried: ${JSON.stringify(rs.load.attemptErrors)}), ` +
        `fds ${rs.before.fds} -> ${rs.after.fds}, RSS ${rs.before.rssKiB} -> ${rs.after.rssKiB} KiB\n` +
        `relaunches: ${rl.count}, unavailable p50/max ${rl.unavailableMs.p50}/${rl.unavailableMs.max} ms, load ${rl.load.acknowledged} acknowledged / ${rl.load.lost} lost; ` +
        `EADDRINUSE ${r.eaddrinuse}; peak TIME_WAIT ${r.timeWaitPeak.server} (server side) / ${r.timeWaitPeak.all} (all)`,
    );
    expect(r.problems).toEqual([]);
    expect(r.eaddrinuse).toBe(0);
    expect(r.errorsLogged).toBe(0);
    expect(rs.load.lost).toBe(0);
    expect(rl.load.lost).toBe(0);
    expect(Object.keys(rs.load.statuses)).toEqual(['200']);
    expect(Object.keys(rl.load.statuses)).toEqual(['200']);
    expect(rs.load.acknowledged).toBeGreaterThan(rs.count);
    // The restart keeps the socket, and the relaunch hands it over: not one attempt was refused or reset.
    expect(rs.load.attemptErrors).toEqual({});
    expect(rl.load.attemptErrors).toEqual({});
    // Same process throughout the restarts; descriptors back where they were (the load is stopped for both counts).
    expect(rs.fdGrowth).toBeLessThanOrEqual(2);
    // Every relaunch is a new process, each predecessor gone, and each successor said it was serving.
    expect(rl.distinctPids).toBe(rl.count + 1);
    expect(rl.servingLines).toBe(rl.count + 1);
    expect(rl.stillAliveBesidesLast).toBe(0);
    // The process that was started stays as the terminal's program until Berth stops (app/cli/foreground.ts).
    if (process.platform !== 'win32') expect(rl.startedProcessWaits).toBe(true);
  }, 240_000);
});
