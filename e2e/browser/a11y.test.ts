/**
 * Every page of the console, light and dark, at a desktop size (1280×800)
 * and a phone's (390×844): axe-core finds no issue at any impact level (the
 * Logs page with a long line open, the pager and a time range; the outage
 * banner; Berth's own offline page), and
 * on the phone nothing scrolls sideways, log messages get the full width,
 * addresses never break, and the Status tables are stacked rows. The
 * screenshots land in test-results/screenshots for a person to look at.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { tempDataDir } from '../../test/helpers';
import { axeFindings, openPage, screenshot, startBerth, useBrowser, type RunningBerth } from './harness';

const browser = useBrowser();

const SIZES = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

async function show(page: Page, berth: RunningBerth, id: string) {
  await page.goto(`${berth.origin}/#/${id}`);
  await page.locator(`#${id}-title`).waitFor();
  await page.locator('#link-state.link-live').waitFor();
  if (id === 'settings') await page.locator('#port').waitFor();
  if (id === 'logs') await page.locator('#log-lines[data-loaded="true"]').waitFor();
  if (id === 'update') await page.locator('.update-body article').first().waitFor();
  if (id === 'status') await page.locator('#startup tbody tr[data-verdict]').first().waitFor();
}

/**
 * A data folder whose log an earlier Berth left: more than a page of lines
 * (so the pager shows) and one long line (so a line has its "Show all" control).
 */
function withEarlierLog(): string {
  const dir = tempDataDir('berth-browser-');
  fs.mkdirSync(path.join(dir, 'logs'), { mode: 0o700 });
  const start = Date.now() - 3600_000;
  const lines = Array.from({ length: 260 }, (_, i) => JSON.stringify({ level: i % 50 === 7 ? 40 : 30, time: start + i * 1000, pid: 4242, scope: 'earlier', msg: i === 250 ? `a long line: ${'words that wrap '.repeat(60)}` : `line ${i}` }));
  fs.writeFileSync(path.join(dir, 'logs', 'berth.log'), lines.join('\n') + '\n', { mode: 0o600 });
  return dir;
}

/** Layout facts that matter on a phone, measured in the page. */
function narrowFacts(page: Page) {
  return page.evaluate(() => {
    const broken = Array.from(document.querySelectorAll<HTMLElement>('#status-url, .nobreak, td.address'))
      .filter((el) => el.offsetParent !== null && el.getClientRects().length > 1)
      .map((el) => el.textContent);
    const oneLine = (el: HTMLElement) => el.getBoundingClientRect().height < parseFloat(getComputedStyle(el).lineHeight) * 1.5;
    return {
      sideways: document.documentElement.scrollWidth - window.innerWidth,
      brokenAddresses: broken.concat(Array.from(document.querySelectorAll<HTMLElement>('#status-url')).filter((el) => !oneLine(el)).map((el) => `${el.textContent} (wraps)`)),
      messageWidths: Array.from(document.querySelectorAll<HTMLElement>('#log-lines .msg')).map((el) => el.getBoundingClientRect().width),
      tables: Array.from(document.querySelectorAll<HTMLTableElement>('table.stack')).map((t) => ({
        id: t.id,
        cell: getComputedStyle(t.querySelector('td')!).display,
        overflow: t.scrollWidth - t.clientWidth,
      })),
    };
  });
}

describe('accessibility and layout of every page', () => {
  for (const scheme of SCHEMES) {
    for (const size of SIZES) {
      test(`${scheme}, ${size.width}×${size.height}: no axe finding at any impact level; ${size.name === 'phone' ? 'stacked, unbroken, nothing sideways' : 'screenshots'}`, async () => {
        const berth = await startBerth({ updatable: true, dataDir: withEarlierLog() });
        const plain = await startBerth();
        const context = await browser().newContext({ viewport: { width: size.width, height: size.height }, colorScheme: scheme });
        const { page, problems } = await openPage(context, () => [berth.origin]);
        await page.goto(berth.signInUrl('#/status'));
        const findings: Record<string, unknown> = {};
        const suffix = `${scheme}-${size.width}`;

        for (const id of ['status', 'update', 'settings', 'logs', 'logs (a long line open, a time range)']) {
          if (id.startsWith('logs (')) {
            await page.getByRole('button', { name: /^Show all [\d,]+ characters$/ }).first().click();
            await page.selectOption('#log-range', 'custom');
            await page.locator('#log-from').waitFor();
            findings[id] = await axeFindings(page);
            await screenshot(page, `logs-open-${suffix}`);
            if (size.name === 'phone') expect((await narrowFacts(page)).sideways, `${id} scrolls sideways`).toBeLessThanOrEqual(0);
            continue;
          }
          await show(page, berth, id);
          findings[id] = await axeFindings(page);
          await screenshot(page, `${id}-${suffix}`);
          if (size.name === 'phone') {
            const facts = await narrowFacts(page);
            expect(facts.sideways, `${id} scrolls sideways`).toBeLessThanOrEqual(0);
            expect(facts.brokenAddresses, `${id}: addresses broken across lines`).toEqual([]);
            if (id === 'logs') {
              expect(facts.messageWidths.length).toBeGreaterThan(0);
              // The message column gets the card's width, not five characters of it.
              for (const w of facts.messageWidths) expect(w).toBeGreaterThan(250);
            }
            if (id === 'status') {
              expect(facts.tables.map((t) => t.id).sort()).toEqual(['history', 'startup']);
              for (const t of facts.tables) {
                expect(t.cell, `${t.id} cells`).toBe('grid');
                expect(t.overflow, `${t.id} overflows`).toBeLessThanOrEqual(0);
              }
            }
          }
        }

        // A copy that cannot update itself: its Settings page with the update settings switched off.
        // (Its own browser context: the sign-in cookie is per host name, not per port.)
        const plainContext = await browser().newContext({ viewport: { width: size.width, height: size.height }, colorScheme: scheme });
        const { page: plainPage, problems: plainProblems } = await openPage(plainContext, () => [plain.origin]);
        await plainPage.goto(plain.signInUrl('#/settings'));
        await show(plainPage, plain, 'settings');
        await plainPage.locator('#updates-off:not([hidden])').waitFor();
        findings['settings (updates off)'] = await axeFindings(plainPage);
        await screenshot(plainPage, `settings-updates-off-${suffix}`);
        // Berth gone without a word: the banner; then a reload shows Berth's own offline page.
        await plainPage.evaluate(() => (location.hash = '#/status'));
        await plainPage.evaluate(() => navigator.serviceWorker.ready);
        await expect.poll(() => plainPage.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
        plain.proc.child.kill('SIGKILL');
        await plain.proc.exited;
        await plainPage.locator('#banner:not([hidden]) .banner-title').waitFor();
        findings['outage banner'] = await axeFindings(plainPage);
        await screenshot(plainPage, `outage-banner-${suffix}`);
        await plainPage.reload();
        await plainPage.locator('#offline-title').waitFor();
        findings['offline page'] = await axeFindings(plainPage);
        await screenshot(plainPage, `offline-${suffix}`);
        if (size.name === 'phone') expect((await narrowFacts(plainPage)).sideways, 'offline page scrolls sideways').toBeLessThanOrEqual(0);
        expect(plainProblems.errors.filter((e) => !/net::|Failed to fetch/.test(e))).toEqual([]);
        await plainContext.close();

        // The Stop confirmation: its red button must read in the dark too.
        await show(page, berth, 'status');
        await page.locator('button[data-action="stop"]').click();
        await page.locator('dialog.confirm').waitFor();
        findings['stop dialog'] = await axeFindings(page);
        await screenshot(page, `confirm-stop-${suffix}`);
        await page.keyboard.press('Escape');
        await page.locator('dialog.confirm').waitFor({ state: 'detached' });

        // The signed-out page, in a context without the cookie.
        const signedOut = await browser().newContext({ viewport: { width: size.width, height: size.height }, colorScheme: scheme });
        const { page: out, problems: outProblems } = await openPage(signedOut, () => [berth.origin]);
        await out.goto(`${berth.origin}/?token=wrong#/status`);
        await out.locator('#token-rejected').waitFor();
        findings['signed out'] = await axeFindings(out);
        await screenshot(out, `signed-out-${suffix}`);
        if (size.name === 'phone') expect((await narrowFacts(out)).sideways).toBeLessThanOrEqual(0);
        await signedOut.close();

        expect(findings).toEqual({
          status: [],
          update: [],
          settings: [],
          logs: [],
          'logs (a long line open, a time range)': [],
          'settings (updates off)': [],
          'outage banner': [],
          'offline page': [],
          'stop dialog': [],
          'signed out': [],
        });
        expect(problems.errors).toEqual([]);
        expect(outProblems.errors).toEqual([]);
        await context.close();
        // Seven axe runs and a dozen full-page screenshots: well over the default minute on a busy 2-core machine.
      }, 180_000);
    }
  }
});
