import { describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { RelaunchPlan } from '../../app/lifecycle/plans';
import { freePort, health, waitFor } from '../helpers';
import { makeBerth } from '../core/fixtures';

describe('relaunch honours restart blockers', () => {
  it('waits while work holds, keeps serving meanwhile, then relaunches', async () => {
    const port = await freePort();
    const logs = memoryLogSink();
    let startedAt: number | null = null;
    // A successor that starts after we exit (as with Electron's app.relaunch): nothing to spawn here.
    const plan: RelaunchPlan = { kind: 'after-exit', startedBy: 'electron', label: 'test', start: async () => void (startedAt = Date.now()) };
    // The blockers are the update service's, as shipped: a settings save or an export holds them.
    const berth = await makeBerth(port, { logs, relaunchPlan: () => plan });
    const host = berth.host;
    await host.start();
    const release = berth.updates.blockers.hold('export of 3 files');
    const waiting = () => logs.ring.tail(1000).some((e) => e.msg === 'relaunch waits for: export of 3 files');
    const exited = new Promise<number>((r) => host.once('exit', r));
    const relaunching = host.relaunch();
    await waitFor(waiting, 'the relaunch to wait for the blocker');
    expect(startedAt).toBeNull();
    expect(host.state).toBe('serving');
    expect((await health(port))?.state).toBe('serving');
    const releasedAt = Date.now();
    release();
    await relaunching;
    expect(await exited).toBe(0);
    expect(startedAt).not.toBeNull();
    expect(startedAt!).toBeGreaterThanOrEqual(releasedAt);
    expect(await health(port)).toBeNull();
  });
});
