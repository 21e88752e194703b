/**
 * What a person sees after a guardian (app/guardian) started Berth again: a
 * relaunch whose successor dies once its predecessor has gone. The open tab
 * follows the Berth the guardian started, and says what happened until
 * dismissed; the Status page's history has the row.
 */
import { describe, expect, test } from 'vitest';
import { startedWaits } from '../../test/helpers';
import { adoptPid, callApi, health, screenshot, signedInTab, startBerth, successorOf, useBrowser, waitFor, waitLive } from './harness';

const browser = useBrowser();

describe('after the guardian started Berth again', () => {
  test('the banner says what failed and that Berth runs; Dismiss puts it away for good; the history has the row', async () => {
    // Close and rebind, with a 30 s handoff deadline: the guardian watches the successor that long.
    const berth = await startBerth({ env: { BERTH_HANDOVER: 'probe' }, args: ['--handoff-timeout', '30000'] });
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    expect((await callApi(berth, 'POST', '/api/relaunch')).status).toBe(200);
    const successor = await successorOf(berth);
    // The started `berth serve` stays on as a waiter (app/cli/foreground.ts) once the Berth in it has let go.
    await waitFor(() => startedWaits(berth.dataDir, berth.pid), 'the started process to hand over and wait');
    process.kill(successor.pid, 'SIGKILL');
    const again = await waitFor(async () => {
      const h = await health(berth.port);
      return h && h.pid !== successor.pid && h.state === 'serving' ? h : null;
    }, 'the Berth the guardian started to serve', 60_000);
    adoptPid(again.pid);

    const banner = page.locator('#recovered:not([hidden])');
    await expect.poll(() => banner.locator('.banner-detail').textContent(), { timeout: 30_000 }).toBe(
      `The relaunch failed (the Berth that took over (pid ${successor.pid}) stopped within 30 s of serving); Berth 1.0.0 is running.`,
    );
    await waitLive(page);
    expect(await banner.locator('.banner-title').textContent()).toBe('Berth was started again.');
    await expect.poll(() => page.locator('#history tr[data-kind="recovered"] td').nth(1).textContent()).toBe('Started again by the guardian');
    await screenshot(page, 'recovered-banner');

    await banner.getByRole('button', { name: 'Dismiss' }).click();
    await expect.poll(() => page.locator('#recovered').isHidden()).toBe(true);
    await page.reload();
    await waitLive(page);
    expect(await page.locator('#recovered').isHidden()).toBe(true);
    expect(problems.errors).toEqual([]);
    await context.close();
  }, 120_000);
});
