/**
 * A page that knows when Berth is gone, also when it is not looked at: the
 * tab's title and icon say Live, Reconnecting and Offline; a crash is called
 * "stopped responding", an announced restart "restarting" and a stop from
 * elsewhere "stopped"; and a reload during an outage shows Berth's own
 * offline page (the service worker keeps the console's shell), which loads
 * the console by itself once Berth is back.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { bannerTitle, callApi, screenshot, signedInTab, startBerth, useBrowser, waitLive } from './harness';

const browser = useBrowser();

/** What the tab shows: its title and the state its icon was drawn for. */
const tab = (page: Page) =>
  page.evaluate(() => {
    const icon = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    return { title: document.title, icon: icon?.dataset.state ?? null, href: icon?.href ?? '' };
  });

/**
 * Record every (title, icon) the tab shows from now on, and every cause the
 * page gives an outage, across reloads (a new Berth reloads the page): each
 * document reports its changes on the console, where the test collects them.
 */
async function recordTab(page: Page): Promise<() => Promise<{ tabs: { title: string; icon: string | null; href: string }[]; causes: string[] }>> {
  const tabs: { title: string; icon: string | null; href: string }[] = [];
  const causes: string[] = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (text.startsWith('berth-tab ')) {
      const t = JSON.parse(text.slice(10)) as { title: string; icon: string | null; href: string };
      const last = tabs.at(-1);
      if (!last || last.title !== t.title || last.icon !== t.icon) tabs.push(t);
    } else if (text.startsWith('berth-cause ')) {
      if (causes.at(-1) !== text.slice(12)) causes.push(text.slice(12));
    }
  });
  const observe = () => {
    const report = () => {
      const icon = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
      console.log(`berth-tab ${JSON.stringify({ title: document.title, icon: icon?.dataset.state ?? null, href: icon?.href ?? '' })}`);
      // (An init script may run before the document has its <html>.)
      const cause = document.documentElement?.dataset.outageCause;
      if (cause) console.log(`berth-cause ${cause}`);
    };
    new MutationObserver(report).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
    report();
  };
  await page.addInitScript(observe);
  await page.evaluate(observe);
  return async () => ({ tabs: [...tabs], causes: [...causes] });
}

describe('a page that knows', () => {
  test('title and icon through a crash: Live, Reconnecting (it stopped responding), Offline, and Live again', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    await expect.poll(() => tab(page)).toMatchObject({ title: 'Live · Status · Berth', icon: 'live' });
    const seen = await recordTab(page);

    berth.proc.child.kill('SIGKILL');
    await berth.proc.exited;
    await expect.poll(() => tab(page)).toMatchObject({ title: 'Reconnecting… · Status · Berth', icon: 'reconnecting' });
    // Nothing announced a restart: the page does not call it one.
    await expect.poll(() => bannerTitle(page)).toBe('Berth stopped responding.');
    await screenshot(page, 'outage-stopped-responding');
    await expect.poll(() => tab(page), { timeout: 20_000 }).toMatchObject({ title: 'Offline · Status · Berth', icon: 'offline' });
    expect(await bannerTitle(page)).toBe('Berth is not running.');

    await startBerth({ port: berth.port, dataDir: berth.dataDir, settings: null });
    await expect.poll(() => tab(page), { timeout: 20_000 }).toMatchObject({ title: 'Live · Status · Berth', icon: 'live' });
    const { tabs, causes } = await seen();
    // (The new Berth is another instance: the page reloads onto it, and shows "Connecting…" for a moment.)
    const states = tabs.filter((t) => t.icon && t.icon !== 'connecting');
    expect(states.map((t) => t.icon)).toEqual(['live', 'reconnecting', 'offline', 'live']);
    // Each state has an icon of its own.
    expect(new Set(states.map((t) => t.href)).size).toBe(3);
    expect(causes).toEqual(['unannounced']);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('an announced restart is "restarting"; a stop asked from elsewhere is "stopped", never "stopped responding"', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    const seen = await recordTab(page);
    // In place: the same Berth comes back on the same socket, after saying it restarts.
    expect((await callApi(berth, 'POST', '/api/restart')).status).toBe(200);
    await expect.poll(async () => (await seen()).causes).toEqual(['restarting']);
    await waitLive(page);
    // A stop from elsewhere (the CLI, the tray): announced too.
    expect((await callApi(berth, 'POST', '/api/stop')).status).toBe(202);
    await expect.poll(() => bannerTitle(page)).toBe('Berth has stopped.');
    await expect.poll(() => tab(page)).toMatchObject({ title: 'Offline · Status · Berth', icon: 'offline' });
    expect((await seen()).causes).toEqual(['restarting', 'stopped']);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a reload during an outage shows Berth’s own offline page, which loads the console by itself once Berth is back', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    // A page keeps its shell once its service worker controls it (a moment after the first load); a page without one waits in vain here.
    await page.evaluate(() => Promise.race([navigator.serviceWorker?.ready.then(() => new Promise<void>((r) => (navigator.serviceWorker.controller ? r() : navigator.serviceWorker.addEventListener('controllerchange', () => r(), { once: true })))), new Promise<void>((r) => setTimeout(r, 10_000))]));
    berth.proc.child.kill('SIGKILL');
    await berth.proc.exited;

    // The browser's own error page (chrome-error://) never tries again: Berth's does.
    await page.reload().catch(() => undefined);
    expect(page.url()).toBe(`${berth.origin}/#/settings`);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Berth is offline');
    expect(await tab(page)).toMatchObject({ title: 'Offline · Berth', icon: 'offline' });
    expect(await page.locator('main').textContent()).toContain('This page tries again by itself');
    await screenshot(page, 'offline-page');

    await startBerth({ port: berth.port, dataDir: berth.dataDir, settings: null });
    // By itself: no click, no reload by the test.
    await expect.poll(() => page.locator('#port').inputValue(), { timeout: 20_000 }).toBe(String(berth.port));
    await waitLive(page);
    expect(await tab(page)).toMatchObject({ title: 'Live · Settings · Berth', icon: 'live' });
    expect(problems.errors.filter((e) => !/ERR_CONNECTION_REFUSED|net::/.test(e))).toEqual([]);
    await context.close();
  });
});
