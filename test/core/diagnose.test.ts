/**
 * Copy diagnostics and `berth diagnose`: the text to paste into an issue has
 * what helps (version, system, runtime, paths, settings, port checks, update
 * state, history, the last 200 log lines) and no secret: not the token, not
 * a handoff note's secret, not a cookie value, not an update server's
 * password, even where a log line or a setting carries one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NOTE_MAX_AGE_MS, handoffProof, newSecret, writeHandoffNote } from '../../app/lifecycle/successor-protocol';
import { mintTicket } from '../../app/server/sign-in';
import { freePort, killBerth, readToken, runBerth, startServe, tempDataDir, type BerthProcess } from '../helpers';

const procs: BerthProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
});

const PASSWORD = 'pa55-w0rd-of-the-feed';
const FEED_KEY = 'feed-key-0123456789';
const COOKIE = 'another-cookie-value-42';

/** A data folder where secrets could leak from: a feed URL with credentials, and log lines an older Berth wrote with secrets in them. */
function leakyFolder(port: number): string {
  const dir = tempDataDir();
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify({ port, update: { channel: 'latest', autoCheck: false, url: `https://berth:${PASSWORD}@updates.example.org/feed?key=${FEED_KEY}`, allowPrerelease: false } }));
  return dir;
}

/** Plants log lines with the secrets, a sign-in ticket and a handoff proof in them; returns the ticket and the proof's mac. */
function plant(dir: string, secrets: string[]): string[] {
  const log = path.join(dir, 'logs', 'berth.log');
  const ticket = mintTicket(secrets[0]!);
  const proof = handoffProof('leftOverNote1', secrets[1]!);
  const lines = [
    `asked with ?token=${secrets[0]}&x=1`,
    `header Authorization: Bearer ${secrets[0]}`,
    `a note said {"secret":"${secrets[1]}"}`,
    `raw ${secrets.join(' and ')}`,
    `signed in with ${ticket} from a page`,
    `probe sent ${proof}`,
  ].map((msg) => JSON.stringify({ level: 40, time: Date.now(), pid: 1, scope: 'planted', msg }));
  fs.appendFileSync(log, lines.join('\n') + '\n');
  return [ticket, proof.split(' ')[1]!];
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of [...secrets, PASSWORD, FEED_KEY, COOKIE]) expect(text, `the text holds ${s.slice(0, 6)}…`).not.toContain(s);
}

describe('diagnostics', () => {
  it('from the running Berth (the Status page and berth diagnose): everything that helps, and no token, handoff secret, cookie or password', async () => {
    const port = await freePort();
    const dir = leakyFolder(port);
    const p = await startServe(port, dir);
    procs.push(p);
    const token = readToken(dir);
    const secret = newSecret();
    // A note left by a relaunch that never finished: too old to be used, and its secret still must not show.
    writeHandoffNote(dir, { v: 2, id: 'leftOverNote', proof: 'note', instance: 'leftOverNote1', pid: 999_999, host: '127.0.0.1', port, secret, version: '0.9.0', writtenAt: Date.now() - NOTE_MAX_AGE_MS - 60_000, closedAt: null, history: [] });
    const planted = plant(dir, [token, secret]);
    // A restart, for the history.
    await fetch(`http://127.0.0.1:${port}/api/restart`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });

    const page = await fetch(`http://127.0.0.1:${port}/api/diagnostics?tz=Asia/Kolkata`, { headers: { Cookie: `berth_token_${port}=${encodeURIComponent(token)}; theme=${COOKIE}` } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await page.text();
    expectNoSecret(text, [token, secret, ...planted]);
    expect(text).toContain('[removed]');
    for (const part of ['## Berth diagnostics', `- Berth ${p.info.version} (berth serve, headless)`, '- System: ', '- Runtime: Node ', `- Data folder: ${dir}`, '### Settings (secrets removed)', 'https://[removed]@updates.example.org/feed?[removed]', `- serving on http://127.0.0.1:${port}`, `| 127.0.0.1:${port} | free | nothing | bind |`, '### Update', '- state: disabled', '### History', ' start', ' restart, port unavailable 0 ms', '### Last ']) {
      expect(text, part).toContain(part);
    }
    // Times in the reader's zone, and the log lines as the Logs page shows them.
    expect(text).toMatch(/^Made \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+05:30 by the Status page\./m);
    expect(text).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+05:30 INFO {2}pid \d+ host: serving on /m);
    // It needs the sign-in like every private read.
    expect((await fetch(`http://127.0.0.1:${port}/api/diagnostics`)).status).toBe(401);

    const cli = runBerth(['diagnose', '--port', String(port), '--data-dir', dir]);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const out = cli.stdout();
    expectNoSecret(out, [token, secret, ...planted]);
    expect(out).toContain('by berth diagnose.');
    expect(out).toContain(`### Seen from berth diagnose\n\n- Berth ${p.info.version} pid ${p.info.pid} (serving) answers on 127.0.0.1:${port}`);
    // The last 200 lines of the log, no more.
    const logBlock = out.slice(out.indexOf('### Last '));
    expect(logBlock).toMatch(/^### Last \d+ log lines/);
    const shown = logBlock.split('\n').filter((l) => /^\d{4}-\d\d-\d\d /.test(l)).length;
    const inFile = fs.readFileSync(path.join(dir, 'logs', 'berth.log'), 'utf8').split('\n').filter(Boolean).length;
    expect(shown).toBe(Math.min(200, inFile));
  });

  it('with no Berth running: made from the data folder, still without a secret', async () => {
    const port = await freePort();
    const dir = leakyFolder(port);
    const p = await startServe(port, dir);
    await killBerth(p);
    const token = readToken(dir);
    const planted = plant(dir, [token, 'x'.repeat(43)]);
    const cli = runBerth(['diagnose', '--data-dir', dir, '--port', String(port)]);
    expect(await cli.exited, cli.stderr()).toBe(0);
    const out = cli.stdout();
    expectNoSecret(out, [token, 'x'.repeat(43), ...planted]);
    expect(out).toContain('- not running');
    expect(out).toContain(`- seen from here: nothing answers on 127.0.0.1:${port}`);
    expect(out).toMatch(/INFO {2}pid \d+ host: serving on /);
    // --json: one object, the text in it.
    const json = runBerth(['diagnose', '--json', '--data-dir', dir, '--port', String(port)]);
    expect(await json.exited).toBe(0);
    expect((JSON.parse(json.stdout()) as { diagnostics: string }).diagnostics).toContain('## Berth diagnostics');
  });
});
