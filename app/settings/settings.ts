import fs from 'node:fs';
import path from 'node:path';
import { isLoopbackHost } from '../addresses';
import { BerthError, ExitCode, errorCode } from '../errors';
import { readOwnFile, sizeWords } from '../files/read';
import { FileRefused } from '../files/trust';
import { describeFsError, httpStatusForFsError, writeFileAtomic } from '../files/write';
import { makeFolders } from '../files/folder';
import { BERTH_FIELDS, berthField, type BerthField, type BerthFieldKey } from './berth-fields';
import { checkValue, type FieldError } from './fields';

export type UpdateChannel = 'latest' | 'beta';

export interface Settings {
  host: string;
  port: number;
  launchAtLogin: boolean;
  /**
   * Listening beyond loopback was chosen on purpose: the Settings page sets it
   * when you confirm a network address. Without it, a non-loopback host from
   * settings.json or BERTH_HOST is refused (config.ts).
   */
  allowRemote: boolean;
  update: {
    channel: UpdateChannel;
    autoCheck: boolean;
    /** Overrides the update URL baked into the build; null uses the build's. */
    url: string | null;
    allowPrerelease: boolean;
  };
}

export const DEFAULT_PORT: number = berthField('port').default;
export const DEFAULT_HOST: string = berthField('host').default;

const FIELDS: readonly BerthField[] = BERTH_FIELDS;

/** settings.json's key paths, from the Settings type: `port`, `update.channel`. */
type KeyPaths<T> = { [K in keyof T & string]: T[K] extends Record<string, unknown> ? `${K}.${keyof T[K] & string}` : K }[keyof T & string];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The build fails when the list and the Settings type name different fields.
true satisfies Same<KeyPaths<Settings>, BerthFieldKey>;

function readPath(o: Record<string, unknown>, key: string): { found: boolean; value: unknown } {
  const [group, name] = key.includes('.') ? key.split('.') : [null, key];
  const holder = group === null ? o : o[group!];
  if (typeof holder !== 'object' || holder === null || Array.isArray(holder) || !(name! in holder)) return { found: false, value: undefined };
  return { found: true, value: (holder as Record<string, unknown>)[name!] };
}

function writePath(o: Record<string, unknown>, key: string, value: unknown): void {
  const [group, name] = key.includes('.') ? key.split('.') : [null, key];
  const holder = group === null ? o : ((o[group!] ??= {}) as Record<string, unknown>);
  holder[name!] = value;
}

/** The groups of nested fields (`update`), each with the words its "must be an object" problem uses. */
const GROUPS = [...new Set(FIELDS.filter((f) => f.key.includes('.')).map((f) => f.key.split('.')[0]!))];

export function defaultSettings(): Settings {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) writePath(out, f.key, f.emptyIsNull && f.default === '' ? null : f.default);
  return out as unknown as Settings;
}

export const SETTINGS_FILE = 'settings.json';

export type { FieldError } from './fields';

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

/**
 * Why an update URL cannot be used, or null. Only https, except on this
 * machine: on Linux nothing checks a signature, so whoever can change a
 * plain-http response could make Berth run their code.
 */
export function updateUrlProblem(url: unknown): string | null {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url) || !URL.canParse(url)) return 'Update URL must be an https:// URL';
  const u = new URL(url);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    return `Update URL must use https:// (plain http:// is accepted only for this machine, such as http://127.0.0.1), because an update fetched over http from ${u.host} could be replaced on the way`;
  }
  return null;
}

/**
 * One field's value as settings.json keeps it, or why it cannot be: the
 * list's bounds (fields.ts checkValue), plus what a bound cannot say: a host
 * is an address or a name, a port may come as digits, an update URL is
 * https (or http on this machine).
 */
function fieldValue(f: BerthField, v: unknown): { value: unknown } | { problem: string } {
  if (f.emptyIsNull && (v === null || v === '')) return { value: null };
  if (f.key === 'host') {
    const e = validateHost(v);
    return e ? { problem: `${f.label} ${e}` } : { value: String(v).trim() };
  }
  if (f.key === 'port') {
    const e = validatePort(v);
    return e ? { problem: `${f.label} ${e}` } : { value: Number(v) };
  }
  if (f.key === 'update.url') {
    const e = updateUrlProblem(v);
    return e ? { problem: e } : { value: v };
  }
  const wrong = checkValue(f, v);
  // A field the form has no control for is known by its key in settings.json.
  return wrong ? { problem: `${f.formless ? f.key : f.label} ${wrong}` } : { value: v };
}

/**
 * Check a whole or partial settings object against the fields
 * (berth-fields.ts). Returns the merged settings and every problem found, so
 * the UI can show them all at once. Keys no field has are left out.
 */
export function validateSettings(input: unknown, base: Settings = defaultSettings()): { value: Settings; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const value = structuredClone(base) as unknown as Record<string, unknown>;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { value: value as unknown as Settings, errors: [{ field: '', message: 'settings must be a JSON object' }] };
  }
  const o = input as Record<string, unknown>;
  const badGroups = GROUPS.filter((g) => g in o && (typeof o[g] !== 'object' || o[g] === null || Array.isArray(o[g])));
  for (const g of badGroups) errors.push({ field: g, message: `${g[0]!.toUpperCase()}${g.slice(1)} settings must be an object` });
  for (const f of FIELDS) {
    const given = readPath(o, f.key);
    if (!given.found) continue;
    const checked = fieldValue(f, given.value);
    if ('problem' in checked) errors.push({ field: f.key, message: checked.problem });
    else writePath(value, f.key, checked.value);
  }
  return { value: value as unknown as Settings, errors };
}

export interface LoadedSettings {
  settings: Settings;
  /** Problems a person should hear about: a corrupt file set aside, a field ignored. */
  warnings: string[];
  file: string;
  /** Top-level keys the file itself set, so config can tell 'settings' from 'default'. */
  present: string[];
}

/** A settings file is a few hundred bytes; anything past this is not one, and is not read. */
export const MAX_SETTINGS_BYTES = 1024 * 1024;

/** The last settings read from each file, with the file's identity then: a GET reads the file only once per change. */
const cache = new Map<string, { key: string; loaded: LoadedSettings }>();
let fileReads = 0;

/** How many times settings files were actually read and parsed (the rest came from the cache). */
export function settingsFileReads(): number {
  return fileReads;
}

function identity(st: fs.Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}:${st.uid}`;
}

function copyOf(l: LoadedSettings): LoadedSettings {
  return { settings: structuredClone(l.settings), warnings: l.warnings.slice(), file: l.file, present: l.present.slice() };
}

/** Rename a file that cannot be settings out of the way, keeping every byte. `was`/`is` say why, in both tenses. */
function setAside(file: string, why: { was: string; is: string }, warnings: string[]): void {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    fs.renameSync(file, aside);
    warnings.push(`${file} ${why.was}; it was kept as ${aside} and default settings are in use.`);
  } catch (err) {
    warnings.push(`${file} ${why.is} and could not be set aside (${errorCode(err) ?? String(err)}); default settings are in use.`);
  }
}

/**
 * Read settings. Bad content never throws: a file that is not JSON, or is
 * far too large to be settings, is renamed aside (nothing is deleted) and
 * defaults are used; invalid fields fall back to their defaults, each with a
 * warning. A file Berth must not trust (a link, a FIFO, someone else's, one
 * others can write) throws FileRefused. The result is cached until the file
 * changes (its inode, size, times, mode or owner).
 * `readOnly` (commands such as `berth status`) leaves a bad file where it is
 * and only warns.
 */
export function loadSettings(dataDir: string, opts: { readOnly?: boolean } = {}): LoadedSettings {
  const file = path.join(dataDir, SETTINGS_FILE);
  const warnings: string[] = [];
  const defaults = (): LoadedSettings => ({ settings: defaultSettings(), warnings, file, present: [] });
  const cached = cache.get(file);
  if (cached) {
    let now: string | null = null;
    try {
      now = identity(fs.lstatSync(file));
    } catch {
      // gone: read again below
    }
    if (now === cached.key) return copyOf(cached.loaded);
    cache.delete(file);
  }
  fileReads++;
  const read = readOwnFile(file, { maxBytes: MAX_SETTINGS_BYTES });
  switch (read.state) {
    case 'missing':
      return defaults();
    case 'refused':
      throw new FileRefused(read.problem);
    case 'failed':
      warnings.push(`Could not read ${file}: ${read.cause}; using default settings.`);
      return defaults();
    case 'too-large':
      {
        const size = `${sizeWords(read.size)}, far more than a settings file may be (${sizeWords(read.limit)})`;
        if (opts.readOnly) {
          warnings.push(`${file} is ${size}, so it was not read; default settings are in use, and the file is left as it is.`);
          return defaults();
        }
        setAside(file, { was: `was ${size}, so it was not read`, is: `is ${size}, so it was not read,` }, warnings);
      }
      return defaults();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(read.text);
  } catch {
    if (opts.readOnly) {
      warnings.push(`${file} is not valid JSON; default settings are in use, and the file is left as it is.`);
      return defaults();
    }
    setAside(file, { was: 'was not valid JSON', is: 'is not valid JSON' }, warnings);
    return defaults();
  }
  const { value, errors } = validateSettings(parsed);
  for (const e of errors) warnings.push(`${file}: ${e.message}; using the default.`);
  const present = typeof parsed === 'object' && parsed !== null ? Object.keys(parsed) : [];
  const loaded: LoadedSettings = { settings: value, warnings, file, present };
  cache.set(file, { key: identity(read.stat), loaded: copyOf(loaded) });
  return loaded;
}

/**
 * The opt-in to listen beyond loopback follows the address a save chose: a
 * save (the Settings page asks first) that sets a network address records
 * allowRemote, and one that goes back to loopback clears it.
 */
export function rememberRemoteChoice(saved: Settings, body: unknown): Settings {
  const setsHost = typeof body === 'object' && body !== null && 'host' in body;
  if (!setsHost) return saved;
  return { ...saved, allowRemote: !isLoopbackHost(saved.host) };
}

const SAVE_HINTS: Record<string, string> = {
  ENOSPC: 'Free some space, then save again.',
  EDQUOT: 'Free some space, then save again.',
  EROFS: 'The data directory is on a read-only file system.',
  EPERM: 'Check that the file and its folder are writable and not immutable (lsattr).',
};

export function saveSettings(dataDir: string, settings: Settings): void {
  const file = path.join(dataDir, SETTINGS_FILE);
  try {
    makeFolders(dataDir);
    writeFileAtomic(file, JSON.stringify(settings, null, 2) + '\n');
  } catch (err) {
    const hint = SAVE_HINTS[errorCode(err) ?? ''] ?? 'Check that the data directory is writable.';
    throw new BerthError(`Could not save settings to ${file}: ${describeFsError(err)}. ${hint}`, ExitCode.unexpected, {
      code: errorCode(err),
      file,
      error: 'save-failed',
      httpStatus: httpStatusForFsError(err),
    });
  }
}
