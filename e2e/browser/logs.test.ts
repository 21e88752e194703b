/**
 * The Logs page beyond the tail: an empty state for a filter that matches
 * nothing, a search, the whole log file to download, and dates on lines
 * older than today.
 */
import fs from 'node:fs';
import { describe, expect, test } from 'vitest';
import { VIEWPORT, openPage, screenshot, startBerth, useBrowser } from './harness';

const browser = useBrowser();

describe('Logs', () => {
  test('an empty filter says so, the search narrows the lines, and Download log gives the log file', async () => {
    const berth = await startBerth();
    const context = await browser().newContext({ viewport: VIEWPORT, acceptDownloads: true });
    const { page, problems } = await openPage(context, () => [berth.origin]);
    await page.goto(berth.signInUrl('#/logs'));
    await page.locator('#log-lines[data-loaded]').waitFor();
    await expect.poll(() => page.locator('#log-lines').textContent()).toContain('serving on');
    const all = await page.locator('#log-lines li').count();

    // This Berth has logged no error: the page says so instead of showing an empty box.
    await page.selectOption('#log-level', 'error');
    await expect.poll(() => page.locator('#log-empty').textContent()).toBe('No errors.');
    expect(await page.locator('.log[role="log"]').isHidden()).toBe(true);
    await page.selectOption('#log-level', 'info');
    await expect.poll(() => page.locator('#log-lines li').count()).toBe(all);

    // Search: the matching lines stay, the count says how many of how many.
    const search = page.getByLabel('Search');
    await search.fill('SERVING ON');
    await expect.poll(() => page.locator('#log-lines li:not([hidden])').count()).toBe(1);
    expect(await page.locator('#log-count').textContent()).toBe(`1 of ${all} ${all === 1 ? 'line' : 'lines'}`);
    expect(await page.locator('#log-lines li:not([hidden]) .msg').textContent()).toContain(`serving on ${berth.origin}`);
    await screenshot(page, 'logs-search');
    await search.fill('no such words anywhere');
    await expect.poll(() => page.locator('#log-empty').textContent()).toBe('No line matches “no such words anywhere”.');
    await search.fill('');
    await expect.poll(() => page.locator('#log-lines li:not([hidden])').count()).toBe(all);

    // Download log: the log file itself, as it is on disk.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download log' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^berth-\d{4}-\d{2}-\d{2}\.log$/);
    const saved = fs.readFileSync((await download.path())!, 'utf8');
    expect(saved).toContain('serving on');
    expect(saved.split('\n').filter(Boolean).every((l) => JSON.parse(l).msg !== undefined)).toBe(true);
    // It needs the sign-in like every other private read.
    expect((await fetch(`${berth.origin}/api/logs/download`)).status).toBe(401);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a line from before today shows its date', async () => {
    const berth = await startBerth();
    const context = await browser().newContext({ viewport: VIEWPORT });
    const { page, problems } = await openPage(context, () => [berth.origin]);
    // The page's clock says tomorrow: every line of this Berth is from "yesterday" now.
    await page.clock.setFixedTime(new Date(Date.now() + 24 * 3600_000));
    await page.goto(berth.signInUrl('#/logs'));
    await page.locator('#log-lines[data-loaded]').waitFor();
    const first = page.locator('#log-lines li time').first();
    const today = new Date().toLocaleDateString('en-US', { month: 'short', day: 'numeric' });
    expect(await first.textContent()).toContain(today);
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});
