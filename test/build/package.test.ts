// Packages the real repo with `electron-builder --linux dir` and inspects what a user would
// get: resources/app.asar and resources/app-update.yml.
//
// What stands in for Electron: this machine cannot download the Electron binary, so the
// build is given a stand-in distribution through BERTH_ELECTRON_DIST (the same switch an
// offline release build uses). It has the layout electron-builder handles for Linux: an
// `electron` executable (here a shell script that only says it is a stand-in; electron-builder
// renames it to `berth`), the LICENSE and LICENSES.chromium.html files it keeps, `version`,
// `locales/` and `resources/`. electron-builder never runs the binary for a Linux --dir
// build; it only flips its fuses (electronFuses), which @electron/fuses finds by their
// sentinel, so the stand-in carries a fuse wire with Electron's defaults after its last
// line (test/fuse-wire.mjs). Everything this test checks (the app archive, the update config, the executable
// name, the fuses) is produced exactly as it would be from a real Electron.
//
// It packages the repo as it stands: `out/` must already be built (`npm test` runs
// `npm run build` first). The output goes to a temporary directory, never the repo's dist/.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asar, builderConfigFile, electronBuilderProblem, fuses, repoRoot, runElectronBuilder, writeStandInElectron, yaml } from './builder';

const UPDATE_URL = 'https://updates.example.test/berth/';

interface PackageJson {
  name: string;
  main: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const repoPackage = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full, base) : [path.relative(base, full).split(path.sep).join('/')];
  });
}

const problem = electronBuilderProblem();

describe.skipIf(problem !== null)(`electron-builder --linux dir${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let workDir: string;
  let appOutDir: string;
  let archive: string;
  let entries: Set<string>;

  beforeAll(async () => {
    const entryPoint = path.join(repoRoot, repoPackage.main);
    const rendererIndex = path.join(repoRoot, 'out', 'renderer', 'index.html');
    for (const required of [entryPoint, rendererIndex]) {
      if (!existsSync(required)) {
        throw new Error(`${path.relative(repoRoot, required)} is missing: build the app first (npm run build; npm test does it for you).`);
      }
    }

    workDir = mkdtempSync(path.join(os.tmpdir(), 'berth-package-test-'));
    const electronDist = path.join(workDir, 'electron-stand-in');
    const outputDir = path.join(workDir, 'dist');
    writeStandInElectron(electronDist);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BERTH_ELECTRON_DIST: electronDist,
      BERTH_UPDATE_URL: UPDATE_URL,
      // A plain local package: no keychain lookups for a signing identity (--publish never
      // below rules out uploading).
      CSC_IDENTITY_AUTO_DISCOVERY: 'false',
    };
    await runElectronBuilder(
      ['--linux', 'dir', '--x64', '--publish', 'never', '--config', builderConfigFile, `-c.directories.output=${outputDir}`],
      env,
      repoRoot,
    );

    appOutDir = path.join(outputDir, 'linux-unpacked');
    archive = path.join(appOutDir, 'resources', 'app.asar');
    entries = new Set(asar.listPackage(archive, { isPack: false }).map((entry) => entry.split(path.sep).join('/')));
  }, 180_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const packagedJson = () => JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as PackageJson;

  it('renames the Electron executable to berth', () => {
    expect(existsSync(path.join(appOutDir, 'berth'))).toBe(true);
    expect(existsSync(path.join(appOutDir, 'electron'))).toBe(false);
  });

  it('flips the fuses: no ELECTRON_RUN_AS_NODE, NODE_OPTIONS or --inspect; encrypted cookies, asar integrity, the app only from app.asar', async () => {
    const { getCurrentFuseWire, FuseV1Options } = fuses;
    const wire = (await getCurrentFuseWire(path.join(appOutDir, 'berth'))) as Record<number, number>;
    const on = (option: number) => String.fromCharCode(wire[option]!);
    expect({
      runAsNode: on(FuseV1Options.RunAsNode),
      nodeOptions: on(FuseV1Options.EnableNodeOptionsEnvironmentVariable),
      inspect: on(FuseV1Options.EnableNodeCliInspectArguments),
      cookieEncryption: on(FuseV1Options.EnableCookieEncryption),
      asarIntegrity: on(FuseV1Options.EnableEmbeddedAsarIntegrityValidation),
      onlyFromAsar: on(FuseV1Options.OnlyLoadAppFromAsar),
      fileProtocolPrivileges: on(FuseV1Options.GrantFileProtocolExtraPrivileges),
    }).toEqual({ runAsNode: '0', nodeOptions: '0', inspect: '0', cookieEncryption: '1', asarIntegrity: '1', onlyFromAsar: '1', fileProtocolPrivileges: '0' });
  });

  it('packs the entry point that package.json names', () => {
    const pkg = packagedJson();
    expect(pkg.name).toBe(repoPackage.name);
    expect(pkg.main).toBe(repoPackage.main);
    expect(entries).toContain(`/${pkg.main}`);
  });

  it('packs every file of the built web UI', () => {
    const rendererFiles = filesUnder(path.join(repoRoot, 'out', 'renderer')).filter((file) => !file.endsWith('.map'));
    expect(rendererFiles).toContain('index.html');
    for (const file of rendererFiles) {
      expect(entries, file).toContain(`/out/renderer/${file}`);
    }
  });

  it('packs the images main/ loads from build/ at runtime', () => {
    const trayImages = readdirSync(path.join(repoRoot, 'build', 'tray')).filter((name) => name.endsWith('.png') || name.endsWith('.ico'));
    expect(trayImages).toContain('tray-dark.ico');
    expect(trayImages).toContain('trayTemplate.png');
    for (const name of trayImages) expect(entries, name).toContain(`/build/tray/${name}`);
    expect(entries).toContain('/build/icon.png');
  });

  it('packs no sources, tests, source maps or build tooling', () => {
    const offending = [...entries].filter(
      (entry) =>
        /\.(ts|mts|cts|map)$/.test(entry) ||
        /\.(test|spec)\.[cm]?js$/.test(entry) ||
        /^\/(app|main|renderer|test|e2e|docs|bin|bench|dist|\.github)(\/|$)/.test(entry) ||
        /^\/build\/(?!(tray(\/|$)|icon\.png$))/.test(entry) ||
        /^\/(tsconfig[^/]*\.json|vitest\.config\.[^/]+|electron-builder\.[^/]+|README\.md|package-lock\.json)$/.test(entry),
    );
    expect(offending).toEqual([]);
    // Everything at the top of the archive is accounted for.
    const topLevel = new Set([...entries].map((entry) => entry.split('/')[1]));
    expect([...topLevel].sort()).toEqual(['build', 'node_modules', 'out', 'package.json']);
  });

  it('packs production dependencies and nothing that package-lock.json marks as dev-only', () => {
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const production = new Set<string>();
    for (const [location, info] of Object.entries(lock.packages)) {
      if (location !== '' && info.dev !== true) production.add(location.slice(location.lastIndexOf('node_modules/') + 'node_modules/'.length));
    }
    const packaged = new Set<string>();
    for (const entry of entries) {
      const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/package\.json$/.exec(entry);
      if (match) packaged.add(match[1]);
    }

    expect([...packaged].filter((name) => !production.has(name))).toEqual([]);
    for (const name of Object.keys(repoPackage.dependencies ?? {})) {
      expect(packaged, name).toContain(name);
    }
    for (const name of [...Object.keys(repoPackage.devDependencies ?? {}), 'vitest', 'electron', 'app-builder-lib']) {
      expect(packaged, name).not.toContain(name);
    }
  });

  it('writes app-update.yml for the generic update server', () => {
    const updateConfig = yaml.load(readFileSync(path.join(appOutDir, 'resources', 'app-update.yml'), 'utf8'));
    expect(updateConfig).toMatchObject({ provider: 'generic', url: UPDATE_URL, channel: 'latest' });
    expect(updateConfig).toHaveProperty('updaterCacheDirName', 'berth-updater');
  });

  it("names the desktop entry after desktopName, which Electron uses as the window's app id", () => {
    expect(packagedJson().desktopName).toBe('berth.desktop');
  });
});
