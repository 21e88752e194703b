/**
 * Settings checks before it asks: an address that is not one (`not a host!`)
 * or that this computer lacks is refused at its field, and only a valid,
 * exposed address gets the question "Let other devices reach Berth?". And
 * what is typed but not saved is called unsaved, also after a reload brought
 * it back, never "the address saved here".
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, test } from 'vitest';
import { freePort, screenshot, signedInTab, startBerth, useBrowser } from './harness';

const browser = useBrowser();

/** What the page does first after Save: put the question to the person, or refuse the address at its field. */
function firstAfterSave(page: Page): Promise<'asked' | 'refused at the field'> {
  return Promise.race([
    page.locator('dialog.confirm').waitFor().then(() => 'asked' as const),
    page.locator('#host-error:not([hidden])').waitFor().then(() => 'refused at the field' as const),
  ]);
}

describe('Settings checks before it asks', () => {
  test('an invalid host and an address this computer lacks are refused at the field; only a valid network address gets the question', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const file = path.join(berth.dataDir, 'settings.json');
    const before = fs.readFileSync(file, 'utf8');

    await page.getByLabel('A specific address').check();
    for (const [host, words] of [
      ['not a host!', 'Host is not a valid host name or address'],
      ['10.9.8.7', 'This computer has no address 10.9.8.7.'],
    ]) {
      await page.locator('#host').fill(host!);
      const seen = firstAfterSave(page);
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await seen, host).toBe('refused at the field');
      expect(await page.locator('#host-error').textContent()).toBe(words);
      expect(await page.locator('#host').getAttribute('aria-invalid')).toBe('true');
      expect(await page.locator('dialog.confirm').count()).toBe(0);
    }
    await screenshot(page, 'settings-invalid-host');
    expect(fs.readFileSync(file, 'utf8')).toBe(before);

    // Every network address of this computer: valid, and it would let others in: now the question, and Cancel saves nothing.
    await page.getByLabel('Other devices on your network').check();
    const seen = firstAfterSave(page);
    await page.getByRole('button', { name: 'Save' }).click();
    expect(await seen).toBe('asked');
    await page.locator('dialog.confirm').getByRole('button', { name: 'Cancel' }).click();
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('unsaved edits are called unsaved, also after a reload brought them back', async () => {
    const berth = await startBerth();
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const port = page.getByLabel('Port', { exact: true });
    await port.fill(String(berth.port + 1));
    // (The tab keeps its draft across a reload.)
    await expect.poll(() => page.evaluate(() => sessionStorage.getItem('berth.settings-draft'))).toContain(`"port":${berth.port + 1}`);

    await page.reload();
    await expect.poll(() => port.inputValue()).toBe(String(berth.port + 1));
    // Berth serves where the file says: nothing to note about the running address, and never the draft as "saved here".
    expect(await page.locator('main').textContent()).not.toContain(`saved here (127.0.0.1:${berth.port + 1})`);
    expect(await page.locator('#running-address').isHidden()).toBe(true);
    expect(await page.locator('#unsaved').textContent()).toBe(`Unsaved changes: port ${berth.port + 1}.`);
    await screenshot(page, 'settings-unsaved');

    // Revert: nothing unsaved any more.
    await page.getByRole('button', { name: 'Revert' }).click();
    expect(await page.locator('#unsaved').isHidden()).toBe(true);
    expect(problems.errors).toEqual([]);
    await context.close();
  });

  test('started on another port than the file says: the note names the saved address, and the draft stays unsaved', async () => {
    const [running, inFile] = [await freePort(), await freePort()];
    // `berth serve --port <running>` with settings.json saying <inFile>.
    const berth = await startBerth({ port: running, settings: { port: inFile }, args: ['--port', String(running)] });
    const { context, page, problems } = await signedInTab(browser(), berth, '#/settings');
    const note = page.locator('#running-address');
    await expect.poll(() => note.textContent()).toContain(`Berth is serving on 127.0.0.1:${running} right now. The address saved here (127.0.0.1:${inFile})`);
    const port = page.getByLabel('Port', { exact: true });
    expect(await port.inputValue()).toBe(String(inFile));
    const typed = inFile + 1;
    await port.fill(String(typed));
    await expect.poll(() => page.evaluate(() => sessionStorage.getItem('berth.settings-draft'))).toContain(`"port":${typed}`);
    await page.reload();
    await expect.poll(() => port.inputValue()).toBe(String(typed));
    await expect.poll(() => note.textContent()).toContain(`Berth is serving on 127.0.0.1:${running} right now.`);
    expect(await note.textContent()).toContain(`The address saved here (127.0.0.1:${inFile})`);
    expect(await page.locator('#unsaved').textContent()).toBe(`Unsaved changes: port ${typed}.`);
    expect(problems.errors).toEqual([]);
    await context.close();
  });
});
