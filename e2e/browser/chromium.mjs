/**
 * Which Chromium the browser tests drive, first found wins:
 *
 *   1. BERTH_CHROMIUM, a path given on purpose;
 *   2. the system's (Debian's /usr/bin/chromium; BERTH_SYSTEM_CHROMIUM names another path);
 *   3. Playwright's own, where `npx playwright-core install chromium` fetched it (CI runners);
 *   4. the Chromium that the npm package @sparticuz/chromium ships, so that
 *      `npm ci && npm test` needs neither apt nor a browser download.
 *
 * The npm package keeps its browser brotli-compressed. Its own unpacker writes
 * to fixed names in /tmp (/tmp/chromium), which two test workers starting at
 * once would race on, so it is unpacked here instead: once, into a cache
 * directory named after the package version, by a rename that either worker
 * may win. The libraries it needs beyond glibc (NSS, NSPR, expat) come in the
 * same package, so a machine without any browser installed can run it.
 *
 * Plain JavaScript so that a test can run it in a child process with a
 * different environment (see chromium.test.ts).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** Flags for every Chromium the tests start: no sandbox (root in containers), nothing that talks to the internet. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/**
 * @typedef {{ source: 'env' | 'system' | 'playwright' | 'npm', executablePath?: string, env?: Record<string, string> }} ChromiumChoice
 */

/**
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Promise<ChromiumChoice>}
 */
export async function chooseChromium(env = process.env) {
  if (env.BERTH_CHROMIUM) return { source: 'env', executablePath: env.BERTH_CHROMIUM };
  const system = env.BERTH_SYSTEM_CHROMIUM || '/usr/bin/chromium';
  if (fs.existsSync(system)) return { source: 'system', executablePath: system };
  // Playwright picks its own build (and its headless shell) when no path is given.
  if (fs.existsSync(chromium.executablePath())) return { source: 'playwright' };
  return npmChromium();
}

/**
 * @param {ChromiumChoice} choice
 * @returns {Promise<import('playwright-core').Browser>}
 */
export function launchChromium(choice) {
  return chromium.launch({
    executablePath: choice.executablePath,
    args: choice.source === 'npm' ? [...CHROMIUM_ARGS, '--no-zygote'] : CHROMIUM_ARGS,
    env: choice.env ? { ...process.env, ...choice.env } : undefined,
  });
}

/** @returns {Promise<ChromiumChoice>} */
async function npmChromium() {
  let pkgJson;
  try {
    // The package exports no package.json: find it from its entry point.
    let dir = path.dirname(require.resolve('@sparticuz/chromium'));
    while (readName(path.join(dir, 'package.json')) !== '@sparticuz/chromium') {
      if (path.dirname(dir) === dir) throw new Error('package.json not found');
      dir = path.dirname(dir);
    }
    pkgJson = path.join(dir, 'package.json');
  } catch {
    throw new Error('No Chromium for the browser tests: install Debian\'s (apt-get install chromium), or Playwright\'s (npx playwright-core install chromium), or run npm ci to get @sparticuz/chromium.');
  }
  const { version } = JSON.parse(fs.readFileSync(pkgJson, 'utf8'));
  const bin = path.join(path.dirname(pkgJson), 'bin');
  const dir = path.join(ROOT, 'node_modules', '.cache', `berth-chromium-${version}`);
  if (!fs.existsSync(path.join(dir, 'chromium'))) unpack(bin, dir);
  const fontsConf = path.join(dir, 'fonts.conf');
  return {
    source: 'npm',
    executablePath: path.join(dir, 'chromium'),
    env: {
      LD_LIBRARY_PATH: [path.join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      FONTCONFIG_FILE: fontsConf,
    },
  };
}

function readName(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')).name;
  } catch {
    return undefined;
  }
}

/** Unpack the package's browser into `dir`, atomically: a half-written cache is never seen. */
function unpack(bin, dir) {
  const work = `${dir}.partial-${process.pid}-${Date.now()}`;
  fs.mkdirSync(work, { recursive: true });
  try {
    fs.writeFileSync(path.join(work, 'chromium'), zlib.brotliDecompressSync(fs.readFileSync(path.join(bin, 'chromium.br'))), { mode: 0o755 });
    for (const [archive, into] of [
      ['al2023.tar.br', path.join(work, 'al2023')],
      ['fonts.tar.br', path.join(work, 'fonts')],
      // Next to the binary, where Chromium looks for its software GL.
      ['swiftshader.tar.br', work],
    ]) {
      const file = path.join(bin, archive);
      if (!fs.existsSync(file)) continue;
      fs.mkdirSync(into, { recursive: true });
      const tar = spawnSync('tar', ['-x', '-C', into], { input: zlib.brotliDecompressSync(fs.readFileSync(file)), maxBuffer: 1 << 30 });
      if (tar.status !== 0) throw new Error(`tar could not unpack ${archive}: ${tar.stderr}`);
    }
    // The package's own fonts.conf points at /tmp; this one adds the system's fonts and the bundled ones.
    fs.writeFileSync(
      path.join(work, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>/usr/share/fonts</dir>\n  <dir>/usr/local/share/fonts</dir>\n  <dir>${path.join(dir, 'fonts', 'fonts')}</dir>\n  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    try {
      fs.renameSync(work, dir);
    } catch (err) {
      // Another worker finished first: its copy is as good as ours.
      if (!fs.existsSync(path.join(dir, 'chromium'))) throw err;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
