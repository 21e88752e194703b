// build/scripts/update-location.sh, the script the release workflow publishes and promotes
// with, run against a directory standing in for the update server (its UPDATE_DIR backend;
// the S3 and rsync backends differ only in the copy command).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { repoRoot } from './builder';

const script = path.join(repoRoot, 'build', 'scripts', 'update-location.sh');

function manifest(version: string, installer: string): string {
  return [
    `version: ${version}`,
    'files:',
    `  - url: ${installer}`,
    '    sha512: c2hhNTEyIHN0YW5kLWlu',
    '    size: 4',
    `path: ${installer}`,
    'sha512: c2hhNTEyIHN0YW5kLWlu',
    "releaseDate: '2026-11-29T10:00:00.000Z'",
    '',
  ].join('\n');
}

/** A directory laid out the way electron-builder leaves dist/ after building every platform. */
function writeRelease(dir: string, version: string): void {
  mkdirSync(dir, { recursive: true });
  const installers = {
    '': `Berth-Setup-${version}.exe`,
    '-mac': `Berth-${version}-mac-arm64.zip`,
    '-linux': `Berth-${version}-linux-x86_64.AppImage`,
  };
  for (const [suffix, installer] of Object.entries(installers)) {
    writeFileSync(path.join(dir, `latest${suffix}.yml`), manifest(version, installer));
    writeFileSync(path.join(dir, installer), 'bin\n');
    writeFileSync(path.join(dir, `${installer}.blockmap`), 'map\n');
  }
  writeFileSync(path.join(dir, `berth_${version}_amd64.deb`), 'deb\n');
  writeFileSync(path.join(dir, `Berth-${version}-mac-arm64.dmg`), 'dmg\n');
  writeFileSync(path.join(dir, 'builder-debug.yml'), 'not for publishing\n');
}

describe.skipIf(process.platform === 'win32')('update-location.sh (skipped on Windows: it is a bash script run on Linux CI)', () => {
  let work: string;
  let server: string;

  const run = (...args: string[]) =>
    execFileSync('bash', [script, ...args], { env: { ...process.env, UPDATE_DIR: server }, encoding: 'utf8', stdio: 'pipe' });
  const runFailing = (...args: string[]) => {
    try {
      run(...args);
    } catch (error) {
      return String((error as { stderr?: string }).stderr);
    }
    throw new Error(`update-location.sh ${args.join(' ')} succeeded but should have failed`);
  };
  const onServer = (name: string) => readFileSync(path.join(server, name), 'utf8');

  beforeEach(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'berth-update-location-'));
    server = path.join(work, 'server');
    mkdirSync(server);
  });

  afterEach(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('publishes installers, blockmaps, archived manifests and the channel manifests', () => {
    writeRelease(path.join(work, '1.5.0'), '1.5.0');
    run('publish', path.join(work, '1.5.0'), 'beta');

    const files = readdirSync(server, { recursive: true })
      .map(String)
      .filter((name) => statSync(path.join(server, name)).isFile());
    expect(files).toEqual(
      expect.arrayContaining([
        'Berth-Setup-1.5.0.exe',
        'Berth-Setup-1.5.0.exe.blockmap',
        'Berth-1.5.0-mac-arm64.zip',
        'Berth-1.5.0-mac-arm64.zip.blockmap',
        'Berth-1.5.0-mac-arm64.dmg',
        'Berth-1.5.0-linux-x86_64.AppImage',
        'berth_1.5.0_amd64.deb',
        path.join('manifests', '1.5.0', 'latest-mac.yml'),
        'beta.yml',
        'beta-mac.yml',
        'beta-linux.yml',
      ]),
    );
    expect(files).not.toContain('latest.yml');
    expect(files).not.toContain('builder-debug.yml');
    expect(onServer('beta-linux.yml')).toBe(manifest('1.5.0', 'Berth-1.5.0-linux-x86_64.AppImage'));
  });

  it("refuses to publish a release missing a platform's manifest", () => {
    const dir = path.join(work, '1.5.0');
    writeRelease(dir, '1.5.0');
    rmSync(path.join(dir, 'latest-mac.yml'));
    expect(runFailing('publish', dir, 'beta')).toMatch(/latest-mac\.yml not found/);
    expect(readdirSync(server)).toEqual([]);
  });

  it('promotes beta to latest for a share of users, then for everyone', () => {
    writeRelease(path.join(work, '1.5.0'), '1.5.0');
    run('publish', path.join(work, '1.5.0'), 'beta');

    run('promote', 'beta', '25');
    for (const suffix of ['', '-mac', '-linux']) {
      expect(onServer(`latest${suffix}.yml`)).toBe(`${onServer(`beta${suffix}.yml`)}stagingPercentage: 25\n`);
    }

    run('promote', 'beta');
    for (const suffix of ['', '-mac', '-linux']) {
      expect(onServer(`latest${suffix}.yml`)).toBe(onServer(`beta${suffix}.yml`));
    }
  });

  it("rolls latest back to an earlier version's archived manifests", () => {
    writeRelease(path.join(work, '1.4.0'), '1.4.0');
    writeRelease(path.join(work, '1.5.0'), '1.5.0');
    run('publish', path.join(work, '1.4.0'), 'beta');
    run('promote', 'beta');
    run('publish', path.join(work, '1.5.0'), 'beta');
    run('promote', 'beta');
    expect(onServer('latest.yml')).toMatch(/^version: 1\.5\.0$/m);

    run('promote', '1.4.0');
    expect(onServer('latest.yml')).toBe(manifest('1.4.0', 'Berth-Setup-1.4.0.exe'));
    expect(onServer('latest-linux.yml')).toBe(manifest('1.4.0', 'Berth-1.4.0-linux-x86_64.AppImage'));
  });

  it('does not give a prerelease to every user by accident', () => {
    writeRelease(path.join(work, '1.5.0-beta.1'), '1.5.0-beta.1');
    run('publish', path.join(work, '1.5.0-beta.1'), 'beta');
    expect(runFailing('promote', 'beta')).toMatch(/prerelease 1\.5\.0-beta\.1/);
    expect(existsSync(path.join(server, 'latest.yml'))).toBe(false);
  });

  it('refuses to run without an update location', () => {
    const env = { ...process.env };
    for (const name of ['UPDATE_DIR', 'UPDATE_S3_URI', 'UPDATE_RSYNC_TARGET']) delete env[name];
    writeRelease(path.join(work, '1.5.0'), '1.5.0');
    const result = spawnSync('bash', [script, 'publish', path.join(work, '1.5.0'), 'beta'], { env, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/no update location/);
  });

  it('leaves latest untouched when a platform is missing from the source', () => {
    writeRelease(path.join(work, '1.5.0'), '1.5.0');
    run('publish', path.join(work, '1.5.0'), 'beta');
    rmSync(path.join(server, 'beta-linux.yml'));
    expect(runFailing('promote', 'beta')).toMatch(/cannot read beta-linux\.yml/);
    expect(existsSync(path.join(server, 'latest.yml'))).toBe(false);
  });
});
