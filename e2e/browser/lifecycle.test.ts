/**
 * Tabs follow Berth through its lifecycle, driven from the page itself:
 * an in-process restart (the page reconnects and shows it), a relaunch (the
 * tab lands on the new instance), settings that survive a relaunch, a port
 * change (the tab moves, still signed in), and a stop.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { startedWaits } from '../../test/helpers';
import { fact, freePort, health, openPage, recordLinkStates, screenshot, signedInTab, startBerth, successorOf, useBrowser, waitFor, waitLive } from './harness';

const browser = useBrowser();

async function confirmControl(page: Page, action: 'restart' | 'relaunch' | 'stop', confirmLabel: string) {
  await page.locator(`button[data-action="${action}"]`).click();
  const dialog = page.locator('dialog.confirm');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: confirmLabel }).click();
  await dialog.waitFor({ state: 'detached' });
}

describe('lifecycle from the page', () => {
  test('Restart server: the page shows Reconnecting, comes back, and lists the restart with its downtime', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const linkStates = await recordLinkStates(page);

    await confirmControl(page, 'restart', 'Restart server');
    const row = page.locator('#history tbody tr[data-kind="restart"]');
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    // In place: the listening socket stayed open, so there was no downtime at all.
    expect(await row.locator('td').nth(2).textContent()).toBe('none');
    await expect.poll(() => page.locator('.controls .message').textContent()).toBe('Server restarted. The port stayed open: no request was refused.');
    await waitLive(page);
    // It went through "reconnecting" and back, without reloading: same process, same instance.
    const states = await linkStates();
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('live');
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await fact(page, 'Instance').textContent()).toBe(berth.instance);
    expect((await health(berth.port))?.pid).toBe(berth.pid);
    await screenshot(page, 'status-after-restart');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('Restart app: the tab reloads once and lands on the new instance', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    await page.evaluate(() => ((window as unknown as { oldDocument: boolean }).oldDocument = true));
    let loads = 0;
    page.on('load', () => loads++);

    await confirmControl(page, 'relaunch', 'Restart app');
    const next = await successorOf(berth);
    expect(next.pid).not.toBe(berth.pid);
    await expect.poll(() => fact(page, 'Instance').textContent(), { timeout: 15_000 }).toBe(next.instance);
    expect(await fact(page, 'Process id').textContent()).toBe(String(next.pid));
    expect(await page.evaluate(() => (window as unknown as { oldDocument?: boolean }).oldDocument)).toBeUndefined();
    expect(page.url()).toBe(`${berth.origin}/#/status`);
    // The new Berth knows whom it replaced, carries on its history, and shows the relaunch's downtime.
    expect(await page.locator('.summary').textContent()).toContain(`Took the port over from instance ${berth.instance}`);
    const kinds = await page.locator('#history tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-kind')));
    expect(kinds).toEqual(['relaunch', 'start']);
    const relaunch = page.locator('#history tbody tr[data-kind="relaunch"] td');
    // Headless on Linux and macOS the successor was handed the listening socket: the port never closed.
    expect(await relaunch.nth(2).textContent()).toBe(process.platform === 'win32' ? expect.stringMatching(/^\d+(\.\d+)? ms$/) : 'none');
    expect(await relaunch.nth(3).textContent()).toBe(`pid ${berth.pid} → pid ${next.pid}, ${process.platform === 'win32' ? 'port closed and bound again' : 'socket handed over'}`);
    // The process that was started stays, as a terminal's program does, until Berth stops (app/cli/foreground.ts).
    if (process.platform === 'win32') expect(await berth.proc.exited).toBe(0);
    else await waitFor(() => startedWaits(berth.dataDir, berth.pid), 'the started process to hand over and wait');
    await waitLive(page);
    // Settle, then check it reloaded exactly once.
    await page.waitForTimeout(500);
    expect(loads).toBe(1);
    await screenshot(page, 'status-after-relaunch');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a settings change survives a relaunch', async () => {
    const berth = await startBerth({ updatable: true });
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    await page.getByLabel('Update channel').selectOption('beta');
    await page.getByLabel('Check for updates automatically').uncheck();
    await page.getByLabel('Start Berth when I log in').check();
    await page.getByLabel('Update server').fill('http://127.0.0.1:9/berth-updates/');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.form-actions .message').textContent()).toBe('Saved.');

    await page.goto(`${berth.origin}/#/status`);
    await waitLive(page);
    await confirmControl(page, 'relaunch', 'Restart app');
    const next = await successorOf(berth);
    await expect.poll(() => fact(page, 'Instance').textContent(), { timeout: 15_000 }).toBe(next.instance);

    await page.goto(`${berth.origin}/#/settings`);
    await expect.poll(() => page.getByLabel('Port', { exact: true }).inputValue()).toBe(String(berth.port));
    expect(await page.getByLabel('Update channel').inputValue()).toBe('beta');
    expect(await page.getByLabel('Check for updates automatically').isChecked()).toBe(false);
    expect(await page.getByLabel('Start Berth when I log in').isChecked()).toBe(true);
    expect(await page.getByLabel('Update server').inputValue()).toBe('http://127.0.0.1:9/berth-updates/');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a port change moves the tab, and every open tab, to the new port, still signed in', async () => {
    const berth = await startBerth();
    const newPort = await freePort();
    const newOrigin = `http://127.0.0.1:${newPort}`;
    const both = () => [berth.origin, newOrigin];
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings', { allowedOrigins: both });
    // A second tab on the Status page, which did nothing itself.
    const { page: other, problems: otherProblems } = await openPage(context, both);
    await other.goto(`${berth.origin}/#/status`);
    await waitLive(other);

    // The cookie is host-only for 127.0.0.1, named for the port; browsers send it to every port of that host.
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: `berth_token_${berth.port}`, domain: '127.0.0.1', httpOnly: true, sameSite: 'Strict' });

    const port = page.getByLabel('Port', { exact: true });
    await expect.poll(() => port.inputValue()).toBe(String(berth.port));
    await port.fill(String(newPort));
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(`${newOrigin}/#/settings`, { timeout: 15_000 });
    await expect.poll(() => port.inputValue()).toBe(String(newPort));
    await waitLive(page);
    // Signed in at the new port: the page's own API calls carry the cookie.
    const session = await page.evaluate(async () => (await (await fetch('/api/session')).json()) as { authenticated: boolean });
    expect(session.authenticated).toBe(true);
    // Signed in there by the old port's cookie, and given the new port's own.
    expect((await context.cookies()).map((c) => c.name).sort()).toEqual([`berth_token_${berth.port}`, `berth_token_${newPort}`].sort());
    expect((await health(newPort))?.instance).toBe(berth.instance);

    // The other tab learned of the move over its event stream and followed.
    await other.waitForURL(`${newOrigin}/#/status`, { timeout: 15_000 });
    await expect.poll(() => fact(other, 'Port').textContent()).toBe(String(newPort));
    expect(await other.locator('#history tbody tr[data-kind="move"]').count()).toBe(1);
    await screenshot(other, 'status-after-move');

    // The old port is let go.
    await waitFor(async () => (await health(berth.port)) === null, 'the old port to close');
    expect(problems.errors).toEqual([]);
    expect(otherProblems.errors).toEqual([]);
    await context.close();
  });

  test('LAN access: an explicit choice with a warning and a confirmation, applied by restarting the app', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const file = path.join(berth.dataDir, 'settings.json');
    const before = fs.readFileSync(file, 'utf8');

    await page.getByLabel('Other devices on your network').check();
    expect(await page.locator('#lan-warning').isVisible()).toBe(true);
    // Saving asks first; saying no saves nothing.
    await page.getByRole('button', { name: 'Save' }).click();
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Let other devices reach Berth?');
    await screenshot(page, 'settings-lan-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    // Saying yes saves it; the same port cannot be held on two overlapping addresses, so the page offers a restart.
    await page.getByRole('button', { name: 'Save' }).click();
    await dialog.getByRole('button', { name: 'Allow network access' }).click();
    await expect.poll(() => page.locator('.form-actions .message').textContent()).toContain('restart the app to use it');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ host: '0.0.0.0', port: berth.port });
    await screenshot(page, 'settings-lan-restart');
    await page.evaluate(() => ((window as unknown as { oldDocument: boolean }).oldDocument = true));
    await page.getByRole('button', { name: 'Restart app now' }).click();
    const next = await successorOf(berth);
    // The tab reloads onto the new Berth, which now listens on every address (loopback included).
    await expect
      .poll(() => page.evaluate(() => `${(window as unknown as { oldDocument?: boolean }).oldDocument ?? 'reloaded'} ${document.documentElement.dataset.link}`), { timeout: 15_000 })
      .toBe('reloaded live');
    const status = await page.evaluate(async () => (await (await fetch('/api/status')).json()) as { host: string; instance: string });
    expect(status).toMatchObject({ host: '0.0.0.0', instance: next.instance });
    expect(await page.getByLabel('Other devices on your network').isChecked()).toBe(true);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('Stop: the page says Berth has stopped, and the process exits', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');
    const linkStates = await recordLinkStates(page);
    await confirmControl(page, 'stop', 'Stop Berth');
    await expect.poll(() => page.locator('#banner .banner-title').textContent()).toBe('Berth has stopped.');
    await expect.poll(() => page.locator('#banner').isVisible()).toBe(true);
    expect(await berth.proc.exited).toBe(0);
    expect(await health(berth.port)).toBeNull();
    // Once stopped, it stays stopped: a stream reached over a kept-alive connection to the draining server is no way back.
    const states = await linkStates();
    expect(states.slice(states.indexOf('stopped'))).not.toContain('live');
    expect(await page.locator('#banner').isVisible()).toBe(true);
    await screenshot(page, 'stopped');
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});
