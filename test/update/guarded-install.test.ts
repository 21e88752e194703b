/**
 * After an install hands the port over, nothing of the old version is left
 * to see the installer, or the new version, fail. The desktop's lifecycle
 * owner (main/lifecycle.ts, on the stand-in Electron app) starts a guardian
 * (app/guardian) before the port is let go: it waits for the installer to
 * exit, then for a Berth to serve, and if none does it starts the installed
 * one, which says what happened. What the guardian starts here is a real
 * `berth serve` on the same port and data folder, standing for the
 * installed app; the installers are stand-ins that fail after they start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, health, waitFor } from '../helpers';
import { composed, guardedLifecycle, ready, recovered } from './composed';
import { appImageBytes, makeRig, tempDir, updateSuite } from './support';

const { cleanups, server } = updateSuite();

describe('a guardian watches every install that ends this process', () => {
  it('NSIS: the installer starts, then fails (exit 2): the guardian starts the installed Berth, which says the update failed', async () => {
    const srv = await server();
    const marker = path.join(tempDir(), 'installer');
    // What an NSIS installer that cannot close a file or remove the old one does: it runs, then gives up.
    const failing = appImageBytes('1.0.1', 8192, `echo "started $*" >> '${marker}'\nsleep 0.5\nexit 2`);
    srv.publish({ version: '1.0.1', platform: 'win', file: 'Berth-Setup-1.0.1.exe', data: failing });
    const port = await freePort();
    const dataDir = tempDir();
    const { fe, lifecycle, logs } = guardedLifecycle(port, dataDir);
    const s = await composed(srv, cleanups, {
      handoffDeadline: 3000,
      port,
      dataDir,
      installHooks: lifecycle.installHooks(),
      rigFor: ({ logs: l, hooks }) => {
        const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, dataDir, logs: l, kind: 'NsisUpdater', platform: 'win32', hooks });
        rig.updater().on('update-downloaded', (e: { downloadedFile: string }) => fs.chmodSync(e.downloadedFile, 0o755));
        return rig;
      },
    });
    await ready(s);
    const before = (await health(port))!;
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the port to be let go');
    expect(fe.app.names()).toContain('releaseSingleInstanceLock');
    expect(logs.ring.tail(200).some((e) => /guardian [0-9a-f]{12} \(pid \d+\) waits for the installer \(pid \d+\) to exit/.test(e.msg))).toBe(true);

    expect(await recovered(s, before, cleanups)).toEqual([
      expect.objectContaining({
        detail: 'The update to 1.0.1 failed (no Berth served within 2 s after the installer finished); Berth 1.0.0 is running.',
      }),
    ]);
    expect(fs.readFileSync(marker, 'utf8')).toMatch(/^started --updated \/S --force-run\n$/);
  }, 120_000);
});
