// Shared by the test/build suites: where the repo is, and electron-builder's own modules.
//
// app-builder-lib, @electron/asar and js-yaml are electron-builder's dependencies, not ours,
// so they are resolved from electron-builder's install rather than imported by name: the
// tests use exactly the copies electron-builder itself runs with.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
// @ts-ignore: a plain ES module without type declarations.
import { fuseWire } from '../fuse-wire.mjs';

export const repoRoot = path.resolve(__dirname, '..', '..');

/** The file every build is run with (it extends electron-builder.yml). */
export const builderConfigFile = 'electron-builder.config.js';

const requireFromRepo = createRequire(path.join(repoRoot, 'package.json'));
export const electronBuilderCli = requireFromRepo.resolve('electron-builder/cli.js');
const requireFromBuilder = createRequire(electronBuilderCli);
const appBuilderLibDir = path.dirname(requireFromBuilder.resolve('app-builder-lib/package.json'));
const requireFromAppBuilderLib = createRequire(path.join(appBuilderLibDir, 'package.json'));

/** A loosely typed electron-builder configuration (app-builder-lib's `Configuration`). */
export type BuilderConfig = Record<string, any>;

interface ConfigModule {
  getConfig(projectDir: string, configPath: string | null, configFromOptions: BuilderConfig | null): Promise<BuilderConfig>;
  validateConfiguration(config: BuilderConfig, debugLogger: unknown): Promise<void>;
}

interface BuilderUtil {
  DebugLogger: new (isEnabled?: boolean) => unknown;
}

/**
 * electron-builder's own config loading and validation: `Packager.validateConfig` runs
 * getConfig (the file, then what it extends) and validateConfiguration (app-builder-lib's
 * scheme.json through ajv, plus its checks for removed options) before every build.
 */
/** app-builder-lib's config loader, for a child process that loads the configuration with its own environment. */
export const configModulePath = requireFromAppBuilderLib.resolve('./out/util/config/config.js');

export async function loadAndValidate(configPath: string): Promise<BuilderConfig> {
  const configModule = requireFromAppBuilderLib('./out/util/config/config.js') as ConfigModule;
  const config = await configModule.getConfig(repoRoot, configPath, null);
  await validate(config);
  return config;
}

export async function validate(config: BuilderConfig): Promise<void> {
  const configModule = requireFromAppBuilderLib('./out/util/config/config.js') as ConfigModule;
  const { DebugLogger } = requireFromAppBuilderLib('builder-util') as BuilderUtil;
  await configModule.validateConfiguration(config, new DebugLogger(false));
}

interface IconConverter {
  convertIcon(options: {
    sources: string[];
    fallbackSources: string[];
    roots: string[];
    format: 'set' | 'icns' | 'ico';
    outDir: string;
  }): Promise<{ icons: { file: string; size: number }[]; isFallback: boolean }>;
}

/**
 * electron-builder's icon resolution (what PlatformPackager.resolveIcon calls, with the
 * same roots: build resources, then the project). It only runs its downloaded icon tool
 * when it has to convert; ready-made files and directories are used as they are.
 */
export const iconConverter = requireFromAppBuilderLib('./out/util/iconConverter.js') as IconConverter;

export interface Asar {
  listPackage(archive: string, options?: { isPack: boolean }): string[];
  extractFile(archive: string, filename: string): Buffer;
}

export const asar = requireFromAppBuilderLib('@electron/asar') as Asar;

export const yaml = requireFromAppBuilderLib('js-yaml') as { load(text: string): unknown };

/** Why electron-builder cannot run here, or null when it can. */
export function electronBuilderProblem(): string | null {
  const result = spawnSync(process.execPath, [electronBuilderCli, '--version'], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) return `electron-builder could not start: ${result.error.message}`;
  if (result.status !== 0) return `electron-builder --version exited ${result.status}: ${result.stderr.trim()}`;
  return null;
}

export function writeStandInElectron(dir: string): void {
  mkdirSync(path.join(dir, 'resources'), { recursive: true });
  mkdirSync(path.join(dir, 'locales'), { recursive: true });
  const executable = path.join(dir, 'electron');
  // After the last line, Electron's fuse wire: electron-builder flips Berth's electronFuses in it (test/fuse-wire.mjs).
  writeFileSync(executable, Buffer.concat([Buffer.from('#!/bin/sh\necho "Stand-in for the Electron binary (test/build/package.test.ts); it cannot run Berth." >&2\nexit 1\n'), fuseWire()]));
  chmodSync(executable, 0o755);
  writeFileSync(path.join(dir, 'LICENSE'), "Stand-in for Electron's LICENSE file.\n");
  writeFileSync(path.join(dir, 'LICENSES.chromium.html'), "<!doctype html><p>Stand-in for Chromium's licenses.</p>\n");
  writeFileSync(path.join(dir, 'version'), `${installedElectronVersion()}\n`);
  writeFileSync(path.join(dir, 'locales', 'en-US.pak'), '');
}

export function installedElectronVersion(): string {
  const electronPackage = path.join(repoRoot, 'node_modules', 'electron', 'package.json');
  return (JSON.parse(readFileSync(electronPackage, 'utf8')) as { version: string }).version;
}

/** electron-builder's own CLI, run in `cwd` (a project folder). */
export function runElectronBuilder(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [electronBuilderCli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`electron-builder ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}

export interface Fuses {
  getCurrentFuseWire(file: string): Promise<Record<string, unknown>>;
  FuseV1Options: Record<string, number>;
}

/** @electron/fuses, the copy electron-builder flips the fuses with. */
export const fuses = requireFromAppBuilderLib('@electron/fuses') as Fuses;
