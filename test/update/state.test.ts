import { describe, expect, it } from 'vitest';
import { RestartBlockers } from '../../app/update/blockers';
import { channelOfVersion, describeUpdateError, downgradeAllowed } from '../../app/update/state';

describe('channels and downgrades', () => {
  it('a prerelease belongs to beta, anything else to latest', () => {
    expect(channelOfVersion('1.2.0')).toBe('latest');
    expect(channelOfVersion('1.2.0-beta.3')).toBe('beta');
    expect(channelOfVersion('1.2.0+build.7')).toBe('latest');
    expect(channelOfVersion('1.2.0-rc.1+build.7')).toBe('beta');
  });

  it('a downgrade only when the wanted channel differs from the one the running version came from', () => {
    expect(downgradeAllowed('latest', 'latest')).toBe(false);
    expect(downgradeAllowed('beta', 'beta')).toBe(false);
    expect(downgradeAllowed('latest', 'beta')).toBe(true);
    expect(downgradeAllowed('beta', 'latest')).toBe(true);
  });
});

describe('updater errors in words a person can act on', () => {
  const ctx = { url: 'https://updates.example/', currentVersion: '1.0.0', phase: 'check' as const };

  it('a missing channel file names the file and where to look', () => {
    const err = Object.assign(new Error('Cannot find channel "beta-linux.yml" update info: HttpError: 404'), { code: 'ERR_UPDATER_CHANNEL_FILE_NOT_FOUND' });
    const m = describeUpdateError(err, ctx);
    expect(m).toContain('has no beta-linux.yml (HTTP 404)');
    expect(m).toContain('update URL and channel in Settings');
    expect(m).toContain('Berth 1.0.0 keeps running');
  });

  it('an unreachable server names the server and the network error', () => {
    const m = describeUpdateError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), ctx);
    expect(m).toMatch(/^Could not reach the update server \(https:\/\/updates\.example\/\): ECONNREFUSED/);
  });

  it('a checksum mismatch says the download was discarded', () => {
    const err = Object.assign(new Error('sha512 checksum mismatch, expected X, got Y'), { code: 'ERR_CHECKSUM_MISMATCH' });
    const m = describeUpdateError(err, { ...ctx, phase: 'download', version: '1.0.1' });
    expect(m).toContain('Berth 1.0.1 did not match its published sha512 checksum and was discarded');
  });

  it('an HTTP status, a broken manifest and anything else', () => {
    expect(describeUpdateError(Object.assign(new Error('HttpError: 500'), { statusCode: 500 }), ctx)).toContain('answered HTTP 500 during the check');
    expect(describeUpdateError(new Error('Cannot download "http://x/a.AppImage", status 403: Forbidden'), { ...ctx, phase: 'download', version: '2.0.0' })).toContain(
      'answered HTTP 403 while downloading Berth 2.0.0',
    );
    expect(describeUpdateError(Object.assign(new Error('bad yaml'), { code: 'ERR_UPDATER_INVALID_UPDATE_INFO' }), ctx)).toContain('update information Berth cannot use');
    expect(describeUpdateError(new Error('EACCES: permission denied, unlink /opt/Berth.AppImage'), { ...ctx, phase: 'install', version: '2.0.0' })).toBe(
      'Installing Berth 2.0.0 failed: EACCES: permission denied, unlink /opt/Berth.AppImage. Berth 1.0.0 keeps running.',
    );
    expect(describeUpdateError('weird', ctx)).toBe('Checking for updates failed: weird. Berth 1.0.0 keeps running.');
  });
});

describe('restart blockers', () => {
  it('lists what holds, by label, and clears when released (twice is harmless)', () => {
    const b = new RestartBlockers();
    const a = b.hold('PUT /api/settings');
    const c = b.hold('PUT /api/settings');
    const d = b.hold('export');
    expect(b.list()).toEqual(['PUT /api/settings (2)', 'export']);
    a();
    a();
    expect(b.list()).toEqual(['PUT /api/settings', 'export']);
    c();
    d();
    expect(b.list()).toEqual([]);
    expect(b.size).toBe(0);
  });

  it('waitUntilClear resolves at once when nothing holds', async () => {
    expect(await new RestartBlockers().waitUntilClear({ maxWaitMs: 10 })).toEqual({ waitedMs: 0, timedOut: false, left: [] });
  });

  it('waits for the last release, reporting each change on the way', async () => {
    const b = new RestartBlockers();
    const r1 = b.hold('one');
    const r2 = b.hold('two');
    const seen: string[][] = [];
    setTimeout(r1, 30);
    setTimeout(r2, 60);
    const w = await b.waitUntilClear({ maxWaitMs: 5000, onWaiting: (l) => seen.push(l) });
    expect(w.timedOut).toBe(false);
    expect(w.waitedMs).toBeGreaterThanOrEqual(50);
    expect(seen).toEqual([['one', 'two'], ['two']]);
  });

  it('the wait is bounded: a hold that never ends is reported and passed over', async () => {
    const b = new RestartBlockers();
    b.hold('stuck upload');
    const w = await b.waitUntilClear({ maxWaitMs: 50 });
    expect(w).toMatchObject({ timedOut: true, left: ['stuck upload'] });
    expect(w.waitedMs).toBeGreaterThanOrEqual(45);
  });
});
