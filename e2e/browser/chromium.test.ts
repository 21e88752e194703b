/**
 * Which Chromium the browser tests use (chromium.mjs). The selection runs in a
 * child process with the system Chromium and Playwright's own hidden through
 * the environment, as on a fresh machine with neither: it must pick the npm
 * package's Chromium, start it, and drive a real Berth page with it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { ROOT, tempDataDir } from '../../test/helpers';
import { chooseChromium } from './chromium.mjs';
import { startBerth, stopAll } from './harness';

afterEach(stopAll);

const CHILD = `
const { chooseChromium, launchChromium } = await import(${JSON.stringify(pathToFileURL(path.join(__dirname, 'chromium.mjs')).href)});
const choice = await chooseChromium();
const browser = await launchChromium(choice);
const page = await browser.newPage();
await page.goto(process.env.SIGN_IN_URL);
await page.locator('#link-state.link-live').waitFor({ timeout: 30000 });
const link = await page.locator('#link-state').textContent();
console.log(JSON.stringify({ source: choice.source, executablePath: choice.executablePath, version: browser.version(), link }));
await browser.close();
`;

function runChild(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the Chromium the browser tests drive', () => {
  test('with no system Chromium and no Playwright download, the npm package’s Chromium is picked, starts, and runs the console', async () => {
    const berth = await startBerth();
    const emptyBrowsers = tempDataDir('berth-no-browsers-');
    const env: NodeJS.ProcessEnv = { ...process.env, SIGN_IN_URL: berth.signInUrl('#/status'), BERTH_SYSTEM_CHROMIUM: path.join(emptyBrowsers, 'no-chromium-here'), PLAYWRIGHT_BROWSERS_PATH: emptyBrowsers };
    delete env.BERTH_CHROMIUM;
    try {
      const child = await runChild(env);
      expect(child.code, child.stderr).toBe(0);
      const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { source: string; executablePath: string; version: string; link: string };
      expect(result.source).toBe('npm');
      expect(result.executablePath.startsWith(path.join(ROOT, 'node_modules', '.cache', 'berth-chromium-'))).toBe(true);
      expect(fs.existsSync(result.executablePath)).toBe(true);
      expect(result.version).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(result.link).toBe('Live');
    } finally {
      fs.rmSync(emptyBrowsers, { recursive: true, force: true });
    }
  }, 240_000);

  test('an explicit BERTH_CHROMIUM wins, then the system’s where it exists', async () => {
    expect(await chooseChromium({ BERTH_CHROMIUM: '/opt/my/chromium' })).toEqual({ source: 'env', executablePath: '/opt/my/chromium' });
    const dir = tempDataDir('berth-system-chromium-');
    const fake = path.join(dir, 'chromium');
    fs.writeFileSync(fake, '');
    try {
      expect(await chooseChromium({ BERTH_SYSTEM_CHROMIUM: fake })).toEqual({ source: 'system', executablePath: fake });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // This machine: Debian's, where it is installed.
    if (fs.existsSync('/usr/bin/chromium')) expect(await chooseChromium({})).toEqual({ source: 'system', executablePath: '/usr/bin/chromium' });
  });
});
