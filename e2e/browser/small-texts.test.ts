/**
 * The small texts: the update channel by the name settings.json and the
 * README use (`latest`); an Update page whose "Change" never leads to a
 * control that is switched off; one start command wherever the page says how
 * to start Berth (the Stop confirmation, the banner after a stop, the banner
 * after a crash); and a port check that names the version of the Berth that
 * handed its socket over.
 */
import { describe, expect, test } from 'vitest';
import { bannerTitle, callApi, signedInTab, startBerth, successorOf, useBrowser, waitLive } from './harness';

const browser = useBrowser();

describe('the small texts', () => {
  test('the channel is called latest; "Change" leads to the channel field, and is not offered where that field is off', async () => {
    const updatable = await startBerth({ updatable: true, settings: { update: { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false } } });
    const { context, page, problems } = await signedInTab(browser(), updatable, '#/update');
    const channel = page.locator('.update-body .facts dt:text-is("Channel") + dd');
    await expect.poll(() => channel.textContent()).toMatch(/^latest \(stable releases\)/);
    await page.getByRole('link', { name: 'Change' }).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('channel');
    expect(await page.locator('#channel option:checked').textContent()).toBe('latest (stable releases)');
    expect(await page.locator('#channel').isDisabled()).toBe(false);
    expect(problems.errors).toEqual([]);
    await context.close();

    // A copy that does not update itself: its channel field is switched off, so the Update page offers no way there.
    const plain = await startBerth();
    const other = await signedInTab(browser(), plain, '#/update');
    await expect.poll(() => other.page.locator('.update-body article').first().getAttribute('data-state')).toBe('disabled');
    expect(await other.page.getByRole('link', { name: 'Change' }).count()).toBe(0);
    expect(other.problems.errors).toEqual([]);
    await other.context.close();
  });

  test('one start command wherever the page says how to start Berth: the Stop confirmation, after a stop, after a crash', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    const status = (await (await callApi(berth, 'GET', '/api/status')).json()) as { startCommand: string };
    await page.locator('button[data-action="stop"]').click();
    expect(await page.locator('dialog.confirm code').textContent()).toBe(status.startCommand);
    await page.locator('dialog.confirm').getByRole('button', { name: 'Stop Berth' }).click();
    await expect.poll(() => bannerTitle(page)).toBe('Berth has stopped.');
    expect(await page.locator('#banner code.command').textContent()).toBe(status.startCommand);
    await berth.proc.exited;

    const again = await startBerth({ port: berth.port, dataDir: berth.dataDir, settings: null });
    await waitLive(page);
    again.proc.child.kill('SIGKILL');
    await again.proc.exited;
    await expect.poll(() => bannerTitle(page), { timeout: 20_000 }).toBe('Berth is not running.');
    expect(await page.locator('#banner code.command').textContent()).toBe(status.startCommand);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('after the socket is handed over, the port check names the Berth that handed it, with its version', async () => {
    const berth = await startBerth();
    expect((await callApi(berth, 'POST', '/api/relaunch')).status).toBe(200);
    const next = await successorOf(berth);
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    const row = page.locator('#startup tbody tr[data-verdict="predecessor"]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.locator('td[data-label="What answered"]').textContent()).toBe(`Berth ${next.version} pid ${berth.pid} (serving)`);
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});
