/**
 * Two Berths on one host, in one real Chromium. Cookies ignore ports
 * (RFC 6265), so the sign-in cookie's name carries the port: signing in to
 * one Berth must not sign the other's tab out, and a Berth that moved keeps
 * its tab signed in even after another Berth takes the port it left.
 */
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { callApi, fact, freePort, health, openPage, signedInTab, startBerth, useBrowser, waitFor, waitLive, type RunningBerth } from './harness';

const browser = useBrowser();

/** What the tab's own API calls say: signed in or not. */
const signedIn = (page: Page) => page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { authenticated: boolean }).authenticated);

describe('two Berths on one host', () => {
  test('signing in to one keeps the other signed in: each has a cookie of its own', async () => {
    const a = await startBerth();
    const b = await startBerth();
    const both = () => [a.origin, b.origin];
    const { context, page: tabA, problems } = await signedInTab(browser(), a, '#/status', { allowedOrigins: both });
    // The same browser (one cookie jar) signs in to the second Berth.
    const { page: tabB, problems: problemsB } = await openPage(context, both);
    await tabB.goto(b.signInUrl('#/status'));
    await waitLive(tabB);

    expect(await signedIn(tabB)).toBe(true);
    expect(await signedIn(tabA)).toBe(true);
    await tabA.reload();
    await waitLive(tabA);
    expect(await fact(tabA, 'Port').textContent()).toBe(String(a.port));

    const names = (await context.cookies()).map((c) => `${c.name} ${c.domain} ${c.httpOnly} ${c.sameSite}`).sort();
    expect(names).toEqual([`berth_token_${a.port} 127.0.0.1 true Strict`, `berth_token_${b.port} 127.0.0.1 true Strict`].sort());
    expect(problems.errors).toEqual([]);
    expect(problemsB.errors).toEqual([]);
    await context.close();
  });

  test('a Berth moved by another client keeps its tab signed in, even once another Berth signs in on the port it left', async () => {
    const b = await startBerth();
    const newPort = await freePort();
    const newOrigin = `http://127.0.0.1:${newPort}`;
    let c: RunningBerth | null = null;
    const origins = () => [b.origin, newOrigin];
    const { context, page, problems } = await signedInTab(browser(), b, '#/status', { allowedOrigins: origins });

    // Moved from elsewhere (the CLI, another browser): this tab's browser was never told the new port.
    expect((await callApi(b, 'PUT', '/api/settings', { port: newPort })).status).toBe(200);
    await page.waitForURL(`${newOrigin}/#/status`, { timeout: 15_000 });
    await waitLive(page);
    expect(await signedIn(page)).toBe(true);
    await waitFor(async () => (await health(b.port)) === null, 'the old port to close');

    // Another Berth starts on the port the first one left, and the same browser signs in to it.
    c = await startBerth({ port: b.port });
    const { page: tabC, problems: problemsC } = await openPage(context, () => [c!.origin]);
    await tabC.goto(c.signInUrl('#/status'));
    await waitLive(tabC);
    expect(await signedIn(tabC)).toBe(true);

    expect(await signedIn(page)).toBe(true);
    await page.reload();
    await waitLive(page);
    expect(await fact(page, 'Port').textContent()).toBe(String(newPort));
    expect(problems.errors).toEqual([]);
    expect(problemsC.errors).toEqual([]);
    await context.close();
  });
});
