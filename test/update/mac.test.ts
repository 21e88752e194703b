/**
 * macOS: electron-updater's real MacUpdater, built the way the other updaters
 * are built here (NodeAppAdapter, the Node HTTP executor) and driven by the
 * desktop's own update wiring (main/updater.ts, platform darwin), against the
 * local update server serving the zip, its blockmap and latest-mac.yml that
 * electron-builder built (fixtures/artifacts.mjs). It runs up to the hand-over
 * to Squirrel.Mac.
 *
 * The one stand-in is Electron's native autoUpdater (Squirrel.Mac), which
 * MacUpdater takes from require('electron'): it behaves as Squirrel.Mac does
 * towards MacUpdater (fetch the feed URL it was given with its headers, fetch
 * the zip that answer names, report update-downloaded, then quitAndInstall)
 * and records what it was handed.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import type { AppUpdater } from 'electron-updater';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import type { Settings } from '../../app/settings/settings';
import { makeNodeUpdater } from '../../app/update/headless';
import type { UpdateStatus } from '../../app/update/state';
import { createDesktopUpdates } from '../../main/updater';
import { freePort, tempDataDir, waitFor } from '../helpers';
import { composed, guardedLifecycle, health, ready, recovered } from './composed';
import type { InstallHooks } from '../../app/lifecycle/plans';
import { startPoller } from './fixtures/rig.mjs';
import { buildRelease } from './fixtures/artifacts.mjs';
import { macZipBuildProblem, removeRigDirs, tempDir, updateServer, type Build, type UpdateServer } from './support';

/**
 * Squirrel.Mac as MacUpdater sees it, through Electron's autoUpdater. `stageMs`: how long staging takes
 * after the zip has arrived (unzip, signature check); `fail`: then report this error instead of success.
 */
class SquirrelStandIn extends EventEmitter {
  feeds: { url: string; headers?: Record<string, string> }[] = [];
  zips: Buffer[] = [];
  quitAndInstallCalls = 0;
  /** When staging finished (performance.now()), or failed. */
  stagedAt: number | null = null;
  constructor(private readonly o: { stageMs?: number; fail?: string } = {}) {
    super();
  }
  setFeedURL(options: { url: string; headers?: Record<string, string> }): void {
    this.feeds.push(options);
  }
  checkForUpdates(): void {
    void this.fetchUpdate().catch((err: Error) => this.emit('error', err));
  }
  private async fetchUpdate(): Promise<void> {
    const feed = this.feeds.at(-1)!;
    this.emit('checking-for-update');
    const answer = await fetch(feed.url, { headers: feed.headers });
    if (answer.status !== 200) throw new Error(`Squirrel.Mac: the feed answered HTTP ${answer.status}`);
    const { url } = (await answer.json()) as { url: string };
    this.emit('update-available');
    const zip = await fetch(url, { headers: feed.headers });
    this.zips.push(Buffer.from(await zip.arrayBuffer()));
    if (this.o.stageMs) await new Promise((r) => setTimeout(r, this.o.stageMs));
    this.stagedAt = performance.now();
    if (this.o.fail) throw new Error(this.o.fail);
    this.emit('update-downloaded', {}, '', '', new Date(), url);
  }
  quitAndInstall(): void {
    this.quitAndInstallCalls++;
  }
}

/** Make require('electron') (from electron-updater) give this stand-in, and only that. */
function provideElectronAutoUpdater(autoUpdater: SquirrelStandIn): () => void {
  const file = createRequire(require.resolve('electron-updater')).resolve('electron');
  const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache;
  const before = cache[file];
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = { autoUpdater };
  cache[file] = m;
  return () => {
    if (before) cache[file] = before;
    else delete cache[file];
  };
}

const sha512 = (b: Buffer) => crypto.createHash('sha512').update(b).digest('base64');
const settings: Settings['update'] = { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false };

afterAll(() => removeRigDirs());
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.skipIf(macZipBuildProblem)(`MacUpdater up to Squirrel.Mac${macZipBuildProblem ? ` (skipped: ${macZipBuildProblem})` : ''}`, () => {
  let Z: Record<string, Build>;
  beforeAll(async () => {
    Z = {};
    for (const v of ['1.0.1', '1.0.2']) Z[v] = (await buildRelease('mac-zip', v)) as Build;
  }, 240_000);

  async function setup(srv: UpdateServer, dataDir: string, version: string) {
    const squirrel = new SquirrelStandIn();
    cleanups.push(provideElectronAutoUpdater(squirrel));
    const logs = memoryLogSink();
    let updater: AppUpdater | null = null;
    const service = createDesktopUpdates({
      platform: 'darwin',
      isPackaged: true,
      autoUpdater: () => {
        updater = makeNodeUpdater('MacUpdater', { dataDir, version, logs, feedUrl: srv.url });
        // The generic provider picks latest-mac.yml by platform; electron-builder's own tests set it the same way.
        (updater as unknown as { _testOnlyOptions: unknown })._testOnlyOptions = { platform: 'darwin', isUseDifferentialDownload: true };
        return updater;
      },
      currentVersion: version,
      settings: () => settings,
      dataDir,
      // What the host and the desktop's lifecycle do with the step, minus the port: stage, start, then end the process its way.
      hooks: {
        handOver: async (step) => {
          await step.prepare?.();
          await step.start({});
          step.endWith?.();
        },
      },
      notify: () => undefined,
      log: logs.root.child({ scope: 'update' }),
    });
    // MacUpdater's local server for Squirrel.Mac stays up until the app quits; here, until the test ends.
    cleanups.push(() => (updater as unknown as { closeServerIfExists?: () => void } | null)?.closeServerIfExists?.());
    return { squirrel, logs, service, updater: () => updater! };
  }

  it('downloads the zip electron-builder built, serves it to Squirrel.Mac on loopback behind a password, and hands over the install', async () => {
    const srv = await updateServer();
    cleanups.push(() => srv.close());
    srv.publishBuild(Z['1.0.1']!);
    const dataDir = tempDataDir('berth-mac-update-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const { squirrel, logs, service } = await setup(srv, dataDir, '1.0.0');

    await service.check();
    expect(await service.whenSettled()).toMatchObject({ state: 'ready', version: '1.0.1', notes: 'Berth 1.0.1 (test build).' });
    expect(srv.requests.map((r) => r.path)).toEqual(['latest-mac.yml', 'Berth-1.0.1-mac-x64.zip']);
    // The download is checked against the manifest, then offered to Squirrel.Mac on a local server.
    expect(squirrel.feeds).toHaveLength(1);
    const feed = squirrel.feeds[0]!;
    expect(feed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(feed.headers?.Authorization).toMatch(/^Basic /);
    // Without the password nothing is handed out.
    expect((await fetch(feed.url)).status).toBe(401);
    // Squirrel.Mac is not asked for anything until the install (Berth installs only when asked).
    expect(squirrel.zips).toEqual([]);

    await service.install();
    await waitFor(() => squirrel.quitAndInstallCalls === 1, 'MacUpdater to tell Squirrel.Mac to install and relaunch');
    expect(squirrel.zips).toHaveLength(1);
    expect(sha512(squirrel.zips[0]!)).toBe(sha512(fs.readFileSync(Z['1.0.1']!.file)));
    expect(squirrel.listenerCount('error')).toBeGreaterThan(0);
    const text = logs.ring.tail(500).map((e) => e.msg).join('\n');
    expect(text).toContain('requested by Squirrel.Mac, pipe');
  });

  it('the next update is differential: the cached zip and the blockmaps electron-builder wrote, only changed blocks sent', async () => {
    // How much that saves depends on the zip: app.asar is one compressed member, so most of it changes
    // between versions. The bench reports the AppImage's figure, where blocks are compressed one by one.
    const srv = await updateServer();
    cleanups.push(() => srv.close());
    srv.publishBuild(Z['1.0.1']!);
    const dataDir = tempDataDir('berth-mac-update-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    // 1.0.0 -> 1.0.1 first: the whole zip (nothing to reuse yet), kept in the cache as update.zip.
    const first = await setup(srv, dataDir, '1.0.0');
    await first.service.check();
    expect(await first.service.whenSettled()).toMatchObject({ state: 'ready', version: '1.0.1' });
    // That process is gone: its local server and its Electron.
    cleanups.pop()!();
    cleanups.pop()!();

    // Now running 1.0.1, which finds 1.0.2.
    srv.publishBuild(Z['1.0.2']!);
    const second = await setup(srv, dataDir, '1.0.1');
    await second.service.check();
    expect(await second.service.whenSettled()).toMatchObject({ state: 'ready', version: '1.0.2' });
    const full = Z['1.0.2']!.size;
    const sent = srv.bytesServed('Berth-1.0.2-mac-x64.zip');
    expect(srv.requests.map((r) => r.path)).toEqual(expect.arrayContaining(['Berth-1.0.1-mac-x64.zip.blockmap', 'Berth-1.0.2-mac-x64.zip.blockmap']));
    expect(sent, `${sent} of ${full} bytes`).toBeLessThan(full);
    expect(srv.requests.filter((r) => r.path === 'Berth-1.0.2-mac-x64.zip').every((r) => /^bytes=/.test(r.headers.range ?? ''))).toBe(true);
    const text = second.logs.ring.tail(500).map((e) => e.msg).join('\n');
    expect(text).toMatch(/Full: [\d.,]+ \w+, To download: [\d.,]+ \w+/);
    expect(text).not.toContain('Cannot download differentially');
    const [zip] = second.squirrel.feeds.length ? [await fetchZip(second.squirrel)] : [];
    expect(sha512(zip!)).toBe(sha512(fs.readFileSync(Z['1.0.2']!.file)));
  });
});

describe.skipIf(macZipBuildProblem)(`Squirrel.Mac stages before the port closes${macZipBuildProblem ? ` (skipped: ${macZipBuildProblem})` : ''}`, () => {
  let zip: Build;
  beforeAll(async () => {
    zip = (await buildRelease('mac-zip', '1.0.1')) as Build;
  }, 240_000);

  /** Berth 1.0.0 serving (createBerth), with the desktop's macOS update wiring and a Squirrel.Mac stand-in. */
  async function serving(squirrel: SquirrelStandIn, o: { port?: number; dataDir?: string; installHooks?: InstallHooks } = {}) {
    const srv = await updateServer();
    cleanups.push(() => srv.close());
    srv.publishBuild(zip);
    cleanups.push(provideElectronAutoUpdater(squirrel));
    const ended: (() => void)[] = [];
    let made: AppUpdater | null = null;
    cleanups.push(() => (made as unknown as { closeServerIfExists?: () => void } | null)?.closeServerIfExists?.());
    const s = await composed(srv, cleanups, {
      handoffDeadline: 3000,
      port: o.port,
      dataDir: o.dataDir,
      // What the desktop's lifecycle owner does with the way the install ends: quits through Squirrel.Mac.
      installHooks: o.installHooks ?? { endWith: (fn: () => void) => ended.push(fn) },
      rigFor: ({ dataDir, logs, hooks }) => {
        const changes: UpdateStatus[] = [];
        const service = createDesktopUpdates({
          platform: 'darwin',
          isPackaged: true,
          autoUpdater: () => {
            made = makeNodeUpdater('MacUpdater', { dataDir, version: '1.0.0', logs, feedUrl: srv.url });
            (made as unknown as { _testOnlyOptions: unknown })._testOnlyOptions = { platform: 'darwin', isUseDifferentialDownload: false };
            return made;
          },
          currentVersion: '1.0.0',
          settings: () => settings,
          dataDir,
          hooks,
          notify: () => undefined,
          log: logs.root.child({ scope: 'update' }),
        });
        service.on('change', (c) => changes.push(c));
        return { dataDir, appImage: '', port: null, logs, service, settings, changes, updater: () => made!, checkAndSettle: async () => service.whenSettled(), logText: () => '' };
      },
    });
    return { s, ended };
  }

  it('staging takes 3 s and then fails: the port never closes, Squirrel.Mac\'s error reaches the user, and nothing waits', async () => {
    const squirrel = new SquirrelStandIn({ stageMs: 3000, fail: 'Code signature at URL file:///private/var/folders/x/Berth.app/ did not pass validation' });
    const { s } = await serving(squirrel);
    await ready(s);
    const before = (await health(s.port))!;
    const poller = startPoller(s.port, 5);
    await expect(s.service.install()).rejects.toThrow(/did not pass validation/);
    const records = await poller.stop();
    expect(squirrel.stagedAt).not.toBeNull();
    // Every look at the port while Squirrel.Mac worked was answered by 1.0.0.
    expect(records.length).toBeGreaterThan(10);
    expect(records.filter((r) => r[1] !== before.instance)).toEqual([]);
    expect(s.exits).toEqual([]);
    expect(s.host.state).toBe('serving');
    expect(s.service.status()).toMatchObject({
      state: 'ready',
      version: '1.0.1',
      error: expect.stringMatching(/^Squirrel\.Mac could not install Berth 1\.0\.1: Code signature .* did not pass validation\. Berth 1\.0\.0 keeps running\.$/),
    });
  });

  it('Squirrel.Mac staged the update, then its swap fails after the app has quit: the guardian starts the installed Berth, which says so', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const { lifecycle } = guardedLifecycle(port, dataDir);
    const squirrel = new SquirrelStandIn();
    const { s } = await serving(squirrel, { port, dataDir, installHooks: lifecycle.installHooks() });
    await ready(s);
    const before = (await health(port))!;
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the port to be let go');
    // The lifecycle ends the app through Squirrel.Mac, whose swap then fails: nothing starts 1.0.1.
    expect(await recovered(s, before, cleanups)).toEqual([
      expect.objectContaining({ detail: 'The update to 1.0.1 failed (no Berth served within 2 s); Berth 1.0.0 is running.' }),
    ]);
  }, 120_000);

  it('staging takes 3 s and succeeds: the port is let go only once the update is staged, then Squirrel.Mac quits the app', async () => {
    const squirrel = new SquirrelStandIn({ stageMs: 3000 });
    const { s, ended } = await serving(squirrel);
    await ready(s);
    const before = (await health(s.port))!;
    const t0 = performance.now();
    const poller = startPoller(s.port, 5);
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the host to let go of the port', 20_000);
    const records = await poller.stop();
    const firstRefused = records.find((r) => r[1] !== before.instance);
    expect(squirrel.stagedAt, 'staged before anything else').not.toBeNull();
    expect(t0 + (firstRefused?.[0] ?? Infinity), 'the port closed after staging').toBeGreaterThan(squirrel.stagedAt!);
    expect(s.exits).toEqual([0]);
    // The app ends through Squirrel.Mac's quitAndInstall, which swaps the bundle and starts 1.0.1.
    expect(squirrel.quitAndInstallCalls).toBe(0);
    expect(ended).toHaveLength(1);
    ended[0]!();
    expect(squirrel.quitAndInstallCalls).toBe(1);
  });
});

/** What Squirrel.Mac would fetch from MacUpdater's local server. */
async function fetchZip(squirrel: SquirrelStandIn): Promise<Buffer> {
  const feed = squirrel.feeds.at(-1)!;
  const { url } = (await (await fetch(feed.url, { headers: feed.headers })).json()) as { url: string };
  return Buffer.from(await (await fetch(url, { headers: feed.headers })).arrayBuffer());
}

