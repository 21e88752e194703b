// The electron-builder configuration, checked the way electron-builder checks it before
// every build: loaded through electron-builder.config.js (which extends the yml) and
// validated against the scheme.json that app-builder-lib ships. A typo is a failing test
// here instead of a failing release.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builderConfigFile, configModulePath, iconConverter, loadAndValidate, repoRoot, validate, type BuilderConfig } from './builder';

// The wrapper sets a default BERTH_UPDATE_URL in the process that loads it; put it back.
const updateUrlBefore = process.env.BERTH_UPDATE_URL;
afterAll(() => {
  if (updateUrlBefore === undefined) delete process.env.BERTH_UPDATE_URL;
  else process.env.BERTH_UPDATE_URL = updateUrlBefore;
});

describe('electron-builder configuration', () => {
  let config: BuilderConfig;

  beforeAll(async () => {
    config = await loadAndValidate(builderConfigFile);
  });

  it("validates against app-builder-lib's schema", async () => {
    await expect(validate(config)).resolves.toBeUndefined();
  });

  it('validates on its own, without the wrapper', async () => {
    await expect(loadAndValidate('electron-builder.yml')).resolves.toMatchObject({ appId: 'dev.berth.app' });
  });

  it('rejects a misspelt top-level option', async () => {
    await expect(validate({ ...config, produtName: 'Berth' })).rejects.toThrow(/unknown property 'produtName'/);
  });

  it('rejects a misspelt option inside a target section', async () => {
    const typo = { ...config, nsis: { ...config.nsis, oneClik: true } };
    await expect(validate(typo)).rejects.toThrow(/configuration\.nsis/);
  });

  it('rejects a value of the wrong kind', async () => {
    await expect(validate({ ...config, asar: 'yes please' })).rejects.toThrow(/configuration\.asar/);
  });

  it('points only at files that exist', () => {
    // The schema cannot know whether a path resolves; electron-builder finds out mid-build.
    const paths = [
      config.win.icon,
      config.mac.icon,
      config.mac.entitlements,
      config.mac.entitlementsInherit,
      config.dmg.background,
      config.linux.icon,
      path.join(config.directories.buildResources, 'background@2x.png'),
    ];
    for (const relative of paths) {
      expect(existsSync(path.join(repoRoot, relative)), relative).toBe(true);
    }
  });

  it('gives each platform an icon electron-builder uses as is, with nothing to convert or download', async () => {
    const roots = [path.join(repoRoot, config.directories.buildResources), repoRoot];
    const outDir = path.join(repoRoot, 'dist', 'never-written');
    const resolve = (source: string, format: 'set' | 'icns' | 'ico') =>
      iconConverter.convertIcon({ sources: [source], fallbackSources: [], roots, format, outDir });

    const linux = await resolve(config.linux.icon, 'set');
    expect(linux.isFallback).toBe(false);
    expect(linux.icons.map((icon) => icon.size)).toEqual([16, 24, 32, 48, 64, 128, 256, 512]);
    const mac = await resolve(config.mac.icon, 'icns');
    expect(mac.icons.map((icon) => path.relative(repoRoot, icon.file))).toEqual([path.join('build', 'icon.icns')]);
    const win = await resolve(config.win.icon, 'ico');
    expect(win.icons).toEqual([{ file: path.join(repoRoot, 'build', 'icon.ico'), size: 256 }]);
    expect(existsSync(outDir)).toBe(false);
  });

  it('keeps the install and update behaviour the release relies on', () => {
    // Per-user one-click NSIS: no UAC prompt and a stable install directory.
    expect(config.nsis).toMatchObject({ oneClick: true, perMachine: false, runAfterFinish: true });
    // Squirrel.Mac updates from the zip; notarization requires the hardened runtime.
    expect(config.mac.target.map((t: { target: string }) => t.target).sort()).toEqual(['dmg', 'zip']);
    expect(config.mac.hardenedRuntime).toBe(true);
    expect(config.linux.target.map((t: { target: string }) => t.target).sort()).toEqual(['AppImage', 'deb']);
    expect(config.publish).toMatchObject({ provider: 'generic', url: '${env.BERTH_UPDATE_URL}', channel: 'latest' });
    expect(config.asar).toBe(true);
  });

  it('turns off the fuses that make the app a Node runtime or a debug target, and turns on cookie encryption and asar integrity', () => {
    // Electron's security checklist, item 19: ELECTRON_RUN_AS_NODE, NODE_OPTIONS and --inspect would
    // let anyone run their own code with Berth's identity (its signature, its firewall rule, its login item).
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it("removes the launch-at-login Run value when the app is uninstalled, and only then (an update runs the uninstaller too)", () => {
    // electron-builder's NsisTarget includes installer.nsh from the build resources when nsis.include is unset.
    expect(config.nsis.include).toBeUndefined();
    const nsh = readFileSync(path.join(repoRoot, config.directories.buildResources, 'installer.nsh'), 'utf8');
    const macro = /!macro customUnInstall([\s\S]*?)!macroend/.exec(nsh)?.[1] ?? '';
    const guarded = /\$\{ifNot\} \$\{isUpdated\}([\s\S]*?)\$\{endIf\}/.exec(macro)?.[1] ?? '';
    // Electron names the value after the AppUserModelID (setLoginItemSettings' `name` default); main/ sets it to the appId, which is APP_ID here.
    expect(guarded).toContain('DeleteRegValue HKCU "Software\\Microsoft\\Windows\\CurrentVersion\\Run" "${APP_ID}"');
    expect(guarded).toContain('DeleteRegValue HKCU "Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\StartupApproved\\Run" "${APP_ID}"');
    expect(readFileSync(path.join(repoRoot, 'main', 'desktop.ts'), 'utf8')).toContain(`setAppUserModelId(b.app?.id ?? '${config.appId}')`);
  });
});

describe('electron-builder.config.js', () => {
  // A fresh process per case: the wrapper reads the environment once, when it is loaded.
  function loadWrapper(env: Record<string, string | undefined>): { config: BuilderConfig; updateUrl: string } {
    const script =
      `const config = require(${JSON.stringify(path.join(repoRoot, builderConfigFile))});` +
      'process.stdout.write(JSON.stringify({ config, updateUrl: process.env.BERTH_UPDATE_URL }));';
    const childEnv = { ...process.env };
    delete childEnv.BERTH_UPDATE_URL;
    delete childEnv.BERTH_ELECTRON_DIST;
    delete childEnv.BERTH_E2E_BUILD;
    for (const [key, value] of Object.entries(env)) {
      if (value !== undefined) childEnv[key] = value;
    }
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8' }));
  }

  it('defaults the update URL to a host that never resolves', () => {
    expect(loadWrapper({}).updateUrl).toBe('https://updates.berth.invalid/');
  });

  it('keeps an update URL from the environment', () => {
    expect(loadWrapper({ BERTH_UPDATE_URL: 'https://example.test/berth/' }).updateUrl).toBe('https://example.test/berth/');
  });

  it('BERTH_E2E_BUILD=1 builds the test-only app the desktop e2e suite drives: Playwright attaches through --inspect', () => {
    expect(loadWrapper({}).config).not.toHaveProperty('electronFuses');
    expect(loadWrapper({ BERTH_E2E_BUILD: '1' }).config.electronFuses).toEqual({ enableNodeCliInspectArguments: true });
    // Merged with the yml as electron-builder merges them: only that fuse differs from a release.
    const script =
      `const { getConfig } = require(${JSON.stringify(configModulePath)});` +
      `getConfig(${JSON.stringify(repoRoot)}, ${JSON.stringify(builderConfigFile)}, null).then((c) => process.stdout.write(JSON.stringify(c.electronFuses)));`;
    const merged = JSON.parse(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, BERTH_E2E_BUILD: '1' }, encoding: 'utf8', cwd: repoRoot }));
    expect(merged).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: true,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('adds electronDist only when BERTH_ELECTRON_DIST is set, as an absolute path', () => {
    expect(loadWrapper({}).config).not.toHaveProperty('electronDist');
    const relative = path.join('some', 'electron');
    expect(loadWrapper({ BERTH_ELECTRON_DIST: relative }).config.electronDist).toBe(path.resolve(relative));
  });
});
