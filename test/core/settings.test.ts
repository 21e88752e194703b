import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSettings, loadSettings, saveSettings, validateSettings } from '../../app/settings/settings';
import { resolveConfig } from '../../app/config';
import { defaultDataDir } from '../../app/paths';
import { ensureToken } from '../../app/server/token';
import { tempDataDir } from '../helpers';

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
