/**
 * The parts of the real-Electron update tests that run anywhere: the local
 * update location (update-server.mjs), the outside watch on the port
 * (port-watch.mjs), build-versions.mjs's choices, and the rule that makes an
 * update test skip here but fail in CI. The update location is checked with
 * electron-updater's own differential downloader and blockmaps written by
 * electron-builder's own code, since the AppImage and NSIS updates in CI
 * download through it exactly that way.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, freePort, killBerth, rawRequest, readToken, runBerth, startServe, tempDataDir, waitFor } from '../../test/helpers';
import { createNodeHttpExecutor } from '../../app/update/node-adapter';
import { canListen } from '../../main/startup';
// @ts-ignore: plain ES modules without type declarations.
import { artifactOf, builderArgs, nextVersion } from './build-versions.mjs';
// @ts-ignore
import { summarize, watchPort } from './port-watch.mjs';
// @ts-ignore
import { serveDirectory } from './update-server.mjs';
import { BUILDS_ENV, updateBuilds, useCleanups } from './update-rig';

const cleanups = useCleanups();

async function location(dir: string) {
  const srv = await serveDirectory(dir);
  cleanups.push(() => srv.close());
  return srv;
}

const get = (url: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(url, { method, headers });

describe('the local update location (update-server.mjs)', () => {
  const dir = tempDataDir('berth-location-');
  const data = crypto.randomBytes(100_000);
  fs.writeFileSync(path.join(dir, 'Berth-1.0.1-linux-x86_64.AppImage'), data);
  fs.writeFileSync(path.join(dir, 'latest-linux.yml'), 'version: 1.0.1\n');
  fs.writeFileSync(path.join(dir, '.hidden'), 'no');
  fs.mkdirSync(path.join(dir, 'linux-unpacked'));

  it('serves the files in its folder whole, with HEAD, and nothing else', async () => {
    const srv = await location(dir);
    const whole = await get(`${srv.url}Berth-1.0.1-linux-x86_64.AppImage`);
    expect(whole.status).toBe(200);
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.body.equals(data)).toBe(true);
    const head = await get(`${srv.url}latest-linux.yml`, {}, 'HEAD');
    expect([head.status, head.headers['content-length'], head.headers['content-type'], head.body.length]).toEqual([200, '15', 'text/yaml', 0]);
    for (const p of ['.hidden', 'linux-unpacked', 'linux-unpacked/x', '..%2fpackage.json', '%2e%2e/package.json', 'nope.yml', '']) {
      expect((await get(`${srv.url}${p}`)).status, p).toBe(404);
    }
    expect((await get(`${srv.url}latest-linux.yml`, {}, 'PUT')).status).toBe(405);
    expect(srv.bytesSent('Berth-1.0.1-linux-x86_64.AppImage')).toBe(data.length);
  });

  it('answers one range with 206 and several with a multipart/byteranges body', async () => {
    const srv = await location(dir);
    const url = `${srv.url}Berth-1.0.1-linux-x86_64.AppImage`;
    const one = await get(url, { Range: 'bytes=10-19' });
    expect([one.status, one.headers['content-range']]).toEqual([206, `bytes 10-19/${data.length}`]);
    expect(one.body.equals(data.subarray(10, 20))).toBe(true);
    const suffix = await get(url, { Range: 'bytes=-5' });
    expect(suffix.body.equals(data.subarray(data.length - 5))).toBe(true);
    expect((await get(url, { Range: `bytes=${data.length}-` })).status).toBe(416);

    const many = await get(url, { Range: 'bytes=0-3, 50000-50009, 99990-' });
    expect(many.status).toBe(206);
    const boundary = /boundary=(\S+)/.exec(String(many.headers['content-type']))![1];
    expect(Number(many.headers['content-length'])).toBe(many.body.length);
    const parts = many.body
      .toString('latin1')
      .split(`--${boundary}`)
      .slice(1, -1)
      .map((p) => {
        const [head, body] = p.split('\r\n\r\n');
        return { range: /Content-Range: bytes (\d+)-(\d+)\/(\d+)/.exec(head!)!.slice(1).map(Number), body: Buffer.from(body!.slice(0, -2), 'latin1') };
      });
    expect(parts.map((p) => p.range)).toEqual([
      [0, 3, data.length],
      [50000, 50009, data.length],
      [99990, 99999, data.length],
    ]);
    for (const p of parts) expect(p.body.equals(data.subarray(p.range[0]!, p.range[1]! + 1))).toBe(true);
    // A Range it cannot read is ignored: the whole file (test/update/fixtures.test.ts reads the header in detail).
    const ignored = await get(url, { Range: 'items=1-2' });
    expect([ignored.status, ignored.body.equals(data)]).toEqual([200, true]);
  });

  it("is enough for electron-updater's differential download: blockmaps by electron-builder, changed blocks only", async () => {
    const requireBuilder = createRequire(createRequire(path.join(ROOT, 'package.json')).resolve('electron-builder/cli.js'));
    const { buildBlockMap } = createRequire(requireBuilder.resolve('app-builder-lib/package.json'))('./out/targets/blockmap/blockmap.js');
    const { GenericDifferentialDownloader } = createRequire(path.join(ROOT, 'package.json'))('electron-updater/out/differentialDownloader/GenericDifferentialDownloader.js');
    const { CancellationToken } = createRequire(path.join(ROOT, 'package.json'))('builder-util-runtime');

    // N and N+1 of a 2 MB "installer": N+1 changes three places, as a new version string and a few edited files would.
    const work = tempDataDir('berth-differential-');
    const oldData = crypto.randomBytes(2_000_000);
    const newData = Buffer.from(oldData);
    for (const at of [1_000, 900_000, 1_700_000]) crypto.randomBytes(200).copy(newData, at);
    const oldFile = path.join(work, 'Berth-Setup-1.0.0.exe');
    const served = tempDataDir('berth-differential-location-');
    const newName = 'Berth-Setup-1.0.1.exe';
    fs.writeFileSync(oldFile, oldData);
    fs.writeFileSync(path.join(served, newName), newData);
    await buildBlockMap(oldFile, 'gzip', `${oldFile}.blockmap`);
    const info = await buildBlockMap(path.join(served, newName), 'gzip', path.join(served, `${newName}.blockmap`));
    const srv = await location(served);

    const read = (f: string) => JSON.parse(zlib.gunzipSync(fs.readFileSync(f)).toString());
    const out = path.join(work, 'downloaded.exe');
    const logged: string[] = [];
    const logger = { info: (m: string) => logged.push(m), warn: (m: string) => logged.push(m), error: (m: string) => logged.push(m) };
    const downloader = new GenericDifferentialDownloader({ size: info.size, sha512: info.sha512 }, createNodeHttpExecutor(), {
      newUrl: new URL(`${srv.url}${newName}`),
      oldFile,
      newFile: out,
      logger,
      requestHeaders: {},
      isUseMultipleRangeRequest: true,
      cancellationToken: new CancellationToken(),
    });
    await downloader.download(read(`${oldFile}.blockmap`), read(path.join(served, `${newName}.blockmap`)));

    expect(fs.readFileSync(out).equals(newData)).toBe(true);
    const sent = srv.bytesSent(newName);
    console.log(`differential download through the local update location: ${sent} of ${newData.length} bytes`);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(newData.length / 4);
    // One multipart request for the changed blocks, not a full download.
    expect(srv.requests.filter((r: { file: string; status: number }) => r.file === newName).map((r: { status: number }) => r.status)).toEqual([206]);
  });
});

describe('the watch on the port (port-watch.mjs)', () => {
  it('sums up answers, failures and the longest time without an answer', () => {
    const ok = (at: number, instance: string) => ({ at, ok: true, instance, version: instance === 'a' ? '1.0.0' : '1.0.1', pid: 1 });
    const refused = (at: number) => ({ at, ok: false, error: 'ECONNREFUSED' });
    const s = summarize([ok(0, 'a'), ok(10, 'a'), refused(20), refused(30), ok(45, 'b'), refused(50), ok(52, 'b')]);
    expect(s).toMatchObject({ attempts: 7, answered: 4, failures: { ECONNREFUSED: 3 }, longestOutageMs: 25, interleaved: false });
    expect(s.served.map((x: { version: string; answers: number }) => [x.version, x.answers])).toEqual([
      ['1.0.0', 2],
      ['1.0.1', 2],
    ]);
    // Two servers answering by turns is what "never two" forbids: the summary says so.
    expect(summarize([ok(0, 'a'), ok(1, 'b'), ok(2, 'a')]).interleaved).toBe(true);
  });

  it('watches a real berth serve through a relaunch: two instances in order, never by turns', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const first = await startServe(port, dataDir);
    cleanups.push(() => killBerth(first));
    const watch = watchPort({ port });
    await waitFor(() => watch.attempts.filter((a: { ok: boolean }) => a.ok).length >= 10, 'answers from the first instance');
    const restart = runBerth(['restart', '--app', '--json', '--port', String(port), '--data-dir', dataDir]);
    expect(await restart.exited, restart.stderr()).toBe(0);
    await waitFor(() => watch.attempts.filter((a: { ok: boolean; instance?: string }) => a.ok && a.instance !== first.info.instance).length >= 10, 'answers from the relaunched instance');
    const seen = await watch.stop();
    expect(seen.served.map((s: { instance: string }) => s.instance)[0]).toBe(first.info.instance);
    expect(seen.served).toHaveLength(2);
    expect(seen.interleaved).toBe(false);
    // The relaunched Berth is not our child: stop it through its API.
    const res = await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    expect(res.status).toBe(202);
    await waitFor(() => canListen('127.0.0.1', port), 'the relaunched Berth to free the port');
  });
});

describe('building N and N+1 (build-versions.mjs)', () => {
  it('N+1 is the next patch; each build is the project configuration with its own version and folder', () => {
    expect(nextVersion('1.0.0')).toBe('1.0.1');
    expect(nextVersion('2.3.9-beta.1')).toBe('2.3.10');
    expect(() => nextVersion('one')).toThrow(/not x\.y\.z/);
    expect(builderArgs({ platform: 'win32', arch: 'x64', target: 'nsis', version: '1.0.1', outDir: '/o/1.0.1' })).toEqual([
      '--config',
      'electron-builder.config.js',
      '-c.extraMetadata.version=1.0.1',
      '-c.directories.output=/o/1.0.1',
      '--win',
      'nsis',
      '--x64',
      '--publish',
      'never',
    ]);
  });

  it('finds the file the manifest names, and refuses a manifest whose file is missing', () => {
    const dir = tempDataDir('berth-build-');
    fs.writeFileSync(path.join(dir, 'latest-linux.yml'), 'version: 1.0.1\nfiles:\n  - url: Berth-1.0.1-linux-x86_64.AppImage\npath: Berth-1.0.1-linux-x86_64.AppImage\n');
    expect(() => artifactOf(dir, 'linux', 'AppImage')).toThrow(/names Berth-1\.0\.1-linux-x86_64\.AppImage, which is not in/);
    fs.writeFileSync(path.join(dir, 'Berth-1.0.1-linux-x86_64.AppImage'), 'x');
    expect(artifactOf(dir, 'linux', 'AppImage')).toBe('Berth-1.0.1-linux-x86_64.AppImage');
  });
});

describe('when an update test runs (update-rig.ts)', () => {
  const saved = { builds: process.env[BUILDS_ENV], require: process.env.BERTH_REQUIRE_ELECTRON };
  afterEach(() => {
    for (const [k, v] of [[BUILDS_ENV, saved.builds], ['BERTH_REQUIRE_ELECTRON', saved.require]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('skips without builds, but fails where BERTH_REQUIRE_ELECTRON=1; a test for another OS only skips', () => {
    delete process.env[BUILDS_ENV];
    delete process.env.BERTH_REQUIRE_ELECTRON;
    expect(updateBuilds(process.platform, 'x.test.ts')).toBeNull();
    process.env.BERTH_REQUIRE_ELECTRON = '1';
    expect(() => updateBuilds(process.platform, 'x.test.ts')).toThrow(/x\.test\.ts: BERTH_REQUIRE_ELECTRON=1 but it needs real builds of version N and N\+1/);
    const other = process.platform === 'win32' ? 'linux' : 'win32';
    expect(updateBuilds(other, 'x.test.ts')).toBeNull();
  });

  it('reads builds.json and checks that both builds and the manifest are there', () => {
    delete process.env.BERTH_REQUIRE_ELECTRON;
    const dir = tempDataDir('berth-builds-');
    const build = (version: string) => {
      const d = path.join(dir, version);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, `Berth-${version}.bin`), 'x');
      return { version, dir: d, artifact: `Berth-${version}.bin` };
    };
    const builds = { platform: process.platform, arch: process.arch, target: 't', updateUrl: 'http://127.0.0.1:47900/', manifest: 'latest.yml', old: build('1.0.0'), new: build('1.0.1') };
    fs.writeFileSync(path.join(dir, 'builds.json'), JSON.stringify(builds));
    process.env[BUILDS_ENV] = dir;
    expect(updateBuilds(process.platform, 'x.test.ts')).toBeNull(); // no manifest yet
    fs.writeFileSync(path.join(builds.new.dir, 'latest.yml'), 'version: 1.0.1\n');
    expect(updateBuilds(process.platform, 'x.test.ts')).toEqual(builds);
    process.env.BERTH_REQUIRE_ELECTRON = '1';
    expect(() => updateBuilds(process.platform, 'x.test.ts', () => 'there is no display')).toThrow(/BERTH_REQUIRE_ELECTRON=1 but there is no display/);
  });
});
