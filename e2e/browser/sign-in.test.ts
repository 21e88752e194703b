/**
 * `berth open` in a real Chromium: the launcher is handed the sign-in page
 * in the data folder (a file:// address, no token), the page sends the tab
 * on to Berth with a one-time ticket, and the tab ends up signed in with the
 * same HttpOnly cookie as ever. Opened a second time, the page's ticket is
 * used up: the tab lands on the signed-out page, which says why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newTab, startBerth, useBrowser, waitLive } from './harness';
import { runBerth, tempDataDir } from '../../test/helpers';

const browser = useBrowser();

/** `berth open` with a stand-in xdg-open that records what it was given: what a real one passes to the browser. */
async function berthOpen(port: number, dataDir: string): Promise<string[]> {
  const bin = tempDataDir('berth-launcher-');
  const out = path.join(bin, 'args.json');
  fs.writeFileSync(path.join(bin, 'xdg-open'), `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2)));\n`, { mode: 0o755 });
  const p = runBerth(['open', '--port', String(port), '--data-dir', dataDir], { env: { PATH: `${bin}:${process.env.PATH}` } });
  expect(await p.exited, p.stderr()).toBe(0);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
}

describe.skipIf(process.platform !== 'linux')('signing in from berth open', () => {
  it('the page in the data folder signs a real browser tab in once; opened again, the tab is told the link was used', async () => {
    const berth = await startBerth();
    const args = await berthOpen(berth.port, berth.dataDir);
    expect(args).toHaveLength(1);
    expect(args[0]).toMatch(/^file:\/\/.*\/sign-in\.html$/);
    expect(args.join(' ')).not.toContain(berth.token);

    // The file:// page itself is allowed to load; everything after it goes to this Berth only.
    const tab = await newTab(browser(), () => [berth.origin, 'null']);
    await tab.page.goto(args[0]!);
    await tab.page.waitForURL(`${berth.origin}/**`);
    await waitLive(tab.page);
    expect(tab.page.url()).toBe(`${berth.origin}/`);
    const cookies = await tab.context.cookies(berth.origin);
    expect(cookies).toEqual([expect.objectContaining({ name: `berth_token_${berth.port}`, httpOnly: true, sameSite: 'Strict' })]);
    expect(await tab.page.evaluate(() => document.cookie)).toBe('');
    expect(tab.problems.errors).toEqual([]);

    const again = await newTab(browser(), () => [berth.origin, 'null']);
    await again.page.goto(args[0]!);
    await again.page.waitForURL(`${berth.origin}/**`);
    await again.page.locator('#link-expired').waitFor();
    expect(again.page.url()).toBe(`${berth.origin}/`);
    expect(await again.context.cookies(berth.origin)).toEqual([]);
  });
});
