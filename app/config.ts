import path from 'node:path';
import { BerthError, ExitCode } from './errors';
import { defaultDataDir } from './paths';
import { trustDataDir } from './files/trust';
import { isLoopbackHost } from './addresses';
import { type Settings, loadSettings, validateHost, validatePort } from './settings/settings';

export interface ConfigInput {
  flags: { host?: string; port?: string | number; dataDir?: string };
  env: NodeJS.ProcessEnv;
  /** A hosted app's defaults, in place of Berth's own (its data folder, its port). */
  defaults?: { dataDir?: string; port?: number };
}

export type Source = 'flag' | 'env' | 'settings' | 'default';

export interface ResolvedConfig {
  host: string;
  port: number;
  dataDir: string;
  settings: Settings;
  sources: { host: Source; port: Source; dataDir: Source };
  /** Where the host came from, in words ("--host", "BERTH_HOST", "the settings file"). */
  hostFrom: string;
  /** What allowed a non-loopback host from the settings file or the environment; null when none was needed. */
  remoteAllowedBy: string | null;
  warnings: string[];
}

/** The opt-in that lets settings.json or BERTH_HOST put Berth beyond loopback. */
export const ALLOW_REMOTE_ENV = 'BERTH_ALLOW_REMOTE';

/** Where the data directory is: flag > BERTH_DATA_DIR > the OS default. (It cannot come from settings, which live in it.) */
export function resolveDataDir(input: ConfigInput): { dataDir: string; source: Source } {
  if (input.flags.dataDir !== undefined) {
    if (input.flags.dataDir.trim() === '') throw new BerthError('--data-dir needs a folder, such as --data-dir ~/berth-data.', ExitCode.usage);
    return { dataDir: path.resolve(input.flags.dataDir), source: 'flag' };
  }
  if (input.env.BERTH_DATA_DIR) return { dataDir: path.resolve(input.env.BERTH_DATA_DIR), source: 'env' };
  return { dataDir: input.defaults?.dataDir ?? defaultDataDir(), source: 'default' };
}

/**
 * Config precedence: flags > environment > settings file > defaults. Bad
 * values are a usage error (exit 2), and so is a data directory Berth must
 * not trust (files/trust.ts), checked before anything in it is read. A flag
 * given empty (`--port ""`) is a bad value, while an empty environment
 * variable counts as unset. `readOnly` (status, stop, restart, open) leaves
 * a corrupt settings file where it is.
 */
export function resolveConfig(input: ConfigInput, opts: { readOnly?: boolean } = {}): ResolvedConfig {
  const { dataDir, source: dataDirSource } = resolveDataDir(input);
  const trust = trustDataDir(dataDir);
  const loaded = loadSettings(dataDir, opts);
  const pick = <T>(flag: T | undefined, envName: string, fromSettings: T, isDefault: boolean) => {
    if (flag !== undefined) return { value: flag, source: 'flag' as Source, label: `--${envName.slice(6).toLowerCase()}` };
    const e = input.env[envName];
    if (e !== undefined && e !== '') return { value: e as unknown as T, source: 'env' as Source, label: envName };
    return { value: fromSettings, source: (isDefault ? 'default' : 'settings') as Source, label: 'the settings file' };
  };
  const host = pick<string>(input.flags.host, 'BERTH_HOST', loaded.settings.host, !loaded.present.includes('host'));
  const portSaved = loaded.present.includes('port');
  const port = pick<string | number>(input.flags.port, 'BERTH_PORT', portSaved ? loaded.settings.port : (input.defaults?.port ?? loaded.settings.port), !portSaved);
  const hostError = validateHost(host.value);
  if (hostError) throw new BerthError(`Host from ${host.label} ${hostError}: ${JSON.stringify(host.value)}`, ExitCode.usage);
  const portError = validatePort(port.value);
  if (portError) throw new BerthError(`Port from ${port.label} ${portError}: ${JSON.stringify(port.value)}`, ExitCode.usage);
  const hostValue = String(host.value).trim();
  const settingsFile = path.join(dataDir, 'settings.json');
  const remoteAllowedBy = host.source === 'env' || host.source === 'settings' ? remoteOptIn(hostValue, host.label, loaded.settings, input.env, settingsFile) : null;
  return {
    host: hostValue,
    port: Number(port.value),
    dataDir,
    settings: loaded.settings,
    sources: { host: host.source, port: port.source, dataDir: dataDirSource },
    hostFrom: host.label,
    remoteAllowedBy,
    warnings: [...trust.warnings, ...loaded.warnings],
  };
}

/**
 * Listening beyond loopback must be a visible choice. A --host flag is one;
 * a host from settings.json or BERTH_HOST (which a file or a stale shell can
 * carry along unseen) needs the opt-in too. Host names other than localhost
 * count as beyond loopback here: what they resolve to is checked before
 * binding (server/exposure.ts).
 */
export function remoteOptIn(host: string, from: string, settings: Settings, env: NodeJS.ProcessEnv, settingsFile: string): string | null {
  if (isLoopbackHost(host)) return null;
  if (env[ALLOW_REMOTE_ENV] === '1') return ALLOW_REMOTE_ENV;
  if (settings.allowRemote) return `"allowRemote": true in ${settingsFile}`;
  throw new BerthError(
    `Host ${host} from ${from} would let other machines reach Berth, and that needs an explicit choice: ` +
      `confirm it on the Settings page, set "allowRemote": true in ${settingsFile}, set ${ALLOW_REMOTE_ENV}=1, or pass --host ${host}. ` +
      `To stay on this machine, remove it (Berth then listens on 127.0.0.1).`,
    ExitCode.usage,
    { host, from },
  );
}
