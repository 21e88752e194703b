import { describe, expect, it } from 'vitest';
import { RestartBlockers } from '../../app/update/blockers';
import type { Relauncher } from '../../app/lifecycle/relaunch';
import { freePort, health, sleep } from '../helpers';
import { makeHost } from '../core/fixtures';

describe('relaunch honours restart blockers', () => {
  it('waits while work holds, keeps serving meanwhile, then relaunches', async () => {
    const port = await freePort();
    const blockers = new RestartBlockers();
    let startedAt: number | null = null;
    // A successor that starts after we exit (as with Electron's app.relaunch): nothing to spawn here.
    const relauncher: Relauncher = { replacesProcess: false, start: async () => void (startedAt = Date.now()) };
    const host = makeHost(port, { relauncher, beforeRelaunch: () => blockers.waitUntilClear() });
    await host.start();
    const release = blockers.hold('export of 3 files');
    const exited = new Promise<number>((r) => host.once('exit', r));
    const relaunching = host.relaunch();
    await sleep(300);
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
