/**
 * Signing a browser in without the token on a command line
 * (app/server/sign-in.ts): one-time tickets, the page in the data folder
 * that `berth open` hands the browser launcher, and what the launcher's
 * argv holds. The launcher here is a stand-in `xdg-open` on PATH that
 * records its arguments; a real Chromium opening the page is in
 * e2e/browser/sign-in.test.ts, and another user replaying the command line
 * in soak/lib/attacks.mjs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintTicket, redeemTicket, SIGN_IN_PAGE, TICKET_TTL_MS } from '../../app/server/sign-in';
import type { ServerHost } from '../../app/lifecycle/host';
import { freePort, killBerth, readToken, runBerth, startServe, tempDataDir, type BerthProcess } from '../helpers';
import { makeHost } from './fixtures';

const token = 'T'.repeat(43);

describe('sign-in tickets', () => {
  it('a ticket signs in once, for two minutes, and only to the Berth whose token made it', () => {
    const now = Date.now();
    const t = mintTicket(token, now);
    expect(t).not.toContain(token);
    expect(redeemTicket(t, 'U'.repeat(43), now)).toBe('invalid');
    expect(redeemTicket(t, token, now)).toBe('ok');
    expect(redeemTicket(t, token, now)).toBe('used');
    expect(redeemTicket(mintTicket(token, now), token, now + TICKET_TTL_MS + 1)).toBe('expired');
    const [expiry, nonce, mac] = mintTicket(token, now).split('.');
    // A later expiry, or any other change, breaks the MAC.
    expect(redeemTicket(`${(parseInt(expiry!, 36) + 60_000).toString(36)}.${nonce}.${mac}`, token, now)).toBe('invalid');
    expect(redeemTicket(`${expiry}.${nonce}.${mac!.slice(0, -1)}${mac!.endsWith('A') ? 'B' : 'A'}`, token, now)).toBe('invalid');
    expect(redeemTicket('garbage', token, now)).toBe('invalid');
  });
});

describe('?ticket= at the server', () => {
  let host: ServerHost;
  let base: string;
  let secret: string;
  beforeAll(async () => {
    const port = await freePort();
    host = await makeHost(port);
    await host.start();
    secret = readToken(host.status().dataDir);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => host.stop());

  it('sets the cookie once and takes the ticket out of the address; used again, it lands on the signed-out page saying so', async () => {
    const ticket = mintTicket(secret);
    const first = await fetch(`${base}/settings?ticket=${ticket}&x=1`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/settings?x=1');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^berth_token_${new URL(base).port}=[^;]+; Path=/; HttpOnly; SameSite=Strict$`));
    expect((await fetch(`${base}/api/status`, { headers: { Cookie: cookie.split(';')[0]! } })).status).toBe(200);
    const again = await fetch(`${base}/?ticket=${ticket}`, { redirect: 'manual' });
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(again.headers.get('location')).toBe('/?signin=expired');
    const forged = await fetch(`${base}/?ticket=${mintTicket('x'.repeat(43))}`, { redirect: 'manual' });
    expect(forged.headers.get('set-cookie')).toBeNull();
    expect(forged.headers.get('location')).toBe('/?signin=rejected');
  });
});

/** A stand-in for the desktop's launcher: records its arguments, exits 0 as xdg-open does once the browser has them. */
function fakeLauncher(): { bin: string; args: () => string[] | null } {
  const bin = tempDataDir('berth-launcher-');
  const out = path.join(bin, 'args.json');
  fs.writeFileSync(path.join(bin, 'xdg-open'), `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.argv.slice(2)));\n`, { mode: 0o755 });
  return { bin, args: () => (fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as string[]) : null) };
}

describe.skipIf(process.platform !== 'linux')('berth open', () => {
  let server: BerthProcess & { info: { url: string } };
  let dataDir: string;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    dataDir = tempDataDir();
    server = await startServe(port, dataDir);
  });
  afterAll(() => killBerth(server));

  it('hands the launcher a 0600 page in the data folder, never the token or a ticket; the page signs one tab in', async () => {
    const launcher = fakeLauncher();
    const p = runBerth(['open', '--port', String(port), '--data-dir', dataDir], { env: { PATH: `${launcher.bin}:${process.env.PATH}` } });
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toContain(`Opened ${server.info.url} in your browser, signed in.`);
    const page = path.join(dataDir, SIGN_IN_PAGE);
    expect(launcher.args()).toEqual([`file://${page}`]);
    expect(launcher.args()!.join(' ')).not.toContain(readToken(dataDir));
    expect(fs.statSync(page).mode & 0o777).toBe(0o600);
    const html = fs.readFileSync(page, 'utf8');
    const link = /content="0;url=([^"]+)"/.exec(html)![1]!.replace(/&#38;/g, '&');
    expect(link).toMatch(new RegExp(`^${server.info.url}/\\?ticket=`));
    expect(html).not.toContain(readToken(dataDir));
    const first = await fetch(link, { redirect: 'manual' });
    expect(first.headers.get('set-cookie')).toMatch(new RegExp(`^berth_token_${port}=`));
    expect((await fetch(link, { redirect: 'manual' })).headers.get('set-cookie')).toBeNull();
  });

  it('with another Berth\'s data folder: exit 2 naming the refusal, as restart does, and nothing is opened', async () => {
    const launcher = fakeLauncher();
    const other = tempDataDir();
    fs.writeFileSync(path.join(other, 'auth-token'), 'x'.repeat(43) + '\n', { mode: 0o600 });
    const p = runBerth(['open', '--port', String(port), '--data-dir', other], { env: { PATH: `${launcher.bin}:${process.env.PATH}` } });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain(`did not accept the token from this data directory (HTTP 401)`);
    expect(launcher.args()).toBeNull();
    expect(fs.existsSync(path.join(other, SIGN_IN_PAGE))).toBe(false);
  });

  it('without a launcher: prints a one-time link instead, and puts it on no command line', async () => {
    const empty = tempDataDir('berth-no-launcher-');
    const p = runBerth(['open', '--json', '--port', String(port), '--data-dir', dataDir], { env: { PATH: empty } });
    expect(await p.exited).toBe(0);
    const out = JSON.parse(p.stdout().trim().split('\n').at(-1)!) as { opened: boolean; link: string };
    expect(out.opened).toBe(false);
    expect((await fetch(out.link, { redirect: 'manual' })).headers.get('set-cookie')).toMatch(new RegExp(`^berth_token_${port}=`));
  });
});
