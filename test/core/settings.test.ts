import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSettings, loadSettings, rememberRemoteChoice, saveSettings, settingsFileReads, validateSettings } from '../../app/settings/settings';
import { resolveConfig } from '../../app/config';
import { defaultDataDir } from '../../app/paths';
import { ensureToken } from '../../app/server/token';
import { ROOT, tempDataDir } from '../helpers';
import { APPLIES_WORDS, BERTH_FIELDS, type BerthField } from '../../app/settings/berth-fields';
import { checkFields } from '../../app/settings/fields';

describe('settings', () => {
  it('validates each field with a message a person can act on, keeping the valid ones', () => {
    const { value, errors } = validateSettings({ port: 0, host: 'bad host!', launchAtLogin: 'yes', update: { channel: 'nightly', url: 'ftp://x' } });
    expect(errors.map((e) => e.field)).toEqual(['host', 'port', 'launchAtLogin', 'update.channel', 'update.url']);
    expect(errors.find((e) => e.field === 'port')!.message).toBe('Port must be between 1 and 65535');
    expect(value).toEqual(defaultSettings());
    const ok = validateSettings({ port: '9000', host: '::1', update: { channel: 'beta', url: 'https://updates.example.test/berth' } });
    expect(ok.errors).toEqual([]);
    expect(ok.value).toMatchObject({ port: 9000, host: '::1', update: { channel: 'beta', url: 'https://updates.example.test/berth' } });
  });

  it('saves atomically and reads back; a missing file means defaults', () => {
    const dir = tempDataDir();
    expect(loadSettings(dir).settings).toEqual(defaultSettings());
    const s = { ...defaultSettings(), port: 9123 };
    saveSettings(dir, s);
    expect(loadSettings(dir)).toMatchObject({ settings: s, warnings: [] });
    expect(fs.readdirSync(dir)).toEqual(['settings.json']); // no temp files left behind
  });

  it('a corrupt file is set aside, never deleted; invalid fields fall back with a warning', () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'settings.json'), '\u0000\u0000garbage');
    const loaded = loadSettings(dir);
    expect(loaded.settings).toEqual(defaultSettings());
    expect(loaded.warnings[0]).toMatch(/not valid JSON; it was kept as/);
    const aside = fs.readdirSync(dir).find((f) => f.includes('corrupt'))!;
    expect(fs.readFileSync(path.join(dir, aside), 'utf8')).toBe('\u0000\u0000garbage');

    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ port: 'eighty', launchAtLogin: true }));
    const partial = loadSettings(dir);
    expect(partial.settings).toMatchObject({ port: 8787, launchAtLogin: true });
    expect(partial.warnings).toEqual([expect.stringContaining('Port must be a whole number; using the default')]);
  });

  it('saving into a folder that cannot be written fails with a clear message and keeps the old file', () => {
    const dir = tempDataDir();
    saveSettings(dir, defaultSettings());
    const blocker = path.join(dir, 'not-a-dir');
    fs.writeFileSync(blocker, 'x');
    expect(() => saveSettings(path.join(blocker, 'sub'), defaultSettings())).toThrow(/Could not save settings to .*Check that the data directory is writable/);
    expect(loadSettings(dir).settings).toEqual(defaultSettings());
  });
});

describe('settings file limits', () => {
  it('is read once per change, not on every load', () => {
    const dir = tempDataDir();
    saveSettings(dir, { ...defaultSettings(), port: 9100 });
    const before = settingsFileReads();
    for (let i = 0; i < 50; i++) expect(loadSettings(dir).settings.port).toBe(9100);
    expect(settingsFileReads() - before).toBe(1);
    // A copy each time: a caller changing what it got does not change the next load.
    loadSettings(dir).settings.port = 1;
    expect(loadSettings(dir).settings.port).toBe(9100);
    saveSettings(dir, { ...defaultSettings(), port: 9101 });
    expect(loadSettings(dir).settings.port).toBe(9101);
    expect(settingsFileReads() - before).toBe(2);
  });

  it('a 40 MB file is not read: it is kept aside whole, with a message that says why', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'settings.json');
    const big = JSON.stringify({ port: 9200, pad: 'x'.repeat(40 * 1000 * 1000) });
    fs.writeFileSync(file, big);
    const loaded = loadSettings(dir);
    expect(loaded.settings).toEqual(defaultSettings());
    expect(loaded.warnings).toEqual([expect.stringMatching(/settings\.json was 40\.0 MB, far more than a settings file may be \(1\.0 MB\), so it was not read; it was kept as .*corrupt-/)]);
    const aside = fs.readdirSync(dir).find((f) => f.startsWith('settings.json.corrupt-'))!;
    expect(fs.statSync(path.join(dir, aside)).size).toBe(big.length);
  });

  it.skipIf(process.platform === 'win32')('a settings file that is a FIFO or a link throws a refusal naming it (no hang, no follow)', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'settings.json');
    execFileSync('mkfifo', [file]);
    expect(() => loadSettings(dir)).toThrow(/settings\.json is a named pipe \(FIFO\), not a regular file\. Berth will not read it\. To fix it: mv /);
    fs.rmSync(file);
    fs.symlinkSync('/etc/hostname', file);
    expect(() => loadSettings(dir)).toThrow(/settings\.json is a symbolic link/);
  });

  it('a save that cannot be written names the file and the cause, for the API to pass on', () => {
    const dir = tempDataDir();
    fs.mkdirSync(path.join(dir, 'settings.json'));
    let err: (Error & { details?: Record<string, unknown> }) | undefined;
    try {
      saveSettings(dir, defaultSettings());
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.message).toMatch(new RegExp(`^Could not save settings to ${path.join(dir, 'settings.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a folder is in the way \\(EISDIR\\)`));
    expect(err?.details).toMatchObject({ error: 'save-failed', httpStatus: 500, code: 'EISDIR' });
    expect(fs.readdirSync(dir)).toEqual(['settings.json']);
  });
});

describe('listening beyond loopback', () => {
  it('a network host from the settings file or BERTH_HOST needs the opt-in; a --host flag is one', () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ host: '0.0.0.0' }));
    expect(() => resolveConfig({ flags: { dataDir: dir }, env: {} })).toThrow(/Host 0\.0\.0\.0 from the settings file would let other machines reach Berth/);
    const other = tempDataDir();
    expect(() => resolveConfig({ flags: { dataDir: other }, env: { BERTH_HOST: '::' } })).toThrow(/from BERTH_HOST .*BERTH_ALLOW_REMOTE=1/);
    expect(() => resolveConfig({ flags: { dataDir: other }, env: { BERTH_HOST: 'myhost.lan' } })).toThrow(/needs an explicit choice/);
    expect(resolveConfig({ flags: { dataDir: other }, env: { BERTH_HOST: '::', BERTH_ALLOW_REMOTE: '1' } })).toMatchObject({ host: '::', remoteAllowedBy: 'BERTH_ALLOW_REMOTE' });
    expect(resolveConfig({ flags: { dataDir: other, host: '0.0.0.0' }, env: {} })).toMatchObject({ host: '0.0.0.0', remoteAllowedBy: null, hostFrom: '--host' });
    expect(resolveConfig({ flags: { dataDir: other }, env: { BERTH_HOST: '127.0.0.2' } })).toMatchObject({ host: '127.0.0.2', remoteAllowedBy: null });
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ host: '0.0.0.0', allowRemote: true }));
    expect(resolveConfig({ flags: { dataDir: dir }, env: {} })).toMatchObject({ host: '0.0.0.0', remoteAllowedBy: `"allowRemote": true in ${path.join(dir, 'settings.json')}` });
  });

  it('a save that sets a network address records the opt-in; one back to loopback clears it', () => {
    const base = defaultSettings();
    expect(rememberRemoteChoice({ ...base, host: '0.0.0.0' }, { host: '0.0.0.0' }).allowRemote).toBe(true);
    expect(rememberRemoteChoice({ ...base, host: '127.0.0.1', allowRemote: true }, { host: '127.0.0.1' }).allowRemote).toBe(false);
    // A save that does not touch the host leaves the choice as it was.
    expect(rememberRemoteChoice({ ...base, host: '0.0.0.0', allowRemote: false }, { launchAtLogin: true }).allowRemote).toBe(false);
    expect(validateSettings({ allowRemote: 'yes' }).errors).toEqual([{ field: 'allowRemote', message: 'allowRemote must be true or false' }]);
  });
});

describe('config and data directory', () => {
  it('default data dir matches Electron userData for "Berth" on each OS', () => {
    expect(defaultDataDir('linux', {}, '/home/u')).toBe('/home/u/.config/Berth');
    expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/x' }, '/home/u')).toBe('/x/Berth');
    expect(defaultDataDir('darwin', {}, '/Users/u')).toBe('/Users/u/Library/Application Support/Berth');
    expect(defaultDataDir('win32', { APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Roaming\\Berth');
  });

  it('reports where each value came from', () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ port: 9001 }));
    const c = resolveConfig({ flags: { dataDir: dir, host: '::1' }, env: { BERTH_PORT: '9002' } });
    expect(c).toMatchObject({ host: '::1', port: 9002, dataDir: dir, sources: { host: 'flag', port: 'env', dataDir: 'flag' } });
    const d = resolveConfig({ flags: {}, env: { BERTH_DATA_DIR: dir } });
    expect(d).toMatchObject({ port: 9001, sources: { port: 'settings', host: 'default', dataDir: 'env' } });
  });
});

describe('token', () => {
  it('is created 0600, reused, and tightened (not replaced) when others can read it', () => {
    const dir = tempDataDir();
    const first = ensureToken(dir);
    expect(first.persisted).toBe(true);
    expect(ensureToken(dir).token).toBe(first.token);
    if (process.platform === 'win32') return;
    fs.chmodSync(first.file, 0o644);
    const again = ensureToken(dir);
    expect(again.token).toBe(first.token);
    expect(again.warning).toMatch(/was readable by other users \(mode 644\); it is now 0600/);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
  });

  it('an unusable token file is kept aside and a new token made', () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'auth-token'), 'short');
    const t = ensureToken(dir);
    expect(t.warning).toMatch(/did not hold a valid token; it was kept as/);
    expect(fs.readdirSync(dir).some((f) => f.startsWith('auth-token.invalid-'))).toBe(true);
  });
});

/** The README's settings table as the fields list says it must read. */
function settingsTable(): string {
  const kind = (f: BerthField): string => {
    switch (f.type) {
      case 'boolean':
        return 'true or false';
      case 'number':
        return `${f.integer ? 'a whole number' : 'a number'}${f.min !== undefined && f.max !== undefined ? ` from ${f.min} to ${f.max}` : ''}`;
      case 'choice':
        return f.choices.map((c) => `\`${c.value}\``).join(' or ');
      case 'text':
        return f.emptyIsNull ? 'text, or null' : 'text';
    }
  };
  const shown = (f: BerthField) => JSON.stringify(f.emptyIsNull && f.default === '' ? null : f.default);
  const rows = (BERTH_FIELDS as readonly BerthField[]).map((f) => `| \`${f.key}\` | ${kind(f)} | \`${shown(f)}\` | ${f.label}${f.help ? `. ${f.help}` : ''} | ${APPLIES_WORDS[f.applies]} |`);
  return ['| setting | value | default | what it is | takes effect |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

describe('one list of settings fields (app/settings/berth-fields.ts)', () => {
  it('gives the defaults, and every default passes its own field', () => {
    const d = defaultSettings() as unknown as Record<string, unknown>;
    expect(d).toEqual({ host: '127.0.0.1', port: 8787, launchAtLogin: false, allowRemote: false, update: { channel: 'latest', autoCheck: true, url: null, allowPrerelease: false } });
    expect(validateSettings(defaultSettings()).errors).toEqual([]);
  });

  it('is a list of the same fields a hosted app declares: it passes the checks an app’s list gets (its keys are paths)', () => {
    expect(checkFields((BERTH_FIELDS as readonly BerthField[]).map((f) => ({ ...f, key: f.key.replace('.', '_') })))).toEqual([]);
  });

  it('refuses a value of the wrong kind at its own field, for every field in the list', () => {
    for (const f of BERTH_FIELDS as readonly BerthField[]) {
      const [group, name] = f.key.includes('.') ? f.key.split('.') : [null, f.key];
      const wrong = f.type === 'boolean' ? 'yes' : f.type === 'number' ? 'many' : f.type === 'choice' ? 'no-such-choice' : 42;
      const body = group ? { [group]: { [name!]: wrong } } : { [name!]: wrong };
      const { errors } = validateSettings(body);
      expect(errors.map((e) => e.field), f.key).toEqual([f.key]);
    }
  });

  // WRITE_TABLE=<file> writes the table the list gives, to paste into the README after a change to the list.
  it('the README’s settings table is the list', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const start = readme.indexOf('| setting | value | default |');
    if (process.env.WRITE_TABLE) fs.writeFileSync(process.env.WRITE_TABLE, settingsTable());
    expect(start, 'README.md has a settings table').toBeGreaterThan(-1);
    const table = readme.slice(start).split('\n\n')[0]!.trim();
    expect(table).toBe(settingsTable());
  });
});
