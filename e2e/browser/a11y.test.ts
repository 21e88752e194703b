/**
 * Every page of the console, light and dark, at a desktop size (1280×800)
 * and a phone's (390×844): axe-core finds no serious or critical issue, and
 * on the phone nothing scrolls sideways, log messages get the full width,
 * addresses never break, and the Status tables are stacked rows. The
 * screenshots land in test-results/screenshots for a person to look at.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
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
      test(`${scheme}, ${size.width}×${size.height}: no serious axe finding; ${size.name === 'phone' ? 'stacked, unbroken, nothing sideways' : 'screenshots'}`, async () => {
        const berth = await startBerth({ updatable: true });
        const plain = await startBerth();
        const context = await browser().newContext({ viewport: { width: size.width, height: size.height }, colorScheme: scheme });
        const { page, problems } = await openPage(context, () => [berth.origin]);
        await page.goto(berth.signInUrl('#/status'));
        const findings: Record<string, unknown> = {};
        const suffix = `${scheme}-${size.width}`;

        for (const id of ['status', 'update', 'settings', 'logs']) {
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
        expect(plainProblems.errors).toEqual([]);
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

        expect(findings).toEqual({ status: [], update: [], settings: [], logs: [], 'settings (updates off)': [], 'stop dialog': [], 'signed out': [] });
        expect(problems.errors).toEqual([]);
        expect(outProblems.errors).toEqual([]);
        await context.close();
        // Seven axe runs and a dozen full-page screenshots: well over the default minute on a busy 2-core machine.
      }, 180_000);
    }
  }
});
