// Shared by the test/build suites: where the repo is, and electron-builder's own modules.
//
// app-builder-lib, @electron/asar and js-yaml are electron-builder's dependencies, not ours,
// so they are resolved from electron-builder's install rather than imported by name: the
// tests use exactly the copies electron-builder itself runs with.

import { createRequire } from 'node:module';
import path from 'node:path';

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
