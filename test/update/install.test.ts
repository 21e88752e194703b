/**
 * Installing through a real Berth (createBerth) in this process: the update API, the
 * restart blockers, the port handoff to electron-updater's installer, and what
 * happens when the install cannot start. The installed app and the update are
 * real AppImages built by electron-builder (fixtures/artifacts.mjs), so an
 * install starts the new version's `berth serve`, which takes the same port.
 * (Ten updates in a row under load are e2e/update/relaunch.test.ts.)
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpdateService } from '../../app/update/service';
import { makeBerth } from '../core/fixtures';
import { memoryLogSink } from '../../app/log';
import { freePort, waitFor } from '../helpers';
import { composed, health, ready, refused, servingVersion, type Setup } from './composed';
import { appImageBytes, launchAtLoginEntry, sameBytes, appImageBuildProblem, appImageName, appImages, makeRig, removeRigDirs, stopSuccessors, tempDir, updateServer, type Build } from './support';

let B: Record<string, Build>;
beforeAll(async () => {
  if (!appImageBuildProblem) B = await appImages('1.0.0', '1.0.1');
}, 240_000);

afterAll(() => removeRigDirs());

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  await stopSuccessors();
});

/** The real builds: 1.0.0 installed at APPIMAGE, 1.0.1 published; an install starts the new version on the same port. */
async function setup(opts: { blockerWaitMs?: number; fileName?: string } = {}): Promise<Setup> {
  const srv = await updateServer();
  cleanups.push(() => srv.close());
  srv.publishBuild(B['1.0.1']!);
  return composed(srv, cleanups, {
    // Long enough for the new AppImage to start and prove itself on a busy machine.
    handoffDeadline: 30_000,
    rigFor: ({ port, dataDir, logs, hooks }) =>
      makeRig({
        version: '1.0.0',
        port,
        dataDir,
        logs,
        feedUrl: srv.url,
        installed: B['1.0.0']!,
        fileName: opts.fileName,
        blockerWaitMs: opts.blockerWaitMs,
        hooks,
      }),
  });
}

/**
 * The same composition with a stand-in artifact instead of a real build, for what cannot be built here: an
 * NSIS installer (Windows only), and a deb whose install is a privilege prompt. The artifact records how it was started.
 */
async function setupStandIn(opts: { artifact: Buffer; kind?: 'AppImageUpdater' | 'NsisUpdater'; relaunched?: unknown[] }): Promise<Setup> {
  const srv = await updateServer();
  cleanups.push(() => srv.close());
  srv.publish({ version: '1.0.1', file: 'Berth-1.0.1-linux-x86_64.AppImage', data: opts.artifact });
  if (opts.kind === 'NsisUpdater') srv.publish({ version: '1.0.1', platform: 'win', file: 'Berth-Setup-1.0.1.exe', data: opts.artifact });
  return composed(srv, cleanups, {
    handoffDeadline: 3000,
    installHooks: { relaunch: (h) => opts.relaunched?.push(h) },
    rigFor: ({ dataDir, logs, hooks }) =>
      makeRig({
        version: '1.0.0',
        feedUrl: srv.url,
        dataDir,
        logs,
        kind: opts.kind,
        platform: opts.kind === 'NsisUpdater' ? 'win32' : undefined,
        hooks,
      }),
  });
}

describe.skipIf(appImageBuildProblem)(`the update API${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('needs the token for state, check and install', async () => {
    const s = await setup();
    for (const [method, p] of [
      ['GET', '/api/update'],
      ['POST', '/api/update/check'],
      ['POST', '/api/update/install'],
    ] as const) {
      expect((await s.api(method, p, { token: null })).status, `${method} ${p}`).toBe(401);
      expect((await s.api(method, p, { token: 'x'.repeat(43) })).status, `${method} ${p}`).toBe(401);
    }
    expect(s.service.status().state).toBe('idle');
  });

  it('GET shows the state the UI is built against; install with nothing ready is a 409 that says why', async () => {
    const s = await setup();
    expect((await s.api('GET', '/api/update')).body).toEqual({ state: 'idle', channel: 'latest', currentVersion: '1.0.0' });
    const r = await s.api('POST', '/api/update/install');
    expect(r.status).toBe(409);
    expect(r.body.message).toBe('No update is ready to install (the update state is idle). Check for updates first.');
  });

  it('a plain-http update URL to another machine is refused by Settings and by the update API, each with the reason', async () => {
    const s = await setup();
    const reason =
      'Update URL must use https:// (plain http:// is accepted only for this machine, such as http://127.0.0.1), because an update fetched over http from updates.example.invalid could be replaced on the way';
    const put = await s.api('PUT', '/api/settings', { body: { update: { url: 'http://updates.example.invalid/berth/' } } });
    expect(put.status).toBe(400);
    expect(put.body.errors).toEqual([{ field: 'update.url', message: reason }]);
    expect(fs.existsSync(path.join(s.dataDir, 'settings.json'))).toBe(false);
    // https anywhere, and http on this machine, are fine.
    for (const url of ['https://updates.example.invalid/berth/', 'http://127.0.0.1:9/', 'http://localhost:9/', 'http://[::1]:9/']) {
      expect((await s.api('PUT', '/api/settings', { body: { update: { url } } })).status, url).toBe(200);
    }
    // A URL that got past Settings (a settings file edited by hand, BERTH_UPDATE_URL): the check is refused, no request made.
    s.settings.url = 'http://updates.example.invalid/berth/';
    const check = await s.api('POST', '/api/update/check');
    expect(check.status).toBe(409);
    expect(check.body.message).toBe(`${reason} (http://updates.example.invalid/berth/). Berth 1.0.0 keeps running.`);
    expect((await s.api('GET', '/api/update')).body).toMatchObject({ state: 'error', error: check.body.message });
    expect(s.srv.requests).toEqual([]);
  });

  it('check answers 202 at once, and the update event on /api/events follows it to ready', async () => {
    const s = await setup();
    const events: { state: string; version?: string }[] = [];
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const res = await fetch(`http://127.0.0.1:${s.port}/api/events`, { headers: { Authorization: `Bearer ${s.token}` }, signal: ac.signal });
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body!) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (block.startsWith('event: update\n')) events.push(JSON.parse(block.split('\ndata: ')[1]!));
        }
      }
    })().catch(() => undefined);
    await waitFor(() => events.length > 0, 'the first update event');
    expect(events[0]).toMatchObject({ state: 'idle' });
    const r = await s.api('POST', '/api/update/check');
    expect(r.status).toBe(202);
    expect(['checking', 'available', 'downloading', 'ready']).toContain(r.body.state);
    await waitFor(() => events.some((e) => e.state === 'ready'), 'the ready event');
    expect(events.map((e) => e.state).filter((st, i, a) => st !== a[i - 1])).toEqual(['idle', 'checking', 'available', 'downloading', 'ready']);
    expect(events.at(-1)).toMatchObject({ state: 'ready', version: '1.0.1', currentVersion: '1.0.0' });
    ac.abort();
    await reading;
  });

  it('a copy that cannot update itself says so, and refuses check and install with the reason', async () => {
    const logs = memoryLogSink();
    const dataDir = tempDir();
    const port = await freePort();
    const { host, token } = await makeBerth(port, {
      dataDir,
      logs,
      version: '1.0.0',
      updates: (hooks) =>
        new UpdateService({
          updater: null,
          disabledReason: 'Not packaged: this Berth runs from /src under Node and cannot replace itself.',
          currentVersion: '1.0.0',
          settings: () => ({ channel: 'latest', autoCheck: true, url: null, allowPrerelease: false }),
          dataDir,
          hooks,
          log: logs.root,
        }),
    });
    await host.start();
    cleanups.push(() => host.stop());
    const get = async (method: string, p: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${p}`, { method, headers: { Authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect((await get('GET', '/api/update')).body).toMatchObject({ state: 'disabled', reason: expect.stringContaining('Not packaged') });
    for (const p of ['/api/update/check', '/api/update/install']) {
      const r = await get('POST', p);
      expect(r.status).toBe(409);
      expect(r.body.message).toContain('Not packaged');
    }
  });
});

describe.skipIf(appImageBuildProblem)('install: the port goes to the installer', () => {
  it('AppImage order with the default versioned name: the new file is followed everywhere the old one was named', async () => {
    const s = await setup();
    expect(path.basename(s.appImage)).toBe('Berth-1.0.0-linux-x86_64.AppImage');
    const entry = launchAtLoginEntry(s.appImage, cleanups);
    await ready(s);
    const before = (await health(s.port))!;

    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    // AppImage order: 1.0.1 starts while 1.0.0 serves, and 1.0.0 lets go once it probes.
    const after = await servingVersion(s.port, '1.0.1');
    await waitFor(() => s.exits.length > 0, 'the old host to exit');
    expect(after.instance).not.toBe(before.instance);

    const moved = path.join(path.dirname(s.appImage), 'Berth-1.0.1-linux-x86_64.AppImage');
    // Once 1.0.1 serves, 1.0.0's file goes.
    await waitFor(() => !fs.existsSync(s.appImage), 'the old file to be deleted');
    expect(fs.existsSync(moved)).toBe(true);
    // The new version knows whom it replaced: the handoff rode in the environment it was started with.
    expect((await s.api('GET', '/api/status')).body.handoffFrom).toBe(before.instance);
    expect(process.env.BERTH_HANDOFF).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(path.join(s.dataDir, 'update-state.json'), 'utf8'))).toEqual({ version: '1.0.1', channel: 'latest' });
    // At the next login the entry starts the new file, not a deleted one.
    const text = fs.readFileSync(entry, 'utf8');
    expect(text).toContain(`Exec=${moved} --hidden\n`);
    expect(text).not.toContain('1.0.0');
    expect(fs.statSync(entry).mode & 0o777).toBe(0o644);
    expect(s.logText()).toContain(`the AppImage is now ${moved} (${s.appImage} was replaced)`);
    expect(s.logText()).toContain(`launch at login now starts ${moved}`);
  });

  it('AppImage with a name of its own (no version in it): the update replaces the file in place and nothing moves', async () => {
    const s = await setup({ fileName: 'Berth.AppImage' });
    await ready(s);
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await servingVersion(s.port, '1.0.1');
    expect(sameBytes(s.appImage, B['1.0.1']!.file), 'the published AppImage').toBe(true);
    // 1.0.0 was kept under a hidden name until 1.0.1 served.
    await waitFor(() => fs.readdirSync(path.dirname(s.appImage)).length === 1, 'the kept 1.0.0 to go');
    expect(fs.readdirSync(path.dirname(s.appImage))).toEqual(['Berth.AppImage']);
    expect(process.env.APPIMAGE).toBe(s.appImage);
    expect(s.logText()).not.toContain('the AppImage is now');
  });

  it('an install that cannot start (the installed AppImage is gone): the same instance serves on, with the reason', async () => {
    const s = await setup();
    await ready(s);
    const before = (await health(s.port))!;
    // The installed file has gone (moved by hand, a read-only mount...): there is nothing to replace.
    fs.rmSync(s.appImage);
    await expect(s.service.install()).rejects.toThrow(/Relaunch failed/);
    const after = await health(s.port);
    expect(after).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(s.host.state).toBe('serving');
    expect(s.exits).toEqual([]);
    const st = s.service.status();
    // Still ready to install (the download is there), with what went wrong.
    expect(st).toMatchObject({ state: 'ready', version: '1.0.1', currentVersion: '1.0.0' });
    expect(st.error).toMatch(/^Installing Berth 1\.0\.1 failed: the installed AppImage .* is gone.*Berth 1\.0\.0 keeps running\.$/);
  });

  it('waits for a request in flight (a slow settings upload), says so, lets it finish, then installs', async () => {
    const s = await setup();
    await ready(s);
    // A settings save whose body arrives slowly: the server has accepted the request and is reading it.
    const body = JSON.stringify({ update: { channel: 'latest', autoCheck: false, url: s.srv.url, allowPrerelease: false } });
    const sock = net.connect({ host: '127.0.0.1', port: s.port });
    await new Promise((r) => sock.once('connect', r));
    let reply = '';
    sock.on('data', (d) => (reply += d));
    sock.write(
      `PUT /api/settings HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAuthorization: Bearer ${s.token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
        body.slice(0, 10),
    );
    await waitFor(() => s.service.blockers.list().includes('PUT /api/settings'), 'the upload to count as a blocker');

    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    const waiting = await waitFor(async () => {
      const st = (await s.api('GET', '/api/update')).body;
      return st.state === 'installing' && (st.blockers as string[]).length ? st : null;
    }, 'the install to wait');
    expect(waiting.blockers).toEqual(['PUT /api/settings']);
    await new Promise((r) => setTimeout(r, 300));
    // Still waiting, still serving, nothing started.
    expect(s.exits).toEqual([]);
    expect(fs.existsSync(s.appImage)).toBe(true);
    expect((await health(s.port))?.state).toBe('serving');

    sock.end(body.slice(10));
    await waitFor(() => s.exits.length > 0, 'the install to proceed once the upload is done');
    // The save was acknowledged before the handoff, so it completes: whole response, file written.
    await waitFor(() => reply.endsWith('}'), 'the whole settings response');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(fs.readFileSync(path.join(s.dataDir, 'settings.json'), 'utf8')).update.url).toBe(s.srv.url);
    await servingVersion(s.port, '1.0.1');
    expect(s.logText()).toContain('restart blockers cleared after');
  });

  it('the wait is bounded: a blocker that never ends delays the install by blockerWaitMs, then it goes ahead', async () => {
    const s = await setup({ blockerWaitMs: 400 });
    await ready(s);
    s.service.blockers.hold('export of 3 files');
    const t0 = performance.now();
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the install to go ahead');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(380);
    expect(s.logText()).toContain('installing 1.0.1 after waiting 400 ms for: export of 3 files');
    expect(s.changes.some((c) => c.state === 'installing' && c.blockers?.[0] === 'export of 3 files')).toBe(true);
  });

  it('a second install while one is under way is refused', async () => {
    const s = await setup({ blockerWaitMs: 5000 });
    await ready(s);
    const release = s.service.blockers.hold('job');
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.service.status().state === 'installing', 'installing');
    const again = await s.api('POST', '/api/update/install');
    expect(again.status).toBe(409);
    expect(again.body.message).toBe('An update is already being installed.');
    release();
    await waitFor(() => s.exits.length > 0, 'the first install to proceed');
  });
});

describe('install with a stand-in installer (what cannot be built here)', () => {
  it('NSIS order, an installer that cannot be spawned: still serving, no exit; the second install works', async () => {
    const marker = path.join(tempDir(), 'started');
    const s = await setupStandIn({ kind: 'NsisUpdater', artifact: recordingArtifact(marker) });
    let installer = '';
    s.updater().on('update-downloaded', (e: { downloadedFile: string }) => (installer = e.downloadedFile));
    await ready(s);
    const before = (await health(s.port))!;
    // The downloaded installer cannot be executed (no exec bit, as a quarantined or half-copied file): its spawn
    // fails after electron-updater's install() has already returned true.
    fs.chmodSync(installer, 0o644);
    await expect(s.service.install()).rejects.toThrow(/the installer could not start \(the installer could not be started: .* is not executable \(EACCES\)\)/);
    expect(await health(s.port)).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(s.host.state).toBe('serving');
    expect(s.exits).toEqual([]);
    expect(s.host.status().history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.stringContaining('EACCES') });
    expect(s.service.status()).toMatchObject({ state: 'ready', version: '1.0.1', error: expect.stringContaining('EACCES') });
    expect(fs.existsSync(path.join(s.dataDir, 'handoff.json'))).toBe(false);

    // Fixed: electron-updater would ignore a second install() (quitAndInstallCalled stays set); Berth's works.
    fs.chmodSync(installer, 0o755);
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the second install to hand over');
    expect(s.exits).toEqual([0]);
    expect(await refused(s.port)).toBe(true);
    const seen = await waitFor(() => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8'), 'the installer to start');
    expect(seen).toContain(`handoff=${before.instance}:${process.pid}:${s.port}:127.0.0.1`);
    // What an installer that drops the environment still finds: the note, with the secret, in the data directory.
    expect(JSON.parse(fs.readFileSync(path.join(s.dataDir, 'handoff.json'), 'utf8'))).toMatchObject({ instance: before.instance, pid: process.pid, port: s.port });
  });
});

/** An "AppImage" that records how it was started, then exits. */
function recordingArtifact(marker: string): Buffer {
  return appImageBytes('1.0.1', 4096, `echo "handoff=$BERTH_HANDOFF silent=$APPIMAGE_SILENT_INSTALL exitAfter=$APPIMAGE_EXIT_AFTER_INSTALL" > '${marker}'`);
}

