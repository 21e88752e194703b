/**
 * The e2e and the benchmark judge the port through these helpers, so they
 * must be able to say "no": two servers, a missing handoff, a wrong manifest.
 */
import { describe, expect, it } from 'vitest';
import { handoffGaps, instanceOrder } from './fixtures/rig.mjs';
import { manifest, sha512 } from './fixtures/update-server.mjs';
import { parseRange } from './fixtures/byte-ranges.mjs';
import { readManifest, sourceKey } from './fixtures/artifacts.mjs';
import crypto from 'node:crypto';
import { appImageBuildProblem, appImages } from './support';
import { appTree } from './fixtures/installed-app.mjs';
import { ROOT, tempDataDir } from '../helpers';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

describe('reading the /health record', () => {
  it('an older instance answering after a newer one is reported as two servers at once', () => {
    const ok = [
      [0, 'A', '1', 1],
      [1, null, null, null],
      [2, 'B', '2', 2],
      [3, 'B', '2', 2],
    ];
    expect(instanceOrder(ok)).toEqual({ order: ['A', 'B'], violations: [] });
    const twoAtOnce = [...ok, [4, 'A', '1', 1]];
    expect(instanceOrder(twoAtOnce).violations).toEqual([{ t: 4, instance: 'A', after: 'B' }]);
  });

  it('downtime is the last answer of one instance to the first of the next', () => {
    const rec = [
      [10, 'A', '1', 1],
      [12, 'A', '1', 1],
      [13, null, null, null],
      [40, 'B', '2', 2],
      [41, 'B', '2', 2],
    ];
    expect(handoffGaps(rec)).toEqual([{ from: 'A', to: 'B', ms: 28 }]);
  });
});

describe('what the update server publishes', () => {
  it.skipIf(appImageBuildProblem)("the AppImage manifest is electron-builder's own, with the blockmap size the differential download needs", async () => {
    const { '1.0.1': b } = await appImages('1.0.1');
    const m = readManifest(b!.manifest) as { version: string; files: Record<string, unknown>[]; path: string; sha512: string; releaseDate: string; releaseNotes: string };
    expect(m).toMatchObject({ version: '1.0.1', path: 'Berth-1.0.1-linux-x86_64.AppImage', releaseNotes: 'Berth 1.0.1 (test build).' });
    expect(m.files).toEqual([{ url: 'Berth-1.0.1-linux-x86_64.AppImage', sha512: sha512(fs.readFileSync(b!.file)), size: b!.size, blockMapSize: expect.any(Number) }]);
    // The stand-in NSIS manifest (manifest() below) writes a subset of these keys, never one electron-builder does not.
    const standIn = readManifest(manifest({ version: '1.0.1', file: 'x.exe', data: Buffer.from('x'), releaseNotes: 'n' })) as Record<string, unknown> & { files: Record<string, unknown>[] };
    expect(Object.keys(standIn).filter((k) => !(k in m))).toEqual([]);
    expect(Object.keys(standIn.files[0]!).filter((k) => !(k in m.files[0]!))).toEqual([]);
  }, 240_000);

  it('byte ranges are read the way a static file server reads them: past the end is refused, nonsense is ignored', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual([[0, 9]]);
    expect(parseRange('bytes=10-19, 50-', 100)).toEqual([
      [10, 19],
      [50, 99],
    ]);
    expect(parseRange('bytes=-5', 100)).toEqual([[95, 99]]);
    expect(parseRange('bytes=90-200', 100)).toEqual([[90, 99]]);
    // Of several ranges, the ones that can be served are.
    expect(parseRange('bytes=0-1, 200-300', 100)).toEqual([[0, 1]]);
    // Nothing to serve: answered 416.
    for (const bad of ['bytes=100-', 'bytes=5-1']) expect(parseRange(bad, 100), bad).toBe('unsatisfiable');
    // Not a range this server can read, or none: the whole file (RFC 9110 lets a server ignore Range).
    for (const bad of ['bytes=-', 'items=0-1', 'bytes=a-b', '', undefined]) expect(parseRange(bad, 100), bad).toBeNull();
  });

  it('a manifest electron-updater accepts: version, files with sha512 and size, path, releaseDate, staging', () => {
    const data = Buffer.from('artifact');
    const text = manifest({ version: '1.2.3', file: 'Berth-1.2.3-linux-x86_64.AppImage', data, releaseDate: '2026-11-29T00:00:00.000Z', stagingPercentage: 20 });
    // Parsed with the YAML parser electron-updater itself uses.
    const yaml = createRequire(require.resolve('electron-updater'))('js-yaml') as { load(s: string): unknown };
    expect(yaml.load(text)).toEqual({
      version: '1.2.3',
      files: [{ url: 'Berth-1.2.3-linux-x86_64.AppImage', sha512: sha512(data), size: data.length }],
      path: 'Berth-1.2.3-linux-x86_64.AppImage',
      sha512: sha512(data),
      releaseDate: '2026-11-29T00:00:00.000Z',
      stagingPercentage: 20,
    });
  });

  it('an installed copy reports the version of its own package.json', async () => {
    const root = tempDataDir('berth-tree-');
    const dir = appTree(root, '7.7.7');
    const req = createRequire(path.join(dir, 'out/app/cli.js'));
    expect(fs.realpathSync(path.join(dir, 'out/app/paths.js')).startsWith(fs.realpathSync(root))).toBe(true);
    expect((req('./paths') as { appVersion(): string }).appVersion()).toBe('7.7.7');
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe('a machine without the Debian tools', () => {
  const vitest = (env: Record<string, string>) =>
    spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', 'test/update/state.test.ts'], {
      cwd: ROOT,
      // CI exports BERTH_REQUIRE_UPDATE_TOOLS=1; each case here sets it itself.
      env: { ...process.env, BERTH_REQUIRE_UPDATE_TOOLS: '', ...env },
      encoding: 'utf8',
    });

  it('the run ends with one line naming the skipped suites and the apt-get install that brings them back', () => {
    const run = vitest({ BERTH_TEST_MISSING_TOOLS: 'mksquashfs,7zz' });
    expect(run.status, run.stderr).toBe(0);
    const last = run.stdout.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^Skipped \d+ suites for missing tools \(.*test\/update\/install\.test\.ts.*test\/update\/mac\.test\.ts.*\); to run them: sudo apt-get install -y squashfs-tools 7zip$/);
  }, 120_000);

  it('where the tools are required (CI), their absence fails the run instead', () => {
    const run = vitest({ BERTH_TEST_MISSING_TOOLS: 'desktop-file-validate', BERTH_REQUIRE_UPDATE_TOOLS: '1' });
    expect(run.status).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('BERTH_REQUIRE_UPDATE_TOOLS=1, but: Skipped');
    expect(run.stdout + run.stderr).toContain('sudo apt-get install -y desktop-file-utils');
  }, 120_000);
});

describe('the build cache key', () => {
  it('is what electron-builder packs: a running berth writing its compile cache into out/bundle does not change it', () => {
    const before = sourceKey(true);
    const cache = path.join(ROOT, 'out', 'bundle', '.cache');
    fs.mkdirSync(cache, { recursive: true });
    const file = path.join(cache, `test-${process.pid}.bin`);
    fs.writeFileSync(file, crypto.randomBytes(64));
    try {
      expect(sourceKey(true)).toBe(before);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
