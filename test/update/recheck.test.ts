/**
 * A downloaded update is not a promise to install it: while `ready`, Check
 * now and the periodic check ask the feed again, and what the feed offers
 * now wins. A release pulled after it was downloaded (the feed offers the
 * running version again, docs/RELEASING.md's rollback) is dropped; one
 * superseded by a newer release is replaced by it. The real AppImageUpdater
 * and electron-builder's AppImages, as in updater.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers';
import { appImageBuildProblem, cachedFiles, makeRig, updateSuite, type UpdateServer } from './support';

const { builds: B, cleanups, server } = updateSuite('1.0.0', '1.0.1', '1.0.2');


const manifestRequests = (srv: UpdateServer) => srv.requests.filter((r) => r.path === 'latest-linux.yml').length;

describe.skipIf(appImageBuildProblem)(`checking again while an update is ready${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('a release pulled after it was downloaded: Check now asks the feed, drops the download, and nothing can install it', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });

    // The maintainers roll back: latest-linux.yml names 1.0.0 again.
    srv.publishBuild(B['1.0.0']!);
    const asked = manifestRequests(srv);
    const s = await rig.checkAndSettle();
    expect(manifestRequests(srv), 'the check asked the feed').toBe(asked + 1);
    expect(s).toMatchObject({ state: 'idle', currentVersion: '1.0.0' });
    expect(s.version).toBeUndefined();
    await expect(rig.service.install()).rejects.toThrow(/No update is ready to install/);
    expect(cachedFiles(rig.dataDir).filter((f) => f.includes('1.0.1'))).toEqual([]);
    expect(rig.logText()).toContain('1.0.1 is no longer offered');
  });

  it('a release superseded after it was downloaded: the check downloads the newer one, which is what installs', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });

    srv.publishBuild(B['1.0.2']!);
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.2' });
    expect(srv.bytesServed(B['1.0.2']!.name)).toBeGreaterThan(0);
    const u = rig.updater() as unknown as { installerPath: string | null };
    expect(u.installerPath).toMatch(/Berth-1\.0\.2-linux-x86_64\.AppImage$/);
  });

  it('the same release still offered: ready stays ready, nothing downloaded again; a check that fails keeps the download', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const sent = srv.bytesServed(B['1.0.1']!.name);
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(srv.bytesServed(B['1.0.1']!.name)).toBe(sent);

    srv.status('latest-linux.yml', 500);
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(s.error).toMatch(/answered HTTP 500/);
  }, 30_000);

  it('the periodic check runs while ready too', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, settings: { autoCheck: true }, firstCheckDelayMs: 10, checkIntervalMs: 300 });
    cleanups.push(() => rig.service.stop());
    rig.service.start();
    await waitFor(() => rig.service.status().state === 'ready', 'the first automatic check to download 1.0.1');
    const asked = manifestRequests(srv);
    srv.publishBuild(B['1.0.2']!);
    await waitFor(() => manifestRequests(srv) > asked, 'a periodic check while ready');
    await waitFor(() => rig.service.status().state === 'ready' && rig.service.status().version === '1.0.2', 'the newer release to replace the download');
  });
});
