#!/usr/bin/env node
/**
 * Builds two versions of Berth, N (package.json's version) and N+1 (the next
 * patch), for the platform this runs on, with electron-builder, as a release
 * would: same configuration, same targets, the update location baked in.
 * The update tests in this folder install N, publish N+1 and watch N update
 * itself. Run `npm run build` first.
 *
 *   node e2e/desktop/build-versions.mjs [--out dist-e2e] [--update-url http://127.0.0.1:47900/] [--target <t>]
 *
 * Targets by platform: Linux AppImage, Windows nsis, macOS zip (what each
 * updates from). --target overrides it (`dir` builds an unpacked app only,
 * which is enough to check this script where no installer tools exist).
 * Writes <out>/<version>/ for each version and <out>/builds.json describing
 * both. Environment as for any build (docs/RELEASING.md): BERTH_ELECTRON_DIST
 * for an Electron already on disk, CSC_LINK to sign on macOS, and so on.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The loopback address both builds look for updates at; the update test serves N+1 there. */
export const DEFAULT_UPDATE_URL = 'http://127.0.0.1:47900/';

export const TARGETS = { linux: 'AppImage', win32: 'nsis', darwin: 'zip' };
const PLATFORM_FLAG = { linux: '--linux', win32: '--win', darwin: '--mac' };
/** The manifest electron-updater reads on each platform (channel "latest"). */
export const MANIFESTS = { linux: 'latest-linux.yml', win32: 'latest.yml', darwin: 'latest-mac.yml' };

/** N+1: the next patch version of N, dropping any prerelease part. */
export function nextVersion(version) {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`package.json version ${JSON.stringify(version)} is not x.y.z`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

/** electron-builder's arguments for one version: the project's configuration, plus the version and the output folder. */
export function builderArgs({ platform, arch, target, version, outDir }) {
  return [
    '--config',
    'electron-builder.config.js',
    `-c.extraMetadata.version=${version}`,
    `-c.directories.output=${outDir}`,
    PLATFORM_FLAG[platform],
    target,
    `--${arch}`,
    '--publish',
    'never',
  ];
}

/** The installer or update file a version's folder holds, as the manifest names it (or the unpacked app for `dir`). */
export function artifactOf(dir, platform, target) {
  if (target === 'dir') {
    const unpacked = fs.readdirSync(dir).find((f) => /-unpacked$|^mac/.test(f));
    if (!unpacked) throw new Error(`no unpacked app in ${dir}`);
    return unpacked;
  }
  const manifest = path.join(dir, MANIFESTS[platform]);
  const text = fs.readFileSync(manifest, 'utf8');
  // `path:` is the file electron-updater downloads; a plain line, as electron-builder writes it.
  const m = /^path:\s*(.+)$/m.exec(text);
  if (!m) throw new Error(`${manifest} names no file (no path: line)`);
  const file = m[1].trim().replace(/^['"]|['"]$/g, '');
  if (!fs.existsSync(path.join(dir, file))) throw new Error(`${manifest} names ${file}, which is not in ${dir}`);
  return file;
}

function run(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`electron-builder ${args.join(' ')} exited ${code ?? signal}`))));
  });
}

export async function buildVersions({ out = 'dist-e2e', updateUrl = DEFAULT_UPDATE_URL, target, platform = process.platform, arch = process.arch, env = process.env } = {}) {
  if (!TARGETS[platform]) throw new Error(`no update target for ${platform}`);
  const chosen = target ?? TARGETS[platform];
  const outDir = path.resolve(ROOT, out);
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const versions = [version, nextVersion(version)];
  const cli = createRequire(path.join(ROOT, 'package.json')).resolve('electron-builder/cli.js');
  fs.rmSync(outDir, { recursive: true, force: true });
  const built = [];
  for (const v of versions) {
    const dir = path.join(outDir, v);
    process.stderr.write(`build-versions: building Berth ${v} (${platform} ${chosen} ${arch}) into ${dir}, looking for updates at ${updateUrl}\n`);
    await run(process.execPath, [cli, ...builderArgs({ platform, arch, target: chosen, version: v, outDir: dir })], { ...env, BERTH_UPDATE_URL: updateUrl });
    built.push({ version: v, dir, artifact: artifactOf(dir, platform, chosen) });
  }
  const builds = { platform, arch, target: chosen, updateUrl, manifest: MANIFESTS[platform], old: built[0], new: built[1] };
  fs.writeFileSync(path.join(outDir, 'builds.json'), `${JSON.stringify(builds, null, 2)}\n`);
  process.stderr.write(`build-versions: wrote ${path.join(outDir, 'builds.json')}\n`);
  return builds;
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i].split(/=(.*)/s, 2);
    const value = inline ?? argv[++i];
    if (name === '--out') o.out = value;
    else if (name === '--update-url') o.updateUrl = value;
    else if (name === '--target') o.target = value;
    else throw new Error(`unknown option ${argv[i]} (use --out, --update-url, --target)`);
    if (value === undefined) throw new Error(`${name} needs a value`);
  }
  if (o.updateUrl && !/^https?:\/\/.+\/$/.test(o.updateUrl)) throw new Error('--update-url must be an http(s) URL ending in /');
  return o;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    await buildVersions(parseArgs(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`build-versions: ${err.message}\n`);
    process.exit(1);
  }
}
