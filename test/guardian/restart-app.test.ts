/**
 * The desktop's Restart app with a successor that never comes up: the plan
 * main/lifecycle.ts hands the host, run by a real host on a real port, with
 * the stand-in Electron app (test/main/fake-electron.ts), whose relaunch,
 * like a real one that fails, starts nothing. Electron cannot run here, so
 * what the guardian starts is a real `berth serve` on the same port and
 * data folder, where the desktop's guardian would start the installed app.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { guardianFolder } from '../../app/guardian/guardian';
import type { ServerHost } from '../../app/lifecycle/host';
import { memoryLogSink } from '../../app/log';
import { DesktopLifecycle } from '../../main/lifecycle';
import { makeHost } from '../core/fixtures';
import { LockRegistry, fakeElectron } from '../main/fake-electron';
import { alive, BERTH_BIN, freePort, health, readToken, ROOT, tempDataDir, waitFor } from '../helpers';
import { gone, records } from './support';

const ends: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (ends.length) await ends.pop()!();
});

describe("the guardian on the desktop's Restart app (Electron's relaunch, after this process exits)", () => {
  it('the successor never starts: the guardian starts Berth once, which serves the port and says what happened', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-gtest-');
    const logs = memoryLogSink();
    const fe = fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv: ['/usr/lib/electron/electron', ROOT] });
    const lifecycle = new DesktopLifecycle({
      app: fe.app,
      log: logs.root.child({ scope: 'lifecycle' }),
      args: [ROOT, '--port', String(port)],
      flushLogs: async () => undefined,
      setTimer: () => 0,
      guardian: { dataDir, version: '9.9.9-test', allowanceMs: 2000, relaunch: { command: process.execPath, args: [BERTH_BIN, 'serve', '--port', String(port), '--data-dir', dataDir] } },
    });
    const host: ServerHost = await makeHost(port, { dataDir, logs, relaunchPlan: () => lifecycle.relaunchPlan() });
    host.on('exit', (code) => void lifecycle.onHostExit(code));
    lifecycle.follow(host);
    await host.start();
    ends.push(() => host.stop());
    const before = (await health(port))!;

    await lifecycle.relaunch();
    await waitFor(() => fe.app.ended, 'the app to exit');
    // Electron was asked to start the successor once this process exits; the stand-in, like a relaunch that fails, starts nothing.
    expect(fe.app.names().slice(-3)).toEqual(['releaseSingleInstanceLock', 'relaunch', 'exit']);
    expect(host.state).toBe('stopped');

    const after = await waitFor(async () => {
      const h = await health(port);
      return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
    }, 'a Berth to serve the port again', 60_000);
    ends.push(async () => {
      fs.rmSync(guardianFolder(dataDir), { recursive: true, force: true });
      process.kill(after.pid, 'SIGTERM');
      await waitFor(() => !alive(after.pid), 'the Berth the guardian started to stop');
    });
    expect(after.pid).not.toBe(process.pid);

    // The next start shows it: the history row (/api/status, which the console's banner reads) and its log.
    const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    const status = (await res.json()) as { history: { kind: string; detail?: string; failed?: string }[] };
    expect(status.history.filter((e) => e.kind === 'recovered')).toEqual([
      expect.objectContaining({ detail: 'Restart app failed (no Berth served within 2 s); Berth 1.0.0 is running.', failed: 'no Berth served within 2 s' }),
    ]);
    // Once: the guardian has ended, its record taken; nothing else was started.
    const started = logs.ring.tail(1000).map((e) => /guardian ([0-9a-f]{12}) \(pid (\d+)\) waits/.exec(e.msg)).find(Boolean);
    expect(started, 'the lifecycle started a guardian before the port was let go').toBeTruthy();
    await waitFor(() => gone(Number(started![2])), 'the guardian to end');
    expect(records(dataDir)).toEqual([]);
  }, 120_000);
});
