import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers';

const MAIN = path.join(ROOT, 'main');
const mainSources = () => fs.readdirSync(MAIN).filter((f) => f.endsWith('.ts'));

// A value import of 'electron' in any form; `import type` is fine (erased when compiled).
const VALUE_IMPORT = /^(?!\s*import\s+type\b)\s*(?:import\s[^;]*?from\s*|import\s*|export\s[^;]*?from\s*)['"]electron(?:\/[^'"]*)?['"]|require\s*\(\s*['"]electron(?:\/[^'"]*)?['"]\s*\)|import\s*\(\s*['"]electron['"]\s*\)/m;

describe('layering: only main/hosted.ts loads Electron', () => {
  it('no other file under main/ imports electron except as types', () => {
    const offenders = mainSources()
      .filter((f) => f !== 'hosted.ts')
      .filter((f) => VALUE_IMPORT.test(fs.readFileSync(path.join(MAIN, f), 'utf8')));
    expect(offenders).toEqual([]);
    expect(VALUE_IMPORT.test(fs.readFileSync(path.join(MAIN, 'hosted.ts'), 'utf8'))).toBe(true);
  });

  it('the check recognises the forms it must catch, and lets type imports through', () => {
    for (const bad of [`import { app } from 'electron';`, `import * as e from "electron";`, `const { app } = require('electron');`, `import('electron')`, `export { app } from 'electron';`]) {
      expect(VALUE_IMPORT.test(bad), bad).toBe(true);
    }
    for (const ok of [`import type { App } from 'electron';`, `import type * as E from 'electron';`, `import { autoUpdater } from 'electron-updater';`]) {
      expect(VALUE_IMPORT.test(ok), ok).toBe(false);
    }
  });

  it('every compiled main/ module except the entries loads under plain Node without loading electron', () => {
    const modules = mainSources()
      .filter((f) => f !== 'index.ts' && f !== 'hosted.ts')
      .map((f) => path.join(ROOT, 'out', 'main', f.replace(/\.ts$/, '.js')));
    for (const m of modules) expect(fs.existsSync(m), `${m} (run npm run build)`).toBe(true);
    const script = `
      for (const m of ${JSON.stringify(modules)}) require(m);
      const loaded = Object.keys(require.cache).filter((k) => /node_modules[\\\\/]electron[\\\\/]/.test(k));
      process.stdout.write(JSON.stringify(loaded));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('the entry, run under plain Node, explains itself and exits 2 instead of crashing', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'out', 'main', 'index.js')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^berth: the desktop app must run inside Electron: this is plain Node.*Use 'npm start', or 'berth serve' for the headless server\.\n$/s);
  });
});
