/**
 * The Update page against the real electron-updater (AppImageUpdater, as
 * `berth serve` builds it when APPIMAGE is set) and the local update server
 * from the update tests: Check now, progress with speed while the download
 * trickles in, release notes, "Restart to update", and the tab landing on
 * the new version once it serves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { tempDataDir } from '../../test/helpers';
// Shared with test/update and the benchmark: plain ES modules.
import { startUpdateServer } from '../../test/update/fixtures/update-server.mjs';
import { appImageLauncher, appTree } from '../../test/update/fixtures/installed-app.mjs';
import { adoptPid, freePort, health, openPage, screenshot, startBerth, useBrowser, waitFor } from './harness';

const cleanups: (() => unknown)[] = [];
const browser = useBrowser(cleanups);

const NEW_VERSION = '9.9.9';
/** Big enough, and served slowly enough, that the page shows the download in progress for a couple of seconds. */
const DOWNLOAD_BYTES = 3 * 1024 * 1024;
const BYTES_PER_SECOND = 1.5 * 1024 * 1024;

test('Update: Check now shows the download with progress and speed, then Restart to update lands the tab on the new version', async (ctx) => {
  const port = await freePort();
  const dataDir = tempDataDir('berth-browser-update-');
  const apps = tempDataDir('berth-browser-apps-');
  cleanups.push(() => fs.rmSync(apps, { recursive: true, force: true }));
  const server = await startUpdateServer({ bytesPerSecond: BYTES_PER_SECOND });
  cleanups.push(() => server.close());

  // The running copy stands for an installed AppImage; the release is a launcher that starts Berth 9.9.9 on the same port.
  const appImage = path.join(dataDir, 'install', 'Berth.AppImage');
  fs.mkdirSync(path.dirname(appImage), { recursive: true });
  fs.writeFileSync(appImage, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const launcher = appImageLauncher({ appDir: appTree(apps, NEW_VERSION), port, dataDir, logFile: path.join(apps, 'successor.log'), version: NEW_VERSION, extraArgs: ['--json'] });
  // Padding after the exec line: the shell never reads it, the download still has to carry it.
  const data = Buffer.concat([Buffer.from(launcher), Buffer.alloc(DOWNLOAD_BYTES - launcher.length, '#'), Buffer.from('\n')]);
  server.publish({
    channel: 'latest',
    platform: 'linux',
    version: NEW_VERSION,
    file: `Berth-${NEW_VERSION}.AppImage`,
    data,
    releaseNotes: '<h2>Berth 9.9.9</h2><p>Restarts are <strong>faster</strong>.</p><ul><li>Shows download speed</li><li>Keeps your tabs</li></ul><script>window.hacked = 1</script>',
  });

  const berth = await startBerth({
    port,
    dataDir,
    env: { APPIMAGE: appImage },
    settings: { update: { channel: 'latest', autoCheck: false, url: server.url, allowPrerelease: false } },
  });
  const res = await fetch(`${berth.origin}/api/update`, { headers: { Authorization: `Bearer ${berth.token}` } });
  if (res.status === 404) return ctx.skip('this build has no /api/update (the updater is not wired into `berth serve`)');
  const initial = (await res.json()) as { state: string; reason?: string };
  if (initial.state === 'disabled') return ctx.skip(`the headless updater is disabled here: ${initial.reason}`);

  const context = await browser().newContext({ viewport: { width: 1200, height: 900 } });
  const { page, problems } = await openPage(context, () => [berth.origin]);
  await page.goto(berth.signInUrl('#/update'));
  const card = page.locator('.update-body article').first();
  await expect.poll(() => card.getAttribute('data-state')).toBe('idle');
  await screenshot(page, 'update-idle');

  // Record every progress value the page shows, to see it move.
  await page.evaluate(() => {
    const w = window as unknown as { progressSeen: number[]; speedSeen: string[] };
    w.progressSeen = [];
    w.speedSeen = [];
    new MutationObserver(() => {
      const bar = document.querySelector('progress');
      if (bar) w.progressSeen.push(bar.value);
      const text = document.getElementById('update-progress-text')?.textContent;
      if (text) w.speedSeen.push(text);
    }).observe(document.querySelector('.update-body')!, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await page.getByRole('button', { name: 'Check now' }).click();
  await expect.poll(() => card.getAttribute('data-state'), { timeout: 15_000 }).toBe('downloading');
  await expect.poll(() => page.locator('#update-progress-text').textContent(), { timeout: 10_000 }).toMatch(/^\d+% · .+ of 3\.0 MB · .+\/s$/);
  await screenshot(page, 'update-downloading');
  await expect.poll(() => page.locator('.update-body article').first().getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');

  const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
  const distinct = [...new Set(seen)];
  expect(distinct.length, `progress values seen: ${distinct.join(', ')}`).toBeGreaterThanOrEqual(3);
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  // Release notes: formatted, and the script in them is text at most, never run.
  const notes = page.locator('.notes');
  expect(await notes.locator('li').allTextContents()).toEqual(['Shows download speed', 'Keeps your tabs']);
  expect(await notes.locator('strong').textContent()).toBe('faster');
  expect(await page.evaluate(() => (window as unknown as { hacked?: number }).hacked)).toBeUndefined();
  expect(await notes.locator('script').count()).toBe(0);
  await screenshot(page, 'update-ready');
  // The tab says so too, for a person looking at another tab: its title and its icon.
  await expect.poll(() => page.title()).toBe('Update ready · Update · Berth');
  expect(await page.locator('link[rel="icon"]').getAttribute('data-state')).toBe('update-ready');

  // Restart to update: the old Berth hands the port to 9.9.9, and the tab reloads onto it.
  await page.getByRole('button', { name: 'Restart to update' }).click();
  await page.locator('dialog.confirm').getByRole('button', { name: 'Restart to update' }).click();
  const next = await waitFor(async () => {
    const h = await health(port);
    return h && h.version === NEW_VERSION && h.state === 'serving' ? h : null;
  }, 'Berth 9.9.9 to serve the port', 30_000);
  adoptPid(next.pid);
  await expect.poll(() => page.locator('.brand-version').textContent(), { timeout: 15_000 }).toBe(NEW_VERSION);
  // The reloaded Update page is the new Berth's: it now runs 9.9.9 and has nothing newer to offer.
  await expect.poll(() => page.locator('.update-body .facts dt:text-is("Current version") + dd').textContent()).toBe(NEW_VERSION);
  expect(page.url()).toBe(`${berth.origin}/#/update`);
  expect(problems.errors).toEqual([]);
  await context.close();
});
