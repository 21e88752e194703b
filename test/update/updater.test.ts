/**
 * The real electron-updater (6.8) under plain Node, driven by UpdateService,
 * against a real generic update server on loopback that serves what
 * electron-builder built from this repository: the AppImages, their embedded
 * blockmaps and latest-linux.yml as written (fixtures/artifacts.mjs).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appImageBuildProblem, appImageName, appImages, cachedFiles, makeRig, removeRigDirs, updateServer, type Build, type UpdateServer } from './support';

afterAll(() => removeRigDirs());

const servers: UpdateServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function server(): Promise<UpdateServer> {
  const s = await updateServer();
  servers.push(s);
  return s;
}
const sha512 = (b: Buffer) => crypto.createHash('sha512').update(b).digest('base64');
const AI = appImageName;

let B: Record<string, Build>;
/** The installed AppImage is still 1.0.0, byte for byte. */
const unchanged = (file: string) => sha512(fs.readFileSync(file)) === sha512(fs.readFileSync(B['1.0.0']!.file));
beforeAll(async () => {
  if (!appImageBuildProblem) B = await appImages('1.0.0', '1.0.1', '1.1.0-beta.1');
}, 240_000);

describe.skipIf(appImageBuildProblem)(`checking and downloading with AppImageUpdater${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('update available -> downloading with progress -> ready; the download is the published file', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    // Slow enough that electron-updater reports progress (about once a second) before it finishes.
    srv.throttle(500_000);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    // The whole file, as when no earlier version is there to reuse blocks from (the differential path is tested below).
    rig.updater().disableDifferentialDownload = true;

    const afterCheck = await rig.service.check();
    expect(afterCheck).toMatchObject({ state: 'downloading', version: '1.0.1', notes: 'Berth 1.0.1 (test build).', currentVersion: '1.0.0', channel: 'latest' });
    const final = await rig.service.whenSettled();

    const full = B['1.0.1']!.size;
    expect(final).toMatchObject({ state: 'ready', version: '1.0.1', notes: 'Berth 1.0.1 (test build).', currentVersion: '1.0.0' });
    const states = rig.changes.map((c) => c.state).filter((s, i, a) => s !== a[i - 1]);
    expect(states).toEqual(['checking', 'available', 'downloading', 'ready']);
    const progress = rig.changes.filter((c) => c.state === 'downloading' && (c.percent ?? 0) > 0);
    const midway = progress.filter((c) => c.percent! < 100);
    expect(midway.length, 'a progress report before the end').toBeGreaterThan(0);
    expect(midway[0]).toMatchObject({ total: full });
    expect(midway[0]!.bytesPerSecond).toBeGreaterThan(0);
    expect(midway[0]!.transferred).toBeLessThan(full);
    expect(progress.at(-1)).toMatchObject({ percent: 100, transferred: full });

    const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith(AI('1.0.1')));
    expect(file, `downloaded into the cache: ${cachedFiles(rig.dataDir)}`).toBeTruthy();
    expect(sha512(fs.readFileSync(path.join(rig.dataDir, 'updates', 'berth-updater', file!)))).toBe(sha512(fs.readFileSync(B['1.0.1']!.file)));
    expect(srv.bytesServed(AI('1.0.1'))).toBe(full);
    // Nothing is installed until asked.
    expect(sha512(fs.readFileSync(rig.appImage))).toBe(sha512(fs.readFileSync(B['1.0.0']!.file)));
  });

  it('differential download: only the blocks that changed come over the network, and the result is the published file', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });

    const full = B['1.0.1']!.size;
    const sent = srv.bytesServed(AI('1.0.1'));
    // The manifest names the blockmap's size; electron-updater reads the new blockmap from the end of the file,
    // the old one from the installed AppImage, and asks for the changed ranges.
    expect(B['1.0.1']!.manifest).toMatch(/blockMapSize: \d+/);
    const rangeRequests = srv.requests.filter((r) => r.path === AI('1.0.1'));
    expect(rangeRequests.length).toBeGreaterThan(0);
    expect(rangeRequests.every((r) => /^bytes=/.test(r.headers.range ?? ''))).toBe(true);
    expect(sent, `${sent} of ${full} bytes sent`).toBeLessThan(full / 2);
    expect(rig.logText()).toMatch(/Full: [\d.,]+ \w+, To download: [\d.,]+ \w+/);
    expect(rig.logText()).not.toContain('Cannot download differentially');
    const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith(AI('1.0.1')));
    expect(sha512(fs.readFileSync(path.join(rig.dataDir, 'updates', 'berth-updater', file!)))).toBe(sha512(fs.readFileSync(B['1.0.1']!.file)));
  });

  it('already up to date: idle, with the time of the check, nothing downloaded', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.0']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('idle');
    expect(Date.parse(s.checkedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(srv.requests.map((r) => r.path)).toEqual(['latest-linux.yml']);
    expect(cachedFiles(rig.dataDir)).toEqual([]);
  });

  it('a tampered artifact is rejected by its sha512 while downloading; nothing is installed or kept', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!, { tamper: true });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1', currentVersion: '1.0.0' });
    expect(s.error).toContain('did not match its published sha512 checksum and was discarded');
    expect(s.error).toContain('Berth 1.0.0 keeps running');
    expect(rig.logText()).toContain('sha512 checksum mismatch');
    expect(unchanged(rig.appImage)).toBe(true);
    expect(cachedFiles(rig.dataDir).filter((f) => f.includes('1.0.1'))).toEqual([]);
    // Nothing is ready, so nothing can be installed.
    await expect(rig.service.install()).rejects.toThrow(/No update is ready to install \(the update state is error\)/);
  });

  it('404 (no manifest for the channel): error naming the file, nothing changed', async () => {
    const srv = await server();
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toContain(`The update server (${srv.url}) has no latest-linux.yml (HTTP 404)`);
    expect(unchanged(rig.appImage)).toBe(true);
    expect(cachedFiles(rig.dataDir)).toEqual([]);
  });

  it('the artifact itself missing (404 while downloading): error, nothing changed', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    srv.status(AI('1.0.1'), 404);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1' });
    expect(s.error).toContain('answered HTTP 404 while downloading Berth 1.0.1');
    expect(unchanged(rig.appImage)).toBe(true);
  });

  it('server down: error saying it could not be reached, nothing changed, and a later check recovers', async () => {
    const srv = await server();
    const url = srv.url;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const rig = makeRig({ version: '1.0.0', feedUrl: url, installed: B['1.0.0']! });
    // electron-updater retries a refused connection three times (1 + 2 + 3 s) before giving up.
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toContain(`Could not reach the update server (${url}): ECONNREFUSED`);
    expect(unchanged(rig.appImage)).toBe(true);

    const back = await server();
    back.publishBuild(B['1.0.0']!);
    rig.settings.url = back.url;
    expect((await rig.checkAndSettle()).state).toBe('idle');
  }, 30_000);
});

describe.skipIf(appImageBuildProblem)('channels, downgrades and staged rollouts', () => {
  it('switching to beta reads beta-linux.yml and offers the beta', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    // The release workflow publishes a prerelease's latest-linux.yml as beta-linux.yml.
    srv.publishBuild(B['1.1.0-beta.1']!, { channel: 'beta' });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    expect((await rig.checkAndSettle()).version).toBe('1.0.1');

    const beta = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, settings: { channel: 'beta' } });
    const s = await beta.checkAndSettle();
    expect(s).toMatchObject({ state: 'ready', version: '1.1.0-beta.1', channel: 'beta' });
    expect(srv.requests.map((r) => r.path)).toContain('beta-linux.yml');
  });

  it('leaving beta for latest allows going down to the latest release', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.1.0-beta.2', feedUrl: srv.url, installed: B['1.1.0-beta.1']!, settings: { channel: 'latest' } });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
  });

  it('on the same channel an older version on the server is never installed', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = makeRig({ version: '1.0.2', feedUrl: srv.url, installed: B['1.0.1']! });
    expect((await rig.checkAndSettle()).state).toBe('idle');
    expect(rig.logText()).toContain('downgrade is disallowed');
  });

  it('a stable version installed from the beta channel stays on beta: no downgrade to an older beta', async () => {
    const srv = await server();
    srv.publishBuild(B['1.1.0-beta.1']!, { channel: 'beta' });
    const recorded = makeRig({ version: '1.1.0', feedUrl: srv.url, installed: B['1.0.1']!, settings: { channel: 'beta' } });
    // What UpdateService writes when it installs 1.1.0 from the beta channel.
    fs.writeFileSync(path.join(recorded.dataDir, 'update-state.json'), JSON.stringify({ version: '1.1.0', channel: 'beta' }));
    expect((await recorded.checkAndSettle()).state).toBe('idle');
    // Without that record the version says "latest", so choosing beta is a switch, and the switch allows it.
    const switched = makeRig({ version: '1.1.0', feedUrl: srv.url, installed: B['1.0.1']!, settings: { channel: 'beta' } });
    expect((await switched.checkAndSettle()).version).toBe('1.1.0-beta.1');
  });

  it('staged rollout: offered only to users whose bucket is under stagingPercentage; the id lives in the data dir', async () => {
    const srv = await server();
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    // electron-updater's bucket is the id's last 4 bytes / 0xffffffff: ...4ccccccc is 30 %.
    const id = '6ba7b810-9dad-51d1-80b4-00004ccccccc';
    fs.writeFileSync(path.join(rig.dataDir, '.updaterId'), id);

    // A maintainer stages a release by adding stagingPercentage to the published manifest.
    srv.publishBuild(B['1.0.1']!, { stagingPercentage: 25 });
    expect((await rig.checkAndSettle()).state).toBe('idle');
    expect(rig.logText()).toMatch(/Staging percentage: 0\.25, percentage: 0\.29/);

    srv.publishBuild(B['1.0.1']!, { stagingPercentage: 35 });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const manifestRequests = srv.requests.filter((r) => r.path === 'latest-linux.yml');
    expect(manifestRequests.every((r) => r.headers['x-user-staging-id'] === id)).toBe(true);
  });

  it('a new user gets a staging id written into the data dir, and keeps it', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.0']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    await rig.checkAndSettle();
    const id = fs.readFileSync(path.join(rig.dataDir, '.updaterId'), 'utf8');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const again = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, dataDir: rig.dataDir });
    await again.checkAndSettle();
    expect(srv.requests.at(-1)!.headers['x-user-staging-id']).toBe(id);
  });
});

describe.skipIf(appImageBuildProblem)('the feed', () => {
  it("settings.update.url overrides the build's feed at the next check; clearing it goes back", async () => {
    const build = await server();
    const custom = await server();
    build.publishBuild(B['1.0.0']!);
    custom.publishBuild(B['1.0.0']!);
    const rig = makeRig({ version: '1.0.0', feedUrl: build.url, installed: B['1.0.0']! });
    await rig.checkAndSettle();
    rig.settings.url = custom.url;
    await rig.checkAndSettle();
    rig.settings.url = null;
    await rig.checkAndSettle();
    expect(build.requests.length).toBe(2);
    expect(custom.requests.length).toBe(1);
  });

  it('a plain-http feed on another machine is refused before any request, with the reason; loopback http is fine', async () => {
    const rig = makeRig({ version: '1.0.0', feedUrl: 'http://updates.example.invalid/', installed: B['1.0.0']! });
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toBe(
      'Update URL must use https:// (plain http:// is accepted only for this machine, such as http://127.0.0.1), because an update fetched over http from updates.example.invalid could be replaced on the way (http://updates.example.invalid/). Berth 1.0.0 keeps running.',
    );
    expect(rig.logText()).not.toContain('Checking for update');
    // The same refusal for a URL set in the settings file by hand, which validation would have refused.
    const srv = await server();
    srv.publishBuild(B['1.0.0']!);
    rig.settings.url = srv.url.replace('127.0.0.1', 'localhost');
    expect((await rig.checkAndSettle()).state).toBe('idle');
    rig.settings.url = 'http://192.0.2.7:8080/';
    expect((await rig.checkAndSettle()).error).toContain('from 192.0.2.7:8080 could be replaced on the way');
  });

  it('Windows: NsisUpdater reads latest.yml and verifies the installer it downloads', async () => {
    const srv = await server();
    // A stand-in installer with a manifest written by the test server: electron-builder cannot
    // build an NSIS installer here (it needs makensis and Wine).
    const exe = Buffer.from('MZ' + 'installer'.repeat(2000));
    srv.publish({ platform: 'win', version: '1.0.1', file: 'Berth-Setup-1.0.1.exe', data: exe });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, kind: 'NsisUpdater', platform: 'win32' });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(srv.requests.map((r) => r.path)).toEqual(['latest.yml', 'Berth-Setup-1.0.1.exe']);
    const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith('.exe'));
    expect(sha512(fs.readFileSync(path.join(rig.dataDir, 'updates', 'berth-updater', file!)))).toBe(sha512(exe));

    const bad = await server();
    bad.publish({ platform: 'win', version: '1.0.1', file: 'Berth-Setup-1.0.1.exe', data: exe, tamper: true });
    const rig2 = makeRig({ version: '1.0.0', feedUrl: bad.url, installed: B['1.0.0']!, kind: 'NsisUpdater', platform: 'win32' });
    expect((await rig2.checkAndSettle()).error).toContain('sha512');
  });
});
