import fs from 'node:fs';
import path from 'node:path';
import { BerthError, ExitCode, errorCode } from '../errors';
import { writeFileAtomic } from './atomic';

export type UpdateChannel = 'latest' | 'beta';

export interface Settings {
  host: string;
  port: number;
  launchAtLogin: boolean;
  update: {
    channel: UpdateChannel;
    autoCheck: boolean;
    /** Overrides the update URL baked into the build; null uses the build's. */
    url: string | null;
    allowPrerelease: boolean;
  };
}

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';

export function defaultSettings(): Settings {
  return {
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    launchAtLogin: false,
    update: { channel: 'latest', autoCheck: true, url: null, allowPrerelease: false },
  };
}

export const SETTINGS_FILE = 'settings.json';

export interface FieldError {
  field: string;
  message: string;
}

export function validatePort(value: unknown): string | null {
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be a whole number';
  if (value < 1 || value > 65535) return 'must be between 1 and 65535';
  return null;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function validateHost(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return 'must be an address such as 127.0.0.1';
  const v = value.trim();
  if (IPV4.test(v)) return null;
  if (v.includes(':')) return isIPv6(v) ? null : 'is not a valid IPv6 address';
  return HOSTNAME.test(v) ? null : 'is not a valid host name or address';
}

function isIPv6(v: string): boolean {
  try {
    return new URL(`http://[${v}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Check a whole or partial settings object. Returns the merged settings and
 * every problem found, so the UI can show them all at once.
 */
export function validateSettings(input: unknown, base: Settings = defaultSettings()): { value: Settings; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const value: Settings = structuredClone(base);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { value, errors: [{ field: '', message: 'settings must be a JSON object' }] };
  }
  const o = input as Record<string, unknown>;
  if ('host' in o) {
    const e = validateHost(o.host);
    if (e) errors.push({ field: 'host', message: `Host ${e}` });
    else value.host = String(o.host).trim();
  }
  if ('port' in o) {
    const e = validatePort(o.port);
    if (e) errors.push({ field: 'port', message: `Port ${e}` });
    else value.port = Number(o.port);
  }
  if ('launchAtLogin' in o) {
    if (typeof o.launchAtLogin !== 'boolean') errors.push({ field: 'launchAtLogin', message: 'Launch at login must be true or false' });
    else value.launchAtLogin = o.launchAtLogin;
  }
  if ('update' in o) {
    const u = o.update;
    if (typeof u !== 'object' || u === null || Array.isArray(u)) {
      errors.push({ field: 'update', message: 'Update settings must be an object' });
    } else {
      const uo = u as Record<string, unknown>;
      if ('channel' in uo) {
        if (uo.channel !== 'latest' && uo.channel !== 'beta') errors.push({ field: 'update.channel', message: 'Update channel must be "latest" or "beta"' });
        else value.update.channel = uo.channel;
      }
      for (const key of ['autoCheck', 'allowPrerelease'] as const) {
        if (key in uo) {
          if (typeof uo[key] !== 'boolean') errors.push({ field: `update.${key}`, message: `${key} must be true or false` });
          else value.update[key] = uo[key] as boolean;
        }
      }
      if ('url' in uo) {
        if (uo.url === null || uo.url === '') value.update.url = null;
        else if (typeof uo.url !== 'string' || !/^https?:\/\//i.test(uo.url) || !URL.canParse(uo.url)) {
          errors.push({ field: 'update.url', message: 'Update URL must be an http(s) URL' });
        } else value.update.url = uo.url;
      }
    }
  }
  return { value, errors };
}

export interface LoadedSettings {
  settings: Settings;
  /** Problems a person should hear about: a corrupt file set aside, a field ignored. */
  warnings: string[];
  file: string;
  /** Top-level keys the file itself set, so config can tell 'settings' from 'default'. */
  present: string[];
}

/**
 * Read settings. Never throws for bad content: a file that is not JSON is
 * renamed aside (nothing is deleted) and defaults are used; invalid fields
 * fall back to their defaults, each with a warning. `readOnly` (commands such
 * as `berth status`) leaves a bad file where it is and only warns.
 */
export function loadSettings(dataDir: string, opts: { readOnly?: boolean } = {}): LoadedSettings {
  const file = path.join(dataDir, SETTINGS_FILE);
  const warnings: string[] = [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { settings: defaultSettings(), warnings, file, present: [] };
    warnings.push(`Could not read ${file} (${errorCode(err) ?? String(err)}); using default settings.`);
    return { settings: defaultSettings(), warnings, file, present: [] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    if (opts.readOnly) {
      warnings.push(`${file} is not valid JSON; default settings are in use, and the file is left as it is.`);
      return { settings: defaultSettings(), warnings, file, present: [] };
    }
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      fs.renameSync(file, aside);
      warnings.push(`${file} was not valid JSON; it was kept as ${aside} and default settings are in use.`);
    } catch (err) {
      warnings.push(`${file} is not valid JSON and could not be set aside (${errorCode(err) ?? String(err)}); default settings are in use.`);
    }
    return { settings: defaultSettings(), warnings, file, present: [] };
  }
  const { value, errors } = validateSettings(parsed);
  for (const e of errors) warnings.push(`${file}: ${e.message}; using the default.`);
  const present = typeof parsed === 'object' && parsed !== null ? Object.keys(parsed) : [];
  return { settings: value, warnings, file, present };
}

export function saveSettings(dataDir: string, settings: Settings): void {
  const file = path.join(dataDir, SETTINGS_FILE);
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(settings, null, 2) + '\n');
  } catch (err) {
    throw new BerthError(
      `Could not save settings to ${file}: ${errorCode(err) ?? String(err)}. Check that the data directory is writable.`,
      ExitCode.unexpected,
      { code: errorCode(err) },
    );
  }
}
