/**
 * https everywhere: an update is code Berth will run, so nothing of it comes
 * over plain http from another machine, however the URL got there: the
 * desktop's built-in feed (app-update.yml), a redirect, or a file the
 * manifest names. Plain http stays allowed on this machine only (a local
 * mirror, these tests): loopback to loopback.
 *
 * Where a request would have gone is seen through a recording proxy
 * (http_proxy), so a refused request is proven never to have been made,
 * without needing a name that resolves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppUpdater } from 'electron-updater';
import { describe, expect, it } from 'vitest';
import { memoryLogSink } from '../../app/log';
import { makeNodeUpdater } from '../../app/update/headless';
import { createDesktopUpdates } from '../../main/updater';
import { listenClosable } from '../listen.mjs';
import { appImageBuildProblem, appImageName, makeRig, tempDir, updateSuite } from './support';

const { builds: B, cleanups, server } = updateSuite('1.0.0', '1.0.1');



/** A proxy that records every plain-http request sent through it and answers 502: requests to other machines land here. */
async function recordingProxy(): Promise<string[]> {
  const seen: string[] = [];
  const proxy = http.createServer((req, res) => {
    seen.push(req.url!);
    res.writeHead(502).end('recorded by the test proxy\n');
  });
  const close = await listenClosable(proxy, { host: '127.0.0.1', port: 0 });
  const before = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy };
  process.env.http_proxy = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  // The local update server is reached directly.
  process.env.no_proxy = '127.0.0.1,localhost';
  cleanups.push(async () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await close();
  });
  return seen;
}

/** A local server that answers every request with a redirect to `to` (plus the path asked for). */
async function redirector(to: string): Promise<string> {
  const srv = http.createServer((req, res) => res.writeHead(302, { Location: `${to}${req.url}` }).end());
  const close = await listenClosable(srv, { host: '127.0.0.1', port: 0 });
  cleanups.push(close);
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

const HTTP_REFUSED = /plain http/;

describe('the desktop checks its built-in feed as the headless one does', () => {
  it('an app-update.yml naming http:// on another machine: the check is refused before any request, with the reason', async () => {
    const seen = await recordingProxy();
    const dataDir = tempDir();
    const logs = memoryLogSink();
    let made: AppUpdater | null = null;
    const service = createDesktopUpdates({
      platform: 'win32',
      isPackaged: true,
      // The packaged app's autoUpdater reads the build's app-update.yml: here one naming a plain-http feed.
      autoUpdater: () => {
        made = makeNodeUpdater('NsisUpdater', { dataDir, version: '1.0.0', logs, feedUrl: 'http://updates.example.test/berth/' });
        (made as unknown as { _testOnlyOptions: unknown })._testOnlyOptions = { platform: 'win32', isUseDifferentialDownload: false };
        return made;
      },
      currentVersion: '1.0.0',
      settings: () => ({ channel: 'latest', autoCheck: false, url: null, allowPrerelease: false }),
      dataDir,
      hooks: { handOver: async () => undefined },
      notify: () => undefined,
      log: logs.root.child({ scope: 'update' }),
    });
    const s = await service.check();
    expect(s.state).toBe('error');
    expect(s.error).toContain('Update URL must use https://');
    expect(s.error).toContain('(http://updates.example.test/berth/). Berth 1.0.0 keeps running.');
    expect(seen).toEqual([]);
  });
});

describe.skipIf(appImageBuildProblem)(`redirects and file URLs${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  it('a loopback feed whose download redirects to plain http on another machine: refused, never requested, the installed file untouched', async () => {
    const seen = await recordingProxy();
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    // The artifact itself is "moved" to a mirror on another machine, over plain http.
    const moved = await redirector('http://mirror.example.test');
    srv.redirect(appImageName('1.0.1'), `${moved}/${appImageName('1.0.1')}`);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    rig.updater().disableDifferentialDownload = true;
    const s = await rig.checkAndSettle();
    expect(s).toMatchObject({ state: 'error', version: '1.0.1' });
    expect(s.error).toMatch(HTTP_REFUSED);
    expect(s.error).toContain('http://mirror.example.test/');
    expect(seen).toEqual([]);
  });

  it('a manifest naming its file by an absolute http:// URL on another machine: refused, never requested', async () => {
    const seen = await recordingProxy();
    const srv = await server();
    const build = B['1.0.1']!;
    srv.publishBuild(build);
    srv.publishManifest('latest-linux.yml', build.manifest.replaceAll(`url: ${build.name}`, `url: http://cdn.example.test/${build.name}`));
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    rig.updater().disableDifferentialDownload = true;
    const s = await rig.checkAndSettle();
    expect(s.state).toBe('error');
    expect(s.error).toMatch(HTTP_REFUSED);
    expect(seen).toEqual([]);
  });

  it('loopback to loopback over plain http is followed (a local mirror)', async () => {
    const srv = await server();
    srv.publishBuild(B['1.0.1']!);
    const mirror = await server();
    mirror.publishBuild(B['1.0.1']!);
    srv.redirect(appImageName('1.0.1'), `${mirror.url.replace('127.0.0.1', 'localhost')}${appImageName('1.0.1')}`);
    const rig = makeRig({ version: '1.0.0', feedUrl: srv.url, installed: B['1.0.0']! });
    rig.updater().disableDifferentialDownload = true;
    expect(await rig.checkAndSettle()).toMatchObject({ state: 'ready', version: '1.0.1' });
    expect(mirror.bytesServed(appImageName('1.0.1'))).toBe(B['1.0.1']!.size);
  });
});
