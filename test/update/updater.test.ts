/**
 * The real electron-updater (6.8) under plain Node, driven by UpdateService,
 * against a real generic update server on loopback that serves manifests
 * with the real sha512 and size of the artifacts built here.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { appImageBytes, cachedFiles, makeRig, removeRigDirs, updateServer, type UpdateServer } from './support';

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
const AI = (v: string) => `Berth-${v}-linux-x86_64.AppImage`;

describe('checking and downloading with AppImageUpdater', () => {
  it('update available -> downloading with progress -> ready; the download is the published file', async () => {
    const srv = await server();
    const data = appImageBytes('1.0.1', 240_000);
    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data, releaseNotes: 'Faster handoff.' });
    // Slow enough that electron-updater reports progress (about once a second) before it finishes.
    srv.throttle(120_000);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });

    const afterCheck = await rig.service.check();
    expect(afterCheck).toMatchObject({ state: 'downloading', version: '1.0.1', notes: 'Faster handoff.', currentVersion: '1.0.0', channel: 'latest' });
    const final = await rig.service.whenSettled();

    expect(final).toMatchObject({ state: 'ready', version: '1.0.1', notes: 'Faster handoff.', currentVersion: '1.0.0' });
    const states = rig.changes.map((c) => c.state).filter((s, i, a) => s !== a[i - 1]);
    expect(states).toEqual(['checking', 'available', 'downloading', 'ready']);
    const progress = rig.changes.filter((c) => c.state === 'downloading' && (c.percent ?? 0) > 0);
    const midway = progress.filter((c) => c.percent! < 100);
    expect(midway.length, 'a progress report before the end').toBeGreaterThan(0);
    expect(midway[0]).toMatchObject({ total: data.length });
    expect(midway[0]!.bytesPerSecond).toBeGreaterThan(0);
    expect(midway[0]!.transferred).toBeLessThan(data.length);
    expect(progress.at(-1)).toMatchObject({ percent: 100, transferred: data.length });

    const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith(AI('1.0.1')));
    expect(file, `downloaded into the cache: ${cachedFiles(rig.dataDir)}`).toBeTruthy();
    expect(sha512(fs.readFileSync(path.join(rig.dataDir, 'updates', 'berth-updater', file!)))).toBe(sha512(data));
    // Nothing is installed until asked.
    expect(fs.readFileSync(rig.appImage)).toEqual(appImageBytes('1.0.0'));
  });

  it('already up to date: idle, with the time of the check, nothing downloaded', async () => {
    const srv = await server();
    srv.publish({ version: '1.0.0', file: AI('1.0.0'), data: appImageBytes('1.0.0') });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('idle');
    expect(Date.parse(s.checkedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(srv.requests.map((r) => r.path)).toEqual(['latest-linux.yml']);
    expect(cachedFiles(rig.dataDir)).toEqual([]);
  });

  it('a tampered artifact is rejected by its sha512 while downloading; nothing is installed or kept', async () => {
    const srv = await server();
    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1', 50_000), tamper: true });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1', currentVersion: '1.0.0' });
    expect(s.error).toContain('did not match its published sha512 checksum and was discarded');
    expect(s.error).toContain('Berth 1.0.0 keeps running');
    expect(rig.logText()).toContain('sha512 checksum mismatch');
    expect(fs.readFileSync(rig.appImage)).toEqual(appImageBytes('1.0.0'));
    expect(cachedFiles(rig.dataDir).filter((f) => f.includes('1.0.1'))).toEqual([]);
    // Nothing is ready, so nothing can be installed.
    await expect(rig.service.install()).rejects.toThrow(/No update is ready to install \(the update state is error\)/);
  });

  it('404 (no manifest for the channel): error naming the file, nothing changed', async () => {
    const srv = await server();
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toContain(`The update server (${srv.url}) has no latest-linux.yml (HTTP 404)`);
    expect(fs.readFileSync(rig.appImage)).toEqual(appImageBytes('1.0.0'));
    expect(cachedFiles(rig.dataDir)).toEqual([]);
  });

  it('the artifact itself missing (404 while downloading): error, nothing changed', async () => {
    const srv = await server();
    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1') });
    srv.status(AI('1.0.1'), 404);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1' });
    expect(s.error).toContain('answered HTTP 404 while downloading Berth 1.0.1');
    expect(fs.readFileSync(rig.appImage)).toEqual(appImageBytes('1.0.0'));
  });

  it('server down: error saying it could not be reached, nothing changed, and a later check recovers', async () => {
    const srv = await server();
    const url = srv.url;
    await srv.close();
    servers.splice(servers.indexOf(srv), 1);
    const rig = makeRig({ version: '1.0.0', feedUrl: url });
    // electron-updater retries a refused connection three times (1 + 2 + 3 s) before giving up.
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toContain(`Could not reach the update server (${url}): ECONNREFUSED`);
    expect(fs.readFileSync(rig.appImage)).toEqual(appImageBytes('1.0.0'));

    const back = await server();
    back.publish({ version: '1.0.0', file: AI('1.0.0'), data: appImageBytes('1.0.0') });
    rig.settings.url = back.url;
    expect((await rig.checkAndSettle()).state).toBe('idle');
  }, 30_000);
});

describe('channels, downgrades and staged rollouts', () => {
  it('switching to beta reads beta-linux.yml and offers the beta', async () => {
    const srv = await server();
    srv.publish({ channel: 'latest', version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1') });
    srv.publish({ channel: 'beta', version: '1.1.0-beta.1', file: AI('1.1.0-beta.1'), data: appImageBytes('1.1.0-beta.1') });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    expect((await rig.checkAndSettle()).version).toBe('1.0.1');

    const beta = makeRig({ version: '1.0.0', feedUrl: srv.url, settings: { channel: 'beta' } });
    const s = await beta.checkAndSettle();
    expect(s).toMatchObject({ state: 'ready', version: '1.1.0-beta.1', channel: 'beta' });
    expect(srv.requests.map((r) => r.path)).toContain('beta-linux.yml');
  });

  it('leaving beta for latest allows going down to the latest release', async () => {
    const srv = await server();
    srv.publish({ channel: 'latest', version: '1.0.5', file: AI('1.0.5'), data: appImageBytes('1.0.5') });
    const rig = makeRig({ version: '1.1.0-beta.2', feedUrl: srv.url, settings: { channel: 'latest' } });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.5' });
  });

  it('on the same channel an older version on the server is never installed', async () => {
    const srv = await server();
    srv.publish({ channel: 'latest', version: '1.0.5', file: AI('1.0.5'), data: appImageBytes('1.0.5') });
    const rig = makeRig({ version: '1.0.6', feedUrl: srv.url });
    expect((await rig.checkAndSettle()).state).toBe('idle');
    expect(rig.logText()).toContain('downgrade is disallowed');
  });

  it('a stable version installed from the beta channel stays on beta: no downgrade to an older beta', async () => {
    const srv = await server();
    srv.publish({ channel: 'beta', version: '1.1.0-beta.3', file: AI('1.1.0-beta.3'), data: appImageBytes('1.1.0-beta.3') });
    const recorded = makeRig({ version: '1.1.0', feedUrl: srv.url, settings: { channel: 'beta' } });
    // What UpdateService writes when it installs 1.1.0 from the beta channel.
    fs.writeFileSync(path.join(recorded.dataDir, 'update-state.json'), JSON.stringify({ version: '1.1.0', channel: 'beta' }));
    expect((await recorded.checkAndSettle()).state).toBe('idle');
    // Without that record the version says "latest", so choosing beta is a switch, and the switch allows it.
    const switched = makeRig({ version: '1.1.0', feedUrl: srv.url, settings: { channel: 'beta' } });
    expect((await switched.checkAndSettle()).version).toBe('1.1.0-beta.3');
  });

  it('staged rollout: offered only to users whose bucket is under stagingPercentage; the id lives in the data dir', async () => {
    const srv = await server();
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    // electron-updater's bucket is the id's last 4 bytes / 0xffffffff: ...4ccccccc is 30 %.
    const id = '6ba7b810-9dad-51d1-80b4-00004ccccccc';
    fs.writeFileSync(path.join(rig.dataDir, '.updaterId'), id);

    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1'), stagingPercentage: 25 });
    expect((await rig.checkAndSettle()).state).toBe('idle');
    expect(rig.logText()).toMatch(/Staging percentage: 0\.25, percentage: 0\.29/);

    srv.publish({ version: '1.0.1', file: AI('1.0.1'), data: appImageBytes('1.0.1'), stagingPercentage: 35 });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const manifestRequests = srv.requests.filter((r) => r.path === 'latest-linux.yml');
    expect(manifestRequests.every((r) => r.headers['x-user-staging-id'] === id)).toBe(true);
  });

  it('a new user gets a staging id written into the data dir, and keeps it', async () => {
    const srv = await server();
    srv.publish({ version: '1.0.0', file: AI('1.0.0'), data: appImageBytes('1.0.0') });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url });
    await rig.checkAndSettle();
    const id = fs.readFileSync(path.join(rig.dataDir, '.updaterId'), 'utf8');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const again = makeRig({ version: '1.0.0', feedUrl: srv.url, dataDir: rig.dataDir });
    await again.checkAndSettle();
    expect(srv.requests.at(-1)!.headers['x-user-staging-id']).toBe(id);
  });
});

describe('the feed', () => {
  it("settings.update.url overrides the build's feed at the next check; clearing it goes back", async () => {
    const build = await server();
    const custom = await server();
    build.publish({ version: '1.0.0', file: AI('1.0.0'), data: appImageBytes('1.0.0') });
    custom.publish({ version: '1.0.0', file: AI('1.0.0'), data: appImageBytes('1.0.0') });
    const rig = makeRig({ version: '1.0.0', feedUrl: build.url });
    await rig.checkAndSettle();
    rig.settings.url = custom.url;
    await rig.checkAndSettle();
    rig.settings.url = null;
    await rig.checkAndSettle();
    expect(build.requests.length).toBe(2);
    expect(custom.requests.length).toBe(1);
  });

  it('Windows: NsisUpdater reads latest.yml and verifies the installer it downloads', async () => {
    const srv = await server();
    const exe = Buffer.from('MZ' + 'installer'.repeat(2000));
    srv.publish({ platform: 'win', version: '1.0.1', file: 'Berth-Setup-1.0.1.exe', data: exe });
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, kind: 'NsisUpdater', platform: 'win32' });
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(srv.requests.map((r) => r.path)).toEqual(['latest.yml', 'Berth-Setup-1.0.1.exe']);
    const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith('.exe'));
    expect(sha512(fs.readFileSync(path.join(rig.dataDir, 'updates', 'berth-updater', file!)))).toBe(sha512(exe));

    const bad = await server();
    bad.publish({ platform: 'win', version: '1.0.1', file: 'Berth-Setup-1.0.1.exe', data: exe, tamper: true });
    const rig2 = makeRig({ version: '1.0.0', feedUrl: bad.url, kind: 'NsisUpdater', platform: 'win32' });
    expect((await rig2.checkAndSettle()).error).toContain('sha512');
  });

  it('macOS: the generic provider reads latest-mac.yml', async () => {
    const srv = await server();
    srv.publish({ platform: 'mac', version: '1.0.1', file: 'Berth-1.0.1-mac-x64.zip', data: Buffer.from('zip') });
    // MacUpdater itself needs Electron's native updater; the manifest it reads is the provider's choice.
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, platform: 'darwin' });
    const u = rig.updater();
    u.autoDownload = false;
    const result = await u.checkForUpdates();
    expect(result?.updateInfo.version).toBe('1.0.1');
    expect(srv.requests.map((r) => r.path)).toEqual(['latest-mac.yml']);
  });
});
