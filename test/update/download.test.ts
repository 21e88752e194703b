/**
 * Downloads a person can trust: progress in bytes, size and speed; a server
 * that goes quiet gets a state of its own (stalled) with Cancel and Retry; a
 * dropped connection resumes where it stopped when the server takes Range
 * requests, and says it starts again when it does not; a download folder
 * that cannot be written is named. The real AppImageUpdater downloads
 * electron-builder's AppImage from a local server told to misbehave.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers';
import { composed } from './composed';
import { appImageBuildProblem, cachedFiles, makeRig, updateSuite, type Rig, type UpdateServer } from './support';

const { builds: B, cleanups, server } = updateSuite('1.0.0', '1.0.1');


const sha512 = (file: string) => crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64');

/** The whole file, as when no earlier version is there to reuse blocks from. */
function rigFor(srv: UpdateServer, o: { stallAfterMs?: number } = {}): Rig {
  const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, stallAfterMs: o.stallAfterMs });
  rig.updater().disableDifferentialDownload = true;
  return rig;
}

function downloaded(rig: Rig): string {
  const [file] = cachedFiles(rig.dataDir).filter((f) => f.endsWith(B['1.0.1']!.name) && !f.includes('temp-'));
  return path.join(rig.dataDir, 'updates', 'berth-updater', file!);
}

const fileRequests = (srv: UpdateServer) => srv.requests.filter((r) => r.path === B['1.0.1']!.name);

describe.skipIf(appImageBuildProblem)(`downloads${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('a server that goes quiet mid-download: stalled, with how far it got; Retry resumes from there with Range and finishes', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const size = B['1.0.1']!.size;
    srv.fault(B['1.0.1']!.name, 'stall', Math.floor(size / 2));
    const rig = rigFor(srv, { stallAfterMs: 400 });
    await rig.service.check();
    const half = Math.floor(size / 2);
    const stalled = await waitFor(() => {
      const st = rig.service.status();
      return st.state === 'stalled' && st.transferred === half ? st : null;
    }, 'the stalled state, half way');
    expect(stalled).toMatchObject({ version: '1.0.1', total: size, transferred: Math.floor(size / 2) });
    expect(stalled.error).toMatch(/has sent nothing for/);

    await rig.service.retryDownload();
    expect(await rig.service.whenSettled()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const asked = fileRequests(srv);
    expect(asked).toHaveLength(2);
    expect(asked[1]!.headers.range).toBe(`bytes=${Math.floor(size / 2)}-`);
    expect(srv.bytesServed(B['1.0.1']!.name)).toBe(size);
    expect(sha512(downloaded(rig))).toBe(sha512(B['1.0.1']!.file));
  });

  it('Cancel on a stalled download: the request ends, nothing half-written is kept, and the update can be downloaded again', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    srv.fault(B['1.0.1']!.name, 'stall', 1000);
    const rig = rigFor(srv, { stallAfterMs: 400 });
    await rig.service.check();
    await waitFor(() => rig.service.status().state === 'stalled' && rig.service.status().transferred === 1000, 'the stalled state');

    await rig.service.cancelDownload();
    expect(rig.service.status()).toMatchObject({ state: 'available', version: '1.0.1' });
    expect(cachedFiles(rig.dataDir).filter((f) => f.includes('1.0.1'))).toEqual([]);
    await expect(rig.service.install()).rejects.toThrow(/No update is ready to install \(the update state is available\)/);

    await rig.service.retryDownload();
    expect(await rig.service.whenSettled()).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(sha512(downloaded(rig))).toBe(sha512(B['1.0.1']!.file));
  });

  it('a dropped connection resumes with Range where the server allows it: no byte is sent twice', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const size = B['1.0.1']!.size;
    srv.fault(B['1.0.1']!.name, 'drop', Math.floor(size / 3));
    const rig = rigFor(srv);
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const asked = fileRequests(srv);
    expect(asked).toHaveLength(2);
    expect(asked[1]!.headers.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/=(\d+)-/.exec(asked[1]!.headers.range!)![1])).toBeGreaterThan(0);
    expect(srv.bytesServed(B['1.0.1']!.name)).toBe(size);
    expect(sha512(downloaded(rig))).toBe(sha512(B['1.0.1']!.file));
  });

  it('a dropped connection where the server cannot resume: the download says it starts again, and does', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    srv.honourRanges(false);
    const size = B['1.0.1']!.size;
    srv.fault(B['1.0.1']!.name, 'drop', Math.floor(size / 3));
    const rig = rigFor(srv);
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    const notes = rig.changes.filter((c) => c.state === 'downloading' && c.note).map((c) => c.note);
    expect(notes[0]).toMatch(/does not support resuming.*starts again from the beginning/);
    expect(srv.bytesServed(B['1.0.1']!.name)).toBe(size + Math.floor(size / 3));
    expect(sha512(downloaded(rig))).toBe(sha512(B['1.0.1']!.file));
  });

  it('through the API: the stalled state is what GET says; POST cancel and POST retry act on it', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    srv.fault(B['1.0.1']!.name, 'stall', 4096);
    const s = await composed(srv, cleanups, {
      handoffDeadline: 3000,
      rigFor: ({ port, dataDir, logs, hooks }) => {
        const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']!, port, dataDir, logs, hooks, stallAfterMs: 400 });
        rig.updater().disableDifferentialDownload = true;
        return rig;
      },
    });
    expect((await s.api('POST', '/api/update/check')).status).toBe(202);
    const stalled = await waitFor(async () => {
      const st = (await s.api('GET', '/api/update')).body;
      // On a busy machine the first byte itself can take longer than the bound: stalled, then downloading, then stalled at 4096.
      return st.state === 'stalled' && st.transferred === 4096 ? st : null;
    }, 'GET /api/update to say stalled at 4096 bytes');
    expect(stalled).toMatchObject({ version: '1.0.1', transferred: 4096, total: B['1.0.1']!.size });
    const cancelled = await s.api('POST', '/api/update/cancel');
    expect(cancelled).toMatchObject({ status: 200, body: { state: 'available', version: '1.0.1' } });
    expect((await s.api('POST', '/api/update/retry')).status).toBe(202);
    await waitFor(async () => (await s.api('GET', '/api/update')).body.state === 'ready', 'the download to finish');
  });

  it('a download folder that cannot be written: the error names the folder and why', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const rig = rigFor(srv);
    const cache = path.join(rig.dataDir, 'updates', 'berth-updater');
    fs.mkdirSync(cache, { recursive: true });
    if (process.getuid?.() === 0) {
      // Root writes anywhere a mode allows nobody to: a read-only mount is what stops it (a full or read-only disk).
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'berth-ro', cache]);
      cleanups.push(() => execFileSync('umount', [cache]));
    } else {
      fs.chmodSync(cache, 0o555);
      cleanups.push(() => fs.chmodSync(cache, 0o755));
    }
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1' });
    expect(s.error).toContain(`Berth cannot write to its download folder ${cache}`);
    expect(s.error).toMatch(/\((read-only file system|permission denied)\)/);
    expect(s.error).toContain('Berth 1.0.0 keeps running.');
  });
});
