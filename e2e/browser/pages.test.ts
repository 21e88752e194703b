/**
 * Each page of the web UI against a real `berth serve`: it renders the
 * server's real data, looks finished in light and dark (screenshots under
 * test-results/screenshots), is usable from the keyboard, and a tab without
 * the token gets an explanation instead of a 401.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { VIEWPORT, callApi, newTab, recordLinkStates, screenshot, signedInTab, startBerth, useBrowser, waitLive } from './harness';

const browser = useBrowser();

describe('pages', () => {
  test('Status shows the real server: address, port, pid, version, instance, history and startup probe', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status', { context: { colorScheme: 'light' } });
    // The token left the address bar and became a cookie.
    expect(page.url()).toBe(`${berth.origin}/#/status`);

    const facts = page.locator('.summary .facts');
    await expect.poll(() => page.locator('#status-url').textContent()).toBe(berth.origin);
    expect(await facts.locator('dt:text-is("Port") + dd').textContent()).toBe(String(berth.port));
    expect(await facts.locator('dt:text-is("Process id") + dd').textContent()).toBe(String(berth.pid));
    expect(await facts.locator('dt:text-is("Instance") + dd').textContent()).toBe(berth.instance);
    const version = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version as string;
    expect(await facts.locator('dt:text-is("Version") + dd').textContent()).toBe(version);
    expect(Number(await facts.locator('dt:text-is("Open connections") + dd').textContent())).toBeGreaterThanOrEqual(1);
    expect(await page.locator('.pill').textContent()).toBe('Serving');
    // History: the first start. Startup checks: the probe found the port free and Berth bound it.
    expect(await page.locator('#history tbody tr[data-kind="start"]').count()).toBe(1);
    const probe = page.locator('#startup tbody tr').first();
    expect(await probe.getAttribute('data-verdict')).toBe('free');
    expect(await probe.locator('td').first().textContent()).toBe(`127.0.0.1:${berth.port}`);
    // Uptime ticks without a server round trip.
    const uptime = facts.locator('dt:text-is("Uptime") + dd');
    const first = await uptime.textContent();
    await expect.poll(() => uptime.textContent(), { timeout: 3000 }).not.toBe(first);
    await screenshot(page, 'status-light');

    // Copy puts the address on the clipboard.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: berth.origin });
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(berth.origin);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('dark theme follows the system setting', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status', { context: { colorScheme: 'dark' } });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    // Dark: every channel of the page background is low.
    const channels = background.match(/\d+/g)!.slice(0, 3).map(Number);
    expect(Math.max(...channels)).toBeLessThan(60);
    await screenshot(page, 'status-dark');
    // A small desktop window: one column, the navigation on its own row.
    await page.setViewportSize({ width: 640, height: 900 });
    await screenshot(page, 'status-narrow-dark');
    await page.setViewportSize(VIEWPORT);
    await page.goto(`${berth.origin}/#/settings`);
    await page.locator('#port').waitFor();
    await screenshot(page, 'settings-dark');
    await page.goto(`${berth.origin}/#/logs`);
    await page.locator('#log-lines[data-loaded="true"]').waitFor();
    await screenshot(page, 'logs-dark');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('Logs shows the tail, filters by level, and adds new lines live', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/logs');
    // Real lines from this server's startup.
    await expect.poll(() => page.locator('#log-lines').textContent()).toContain(`serving on http://127.0.0.1:${berth.port}`);
    await waitLive(page);

    const linkStates = await recordLinkStates(page);
    // Asking Berth to move to a port another program holds is refused, and the probe's verdict is logged: it arrives live.
    const squatter = net.createServer((s) => s.end('SSH-2.0-not-berth\r\n'));
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const taken = (squatter.address() as net.AddressInfo).port;
    try {
      const put = await callApi(berth, 'PUT', '/api/settings', { port: taken });
      expect(put.status).toBe(409);
      await expect.poll(() => page.locator('#log-lines').textContent()).toContain(`probe 127.0.0.1:${taken}: foreign`);
    } finally {
      squatter.close();
    }
    expect(await linkStates()).toEqual(['live']);

    // Lines logged while the stream is down (an in-process restart) are fetched once the page reconnects.
    const res = await callApi(berth, 'POST', '/api/restart');
    expect(res.status).toBe(200);
    await expect.poll(() => page.locator('#log-lines').textContent(), { timeout: 10_000 }).toContain('restarted in place');
    expect(await linkStates()).toContain('reconnecting');
    await screenshot(page, 'logs-light');

    // Filter: warnings and errors only: the page shows exactly the server's warn-and-above lines (usually none;
    // a restart on a busy machine may log a drain-deadline warning), and says so when there are none.
    const warnings = async () =>
      ((await (await callApi(berth, 'GET', '/api/logs?level=warn')).json()) as { entries: { msg: string }[] }).entries;
    await page.selectOption('#log-level', 'warn');
    await expect.poll(async () => (await page.locator('#log-lines li').count()) === (await warnings()).length).toBe(true);
    const levels = await page.locator('#log-lines li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-level')));
    expect(levels.filter((l) => !['warn', 'error', 'fatal'].includes(l!))).toEqual([]);
    const n = levels.length;
    expect(await page.locator('#log-count').textContent()).toMatch(new RegExp(`^${n} of \\d+ lines?$`));
    if (n === 0) expect(await page.locator('#log-empty').textContent()).toBe('No warnings or errors. All is well.');
    await page.selectOption('#log-level', 'info');
    await expect.poll(() => page.locator('#log-lines li').count()).toBeGreaterThan(0);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('Update shows the update state from the server, or says updates are not in this build', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/update');
    const res = await callApi(berth, 'GET', '/api/update');
    const card = page.locator('.update-body article').first();
    if (res.status === 404) {
      expect(await card.getAttribute('data-state')).toBe('unavailable');
      expect(await card.textContent()).toContain('Updates are not available in this build');
    } else {
      expect(res.status).toBe(200);
      const state = (await res.json()) as { state: string; currentVersion: string; reason?: string };
      await expect.poll(() => card.getAttribute('data-state')).toBe(state.state);
      expect(await card.locator('dt:text-is("Current version") + dd').textContent()).toBe(state.currentVersion);
      // A headless `berth serve` from a checkout cannot replace itself: the page says why.
      if (state.state === 'disabled') expect(await page.locator('#update-reason').textContent()).toBe(state.reason);
    }
    await screenshot(page, 'update-light');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('Settings shows the saved settings, explains bad input with the server’s messages, and saves', async () => {
    const berth = await startBerth({ updatable: true, settings: { update: { channel: 'latest', autoCheck: true, url: null, allowPrerelease: false } } });
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const port = page.getByLabel('Port', { exact: true });
    await expect.poll(() => port.inputValue()).toBe(String(berth.port));
    expect(await page.getByLabel('This computer only').isChecked()).toBe(true);
    expect(await page.locator('#lan-warning').isHidden()).toBe(true);
    expect(await page.getByLabel('Update channel').inputValue()).toBe('latest');
    expect(await page.getByLabel('Check for updates automatically').isChecked()).toBe(true);
    await screenshot(page, 'settings-light');

    // Choosing network access shows the warning before anything is saved.
    await page.getByLabel('Other devices on your network').check();
    expect(await page.locator('#lan-warning').isVisible()).toBe(true);
    await screenshot(page, 'settings-lan-warning');
    await page.getByLabel('This computer only').check();
    expect(await page.locator('#lan-warning').isHidden()).toBe(true);

    // Bad input: the server's own messages, next to the fields, and nothing saved.
    const file = path.join(berth.dataDir, 'settings.json');
    const saved = fs.readFileSync(file, 'utf8');
    await port.fill('70000');
    // Plain http to another machine: refused (only https, or http on this machine).
    await page.getByLabel('Update server').fill('http://updates.example.invalid/');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('#port-error').textContent()).toBe('Port must be between 1 and 65535');
    expect(await page.locator('#updateUrl-error').textContent()).toBe(
      'Update URL must use https:// (plain http:// is accepted only for this machine, such as http://127.0.0.1), because an update fetched over http from updates.example.invalid could be replaced on the way',
    );
    expect(await port.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.form-actions .message').textContent()).toContain('2 settings need attention');
    // Focus goes to the first field with a problem.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('port');
    expect(fs.readFileSync(file, 'utf8')).toBe(saved);
    await screenshot(page, 'settings-errors');

    // Good input saves, without moving the server.
    await port.fill(String(berth.port));
    await page.getByLabel('Update server').fill('');
    await page.getByLabel('Update channel').selectOption('beta');
    await page.getByLabel('Start Berth when I log in').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('.form-actions .message').textContent()).toBe('Saved.');
    const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(onDisk).toMatchObject({ port: berth.port, host: '127.0.0.1', launchAtLogin: true, update: { channel: 'beta', url: null } });
    expect(await page.locator('#port-error').isHidden()).toBe(true);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a corrupt settings file is set aside, and the page says so', async () => {
    const berth = await startBerth();
    fs.writeFileSync(path.join(berth.dataDir, 'settings.json'), '{"port": 80');
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const notice = page.locator('.page > .notice.warn');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/was not valid JSON; it was kept as .*settings\.json\.corrupt-/);
    const aside = fs.readdirSync(berth.dataDir).filter((f) => f.startsWith('settings.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(berth.dataDir, aside[0]!), 'utf8')).toBe('{"port": 80');
    // The server runs elsewhere than the (default) settings now say, and the page explains that.
    await expect.poll(() => page.locator('#running-address').textContent()).toContain(`127.0.0.1:${berth.port}`);
    await screenshot(page, 'settings-corrupt-file');
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('a tab without the token gets an explanation of how to open Berth, never a raw 401', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await newTab(browser(), () => [berth.origin]);
    const statuses: number[] = [];
    page.on('response', (r) => statuses.push(r.status()));
    await page.goto(`${berth.origin}/#/settings`);
    const heading = page.getByRole('heading', { level: 1 });
    await expect.poll(() => heading.textContent()).toBe('Open Berth from the app');
    const text = (await page.locator('main').textContent())!;
    expect(text).toContain('Open in browser');
    // The exact command that opens this Berth from this computer: as Berth runs here, with its port and data folder.
    await expect.poll(() => page.locator('#open-command').textContent()).toMatch(new RegExp(` open --port ${berth.port} --data-dir ${berth.dataDir}$`));
    // (As a word: the page names this Berth's port, which may well be 40179.)
    expect(text).not.toMatch(/\b401\b|unauthori[sz]ed/i);
    // No request of the page itself was refused: it asked /api/session, which answers everyone.
    expect(statuses.filter((s) => s === 401)).toEqual([]);
    expect(await page.locator('nav').count()).toBe(0);
    await screenshot(page, 'signed-out');

    // A wrong token is no better than none, and leaves no cookie.
    await page.goto(`${berth.origin}/?token=not-the-token#/status`);
    await expect.poll(() => heading.textContent()).toBe('Open Berth from the app');
    expect(await context.cookies()).toEqual([]);

    // Signing in another way (as `berth open` would) and pressing "Check again" brings the console.
    const other = await context.newPage();
    await other.goto(berth.signInUrl());
    await other.close();
    await page.getByRole('button', { name: 'Check again' }).click();
    await waitLive(page);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('keyboard: skip link, navigation, and a confirmation that Escape cancels', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/status');

    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    expect(page.url()).toBe(`${berth.origin}/#/status`);

    // Tab from the top reaches the navigation; Enter follows a link and focus lands on the new page's heading.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.locator('.nav-link[data-page="logs"]').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Logs');
    expect(await page.locator('.nav-link[aria-current="page"]').textContent()).toBe('Logs');

    // Every form control on every page has an accessible name.
    for (const id of ['status', 'update', 'settings', 'logs']) {
      await page.goto(`${berth.origin}/#/${id}`);
      await page.locator(`#${id}-title`).waitFor();
      if (id === 'settings') await page.locator('#port').waitFor();
      const unnamed = await page.evaluate(() =>
        Array.from(document.querySelectorAll('input, select, button, textarea'))
          .filter((el) => {
            const e = el as HTMLInputElement;
            const label = e.labels?.length ? Array.from(e.labels).map((l) => l.textContent).join('') : '';
            return !(label.trim() || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent?.trim()));
          })
          .map((el) => el.outerHTML),
      );
      expect(unnamed, `unlabelled controls on ${id}`).toEqual([]);
    }

    // The Stop confirmation opens with Cancel focused; Escape cancels and Berth keeps serving.
    await page.goto(`${berth.origin}/#/status`);
    await page.locator('button[data-action="stop"]').focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await screenshot(page, 'confirm-stop');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await page.locator('.pill').textContent()).toBe('Serving');
    const res = await fetch(`${berth.origin}/health`);
    expect(((await res.json()) as { instance: string }).instance).toBe(berth.instance);
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});

// The pages make no third-party requests; this checks the built files themselves too.
test('the built page has no inline script or style and loads nothing from elsewhere', () => {
  const dir = path.join(__dirname, '..', '..', 'out', 'renderer');
  const html = fs.readFileSync(path.join(dir, 'index.html'), 'utf8');
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
  expect(html).not.toMatch(/\sstyle=/);
  expect(html).not.toMatch(/<style/);
  const assets = fs.readdirSync(path.join(dir, 'assets'));
  for (const f of assets.filter((a) => /\.(js|css|html)$/.test(a))) {
    const text = fs.readFileSync(path.join(dir, 'assets', f), 'utf8');
    expect(text, f).not.toMatch(/https?:\/\/(?!127\.0\.0\.1|localhost|www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}/i);
  }
});
