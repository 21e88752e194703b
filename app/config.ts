import path from 'node:path';
import { BerthError, ExitCode } from './errors';
import { defaultDataDir } from './paths';
import { type Settings, loadSettings, validateHost, validatePort } from './settings/settings';

export interface ConfigInput {
  flags: { host?: string; port?: string | number; dataDir?: string };
  env: NodeJS.ProcessEnv;
}

export type Source = 'flag' | 'env' | 'settings' | 'default';

export interface ResolvedConfig {
  host: string;
  port: number;
  dataDir: string;
  settings: Settings;
  sources: { host: Source; port: Source; dataDir: Source };
  warnings: string[];
}

/** Where the data directory is: flag > BERTH_DATA_DIR > the OS default. (It cannot come from settings, which live in it.) */
export function resolveDataDir(input: ConfigInput): { dataDir: string; source: Source } {
  if (input.flags.dataDir !== undefined) {
    if (input.flags.dataDir.trim() === '') throw new BerthError('--data-dir needs a folder, such as --data-dir ~/berth-data.', ExitCode.usage);
    return { dataDir: path.resolve(input.flags.dataDir), source: 'flag' };
  }
  if (input.env.BERTH_DATA_DIR) return { dataDir: path.resolve(input.env.BERTH_DATA_DIR), source: 'env' };
  return { dataDir: defaultDataDir(), source: 'default' };
}

/**
 * Config precedence: flags > environment > settings file > defaults. Bad values are a usage error (exit 2);
 * a flag given empty (`--port ""`) is a bad value, while an empty environment variable counts as unset.
 * `readOnly` (status, stop, restart, open) changes nothing on disk, not even a corrupt settings file.
 */
export function resolveConfig(input: ConfigInput, opts: { readOnly?: boolean } = {}): ResolvedConfig {
  const { dataDir, source: dataDirSource } = resolveDataDir(input);
  const loaded = loadSettings(dataDir, opts);
  const pick = <T>(flag: T | undefined, envName: string, fromSettings: T, isDefault: boolean) => {
    if (flag !== undefined) return { value: flag, source: 'flag' as Source, label: `--${envName.slice(6).toLowerCase()}` };
    const e = input.env[envName];
    if (e !== undefined && e !== '') return { value: e as unknown as T, source: 'env' as Source, label: envName };
    return { value: fromSettings, source: (isDefault ? 'default' : 'settings') as Source, label: 'the settings file' };
  };
  const host = pick<string>(input.flags.host, 'BERTH_HOST', loaded.settings.host, !loaded.present.includes('host'));
  const port = pick<string | number>(input.flags.port, 'BERTH_PORT', loaded.settings.port, !loaded.present.includes('port'));
  const hostError = validateHost(host.value);
  if (hostError) throw new BerthError(`Host from ${host.label} ${hostError}: ${JSON.stringify(host.value)}`, ExitCode.usage);
  const portError = validatePort(port.value);
  if (portError) throw new BerthError(`Port from ${port.label} ${portError}: ${JSON.stringify(port.value)}`, ExitCode.usage);
  return {
    host: String(host.value).trim(),
    port: Number(port.value),
    dataDir,
    settings: loaded.settings,
    sources: { host: host.source, port: port.source, dataDir: dataDirSource },
    warnings: loaded.warnings,
  };
}
