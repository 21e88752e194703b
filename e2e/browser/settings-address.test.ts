/**
 * Settings never save an address Berth cannot take: a port another program
 * holds and a host that is not this computer's are refused at their field,
 * with a free port offered, and settings.json keeps what works, unless the
 * person explicitly keeps the address for the next start. The Status page's
 * "Port checks" show what really happened.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { bannerTitle, callApi, freePort, health, screenshot, signedInTab, startBerth, useBrowser, waitFor, type RunningBerth } from './harness';

const cleanups: (() => unknown)[] = [];
const browser = useBrowser(cleanups);

/** A web server on loopback that says it is nginx, on a port of its own. */
async function nginxLookalike(): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { Server: 'nginx/1.25.3', 'Content-Type': 'text/html' });
    res.end('<h1>Welcome to nginx!</h1>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

async function status(berth: RunningBerth) {
  const res = await callApi(berth, 'GET', '/api/status');
  return (await res.json()) as { port: number; host: string; startCommand: string | null; startup: { verdict: string; what: string; action: string; address: string; ms: number }[] };
}

async function save(page: Page) {
  await page.getByRole('button', { name: 'Save' }).click();
}

describe('settings refuse an address Berth cannot take', () => {
  test('a port another program holds: named at the field, nothing saved, a free port offered, and the move confirmed on arrival', async () => {
    const berth = await startBerth();
    const taken = await nginxLookalike();
    const allowed = new Set([berth.origin]);
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings', { allowedOrigins: () => [...allowed] });
    const port = page.getByLabel('Port', { exact: true });
    await expect.poll(() => port.inputValue()).toBe(String(berth.port));
    const file = path.join(berth.dataDir, 'settings.json');
    const before = fs.readFileSync(file, 'utf8');

    await port.fill(String(taken));
    await save(page);
    await expect.poll(() => page.locator('#port-error').textContent()).toBe(`Port ${taken} is used by nginx/1.25.3.`);
    expect(await port.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.form-actions .message').textContent()).toMatch(new RegExp(`^Not saved: Port ${taken} is used by nginx/1\\.25\\.3\\. Port \\d+ is free\\.$`));
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect((await health(berth.port))?.instance).toBe(berth.instance);
    await screenshot(page, 'settings-port-taken');

    // Port checks: what the check found and what Berth did, not "Port free -> bind".
    const check = (await status(berth)).startup.at(-1)!;
    expect(check).toMatchObject({ verdict: 'foreign', address: `127.0.0.1:${taken}` });
    expect(check.what).toContain('nginx/1.25.3');
    expect(check.action).toBe(`not moved, not saved: Port ${taken} is used by nginx/1.25.3.`);

    // The offered port: free, and one click away. The tab follows the move and confirms it there.
    const offer = page.locator('#use-free-port');
    const free = Number((await offer.textContent())!.replace('Use port ', ''));
    expect(free).toBeGreaterThan(taken);
    const newOrigin = `http://127.0.0.1:${free}`;
    allowed.add(newOrigin);
    await offer.click();
    await page.waitForURL(`${newOrigin}/#/settings`, { timeout: 15_000 });
    await expect.poll(() => bannerTitle(page)).toBe('Berth moved here.');
    expect(await page.locator('#banner .banner-detail').textContent()).toBe(`It now serves 127.0.0.1:${free} (it was on port ${berth.port}). Bookmarks and other programs need the new address.`);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).port).toBe(free);
    await screenshot(page, 'settings-moved-here');
    await page.getByRole('button', { name: 'Dismiss' }).click();
    expect(await page.locator('#banner').isHidden()).toBe(true);

    // And the Status page lists the refused check beside the ones that worked.
    await page.evaluate(() => (location.hash = '#/status'));
    const refused = page.locator('#startup tbody tr[data-verdict="foreign"]');
    await expect.poll(() => refused.count()).toBe(1);
    expect(await refused.textContent()).toContain('not moved, not saved');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a host that is not this computer: refused before any packet is sent, unless kept for the next start', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const file = path.join(berth.dataDir, 'settings.json');
    const before = fs.readFileSync(file, 'utf8');

    await page.getByLabel('A specific address').check();
    await page.locator('#host').fill('10.9.8.7');
    await save(page);
    // Refused at its field before any question about letting others in (settings-checks.test.ts).
    await expect.poll(() => page.locator('#host-error').textContent()).toBe('This computer has no address 10.9.8.7.');
    expect(await page.locator('dialog.confirm').count()).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    await screenshot(page, 'settings-no-such-address');
    // Nothing was probed: the check stopped at "not an address of this computer".
    const check = (await status(berth)).startup.at(-1)!;
    expect(check).toMatchObject({ verdict: 'no-address', address: `10.9.8.7:${berth.port}`, ms: 0 });
    expect(check.action).toBe('not moved, not saved: This computer has no address 10.9.8.7.');

    // The person insists: asked about letting others in (it would, at the next start), then saved for the next start,
    // and Berth stays where it is.
    await page.getByRole('button', { name: 'Keep for next start' }).click();
    await page.locator('dialog.confirm').getByRole('button', { name: 'Allow network access' }).click();
    await expect.poll(() => page.locator('.form-actions .message').textContent()).toBe(
      `This computer has no address 10.9.8.7. Saved anyway: Berth stays on ${berth.origin} and tries 10.9.8.7:${berth.port} the next time it starts.`,
    );
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ host: '10.9.8.7', port: berth.port });
    expect((await health(berth.port))?.instance).toBe(berth.instance);
    expect((await status(berth)).startup.at(-1)!.action).toBe(`kept for the next start; still serving ${berth.origin}`);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('through the API: a name must resolve to this computer (localhost does), and a refused move keeps the file as it was', async () => {
    const berth = await startBerth();
    const file = path.join(berth.dataDir, 'settings.json');
    const put = (body: object) => callApi(berth, 'PUT', '/api/settings', body);

    // A port held by a listener that reads the probe's request and never answers.
    const silent = net.createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => silent.close(r)));
    const held = (silent.address() as net.AddressInfo).port;
    const before = fs.readFileSync(file, 'utf8');
    const refused = await put({ port: held });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: string; errors: { field: string; message: string }[]; freePort: number };
    expect(body.error).toBe('address-unavailable');
    expect(body.errors).toEqual([{ field: 'port', message: `Port ${held} is held by a program that does not answer (a process accepted the connection but did not answer).` }]);
    expect(typeof body.freePort).toBe('number');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    // localhost resolves (from the hosts file) to this computer: the move goes ahead.
    const target = await freePort();
    const moved = await put({ host: 'localhost', port: target });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ moved: true, settings: { host: 'localhost', port: target } });
    await waitFor(async () => (await health(target))?.instance === berth.instance, 'Berth on the new port');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ host: 'localhost', port: target });
  });
});
