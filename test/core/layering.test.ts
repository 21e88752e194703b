import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|mts|cts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

// Matches import/export-from/require/dynamic import of 'electron' (or electron/...) and of anything under main/.
const FORBIDDEN = /(?:from\s*|require\s*\(\s*|import\s*\(\s*|import\s+)['"](electron(?:\/[^'"]*)?|(?:\.\.\/)+main(?:\/[^'"]*)?)['"]/;

describe('layering: app/ is the Electron-free core', () => {
  it('no file under app/ imports electron or main/', () => {
    const offenders = sources(path.join(ROOT, 'app'))
      .flatMap((file) => fs.readFileSync(file, 'utf8').split('\n').map((line, i) => ({ file, line, n: i + 1 })))
      .filter(({ line }) => FORBIDDEN.test(line))
      .map(({ file, line, n }) => `${path.relative(ROOT, file)}:${n}: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('the check itself recognises the forms it must catch', () => {
    for (const bad of [`import { app } from 'electron';`, `const e = require("electron")`, `import('electron/main')`, `import '../main/index'`, `export * from '../../main/tray'`]) {
      expect(FORBIDDEN.test(bad), bad).toBe(true);
    }
    expect(FORBIDDEN.test(`import type { X } from './electron-free'`)).toBe(false);
    expect(FORBIDDEN.test(`import { autoUpdater } from 'electron-updater'`)).toBe(false);
  });
});
