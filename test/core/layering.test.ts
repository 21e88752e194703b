import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(ts|mts|cts|js|mjs|cjs)$/.test(e.name) ? [p] : [];
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

describe('layering: the web UI takes only types from app/, and the settings fields list', () => {
  // Any import or export-from whose path reaches app/ (over several lines too), with whether it is type-only.
  const FROM_APP = /\b(import|export)\s+(type\s+)?[^;'"]*?\bfrom\s*['"]((?:\.\.\/)+app\/[^'"]+)['"]/g;
  const SHARED = 'app/settings/berth-fields';

  it('renderer/src imports code from app/ only from the settings fields list, and the list imports only types', () => {
    const offenders: string[] = [];
    for (const file of sources(path.join(ROOT, 'renderer', 'src'))) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(FROM_APP)) {
        if (m[2]) continue;
        const target = path.relative(ROOT, path.resolve(path.dirname(file), m[3]!));
        if (target !== SHARED) offenders.push(`${path.relative(ROOT, file)}: ${m[0]}`);
      }
    }
    const list = fs.readFileSync(path.join(ROOT, `${SHARED}.ts`), 'utf8');
    for (const line of list.split('\n')) if (/^\s*import\s/.test(line) && !/^\s*import\s+type\s/.test(line)) offenders.push(`${SHARED}.ts: ${line.trim()}`);
    expect(offenders).toEqual([]);
  });

  it('the check itself tells a type import from a code import', () => {
    const found = (text: string) => [...text.matchAll(FROM_APP)].map((m) => [m[3], !!m[2]]);
    expect(found(`import type { Settings } from '../../app/settings/settings';`)).toEqual([['../../app/settings/settings', true]]);
    expect(found(`import {\n  isLoopback,\n} from '../../app/addresses';`)).toEqual([['../../app/addresses', false]]);
  });
});

/**
 * The steps that put a Berth together, each allowed only in app/berth.ts
 * (createBerth, and openLogs for the log a process needs before its Berth)
 * and in the module that defines it. Anything else under app/ or main/ that
 * takes one of these steps is a second composition root.
 */
const COMPOSITION: { step: RegExp; also: string[] }[] = [
  { step: /\bnew\s+ServerHost\s*\(/, also: [] },
  { step: /\bcreateLogSink\s*\(/, also: ['app/log.ts'] },
  { step: /\bensureToken\s*\(/, also: ['app/server/token.ts'] },
  { step: /\bcoreApi\s*\(/, also: ['app/routes.ts'] },
  { step: /\binstallSignalHandlers\s*\(/, also: ['app/lifecycle/signals.ts'] },
  // `berth serve` checks the listen address before it loads the server, so a bad --host fails fast; createBerth takes that result.
  { step: /\bcheckListenHost\s*\(/, also: ['app/server/exposure.ts', 'app/cli/serve.ts'] },
];
const COMPOSITION_ROOT = 'app/berth.ts';

function compositionOffenders(files: { file: string; text: string }[]): string[] {
  return files.flatMap(({ file, text }) =>
    text.split('\n').flatMap((line, i) =>
      COMPOSITION.filter(({ step, also }) => step.test(line) && file !== COMPOSITION_ROOT && !also.includes(file)).map(() => `${file}:${i + 1}: ${line.trim()}`),
    ),
  );
}

describe('layering: one composition root', () => {
  it('only app/berth.ts makes the host, its log, its token, its core routes and its signal handling', () => {
    const files = [...sources(path.join(ROOT, 'app')), ...sources(path.join(ROOT, 'main'))].map((f) => ({ file: path.relative(ROOT, f).split(path.sep).join('/'), text: fs.readFileSync(f, 'utf8') }));
    expect(files.some((f) => f.file === COMPOSITION_ROOT)).toBe(true);
    expect(compositionOffenders(files)).toEqual([]);
  });

  it('tests compose through createBerth too (test/core/fixtures.ts makeBerth/makeHost), except the few that measure a bare host', () => {
    // The host's own drain and heap, measured with nothing composed around it.
    const bareHost = ['test/reliability/regressions.test.ts', 'test/reliability/heap-after-restarts.cjs'];
    const files = [...sources(path.join(ROOT, 'test')), ...sources(path.join(ROOT, 'e2e'))]
      .map((f) => path.relative(ROOT, f).split(path.sep).join('/'))
      // This file plants offenders to test the check.
      .filter((f) => !bareHost.includes(f) && f !== 'test/core/layering.test.ts');
    const offenders = files.flatMap((file) =>
      fs
        .readFileSync(path.join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bnew\s+ServerHost\s*\(|\bcoreApi\s*\(/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders).toEqual([]);
    // Each exception is still one (and the pattern finds a real bare host).
    for (const f of bareHost) expect(fs.readFileSync(path.join(ROOT, f), 'utf8')).toMatch(/\bnew\s+ServerHost\s*\(/);
  });

  it('the check itself finds a composition planted elsewhere, and leaves the allowed places alone', () => {
    const planted = [
      { file: 'app/cli/serve-host.ts', text: 'const host = new ServerHost({ host, port });' },
      { file: 'main/desktop.ts', text: "const logs = createLogSink({ dir: path.join(dataDir, 'logs') });" },
      { file: 'main/desktop.ts', text: 'token = ensureToken(b.dataDir);' },
      { file: 'app/hosting/runtime.ts', text: 'host.addRoutes(coreApi ({ host, logs, dataDir }));' },
      { file: 'app/cli/serve-host.ts', text: 'const signals = installSignalHandlers({ stop, log });' },
      { file: 'main/desktop.ts', text: 'const exposure = await checkListenHost(config.host);' },
    ];
    expect(compositionOffenders(planted)).toHaveLength(planted.length);
    const allowed = [
      { file: 'app/berth.ts', text: 'host = new ServerHost({ ... }); createLogSink({}); ensureToken(dir); coreApi({}); installSignalHandlers({}); checkListenHost(h);' },
      { file: 'app/log.ts', text: 'export function createLogSink(opts: LogOptions): LogSink {' },
      { file: 'app/cli/serve.ts', text: 'const exposure = await checkListenHost(config.host);' },
      // Naming a step is not taking it.
      { file: 'main/desktop.ts', text: "import { createBerth, openLogs, type Berth } from '../app/berth'; // not ensureToken here" },
    ];
    expect(compositionOffenders(allowed)).toEqual([]);
  });
});
