/**
 * A web server in another language behind Berth's port: the Python example
 * (examples/bookmarks-python) started as a real child process, reached only
 * through Berth's proxy, restarted and crashed under load.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defineApp } from '../../app/hosting/definition';
import { rawRequest, waitFor } from '../helpers';
import { BOOKMARKS, PYTHON, hostedBerth } from './fixtures';
// @ts-expect-error a plain ES module shared with the soak
import { startLoad } from '../../soak/lib/strict-load.mjs';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

function bookmarks(listen?: 'unix' | 'tcp') {
  return defineApp({ id: 'dev.berth.bookmarks', name: 'Bookmarks', version: '1.0.0', server: { command: PYTHON, args: [BOOKMARKS], listen, readyPath: '/healthz' } });
}

async function serving(listen?: 'unix' | 'tcp') {
  const b = await hostedBerth(bookmarks(listen));
  cleanups.push(b.stop);
  await waitFor(() => b.berth.app!.child!.ready, 'the child server to be ready');
  return { ...b, auth: { Authorization: `Bearer ${b.token}` } };
}

describe('a child server behind Berth', () => {
  it('answers through Berth over a private Unix socket, signed in only; Berth keeps /health, its API and its console', async () => {
    const b = await serving('unix');
    const sock = b.berth.app!.child!.upstream().socketPath!;
    expect(sock.startsWith(path.join(b.dataDir, 'app-sockets'))).toBe(true);
    expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);

    const page = await rawRequest(`${b.url}/`, { headers: b.auth });
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<h1>Bookmarks</h1>');
    const added = await fetch(`${b.url}/api/bookmarks`, { method: 'POST', headers: { ...b.auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ url: 'https://example.org/', title: 'Example' }) });
    expect(added.status).toBe(201);
    expect(await (await fetch(`${b.url}/api/bookmarks`, { headers: b.auth })).json()).toEqual([{ url: 'https://example.org/', title: 'Example' }]);

    // Not signed in: an API call is refused, a page is sent to the console's sign-in.
    expect((await rawRequest(`${b.url}/api/bookmarks`)).status).toBe(401);
    const signIn = await rawRequest(`${b.url}/`, { headers: { Accept: 'text/html' } });
    expect([signIn.status, signIn.headers.location]).toEqual([303, '/berth/']);
    // ?token= signs the tab in, as for the console, and lands on the app.
    const withToken = await rawRequest(`${b.url}/?token=${encodeURIComponent(b.token)}`, { headers: { Accept: 'text/html' } });
    expect([withToken.status, withToken.headers.location]).toEqual([303, '/']);

    expect(await (await fetch(`${b.url}/health`)).json()).toMatchObject({ app: 'berth', appId: 'dev.berth.bookmarks' });
    const status = await (await fetch(`${b.url}/api/status`, { headers: b.auth })).json();
    expect(status.hosted).toMatchObject({ id: 'dev.berth.bookmarks', name: 'Bookmarks', state: 'ready' });
    const consolePage = await rawRequest(`${b.url}/berth/`);
    expect(consolePage.status).toBe(200);
    expect(consolePage.body.toString()).toContain('<div id="app"');
    // The console's own files keep their paths, in front of the child.
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(consolePage.body.toString())![1]!;
    expect((await rawRequest(`${b.url}${asset}`)).status).toBe(200);
    // The child's output is in Berth's log.
    await waitFor(() => b.log().includes('bookmarks: serving on'), "the child's first line in Berth's log");
    expect(b.log()).toMatch(/POST "POST \/api\/bookmarks HTTP\/1\.1" 201/);
  });

  it('passes the request on as the browser sent it, without any Berth\'s sign-in cookie or token, and carries WebSockets', async () => {
    const echo = path.join(__dirname, 'fixtures', 'echo-server.mjs');
    for (const listen of ['unix', 'tcp'] as const) {
      const b = await hostedBerth(defineApp({ id: 'dev.berth.echo', name: 'Echo', version: '1.0.0', server: { command: process.execPath, args: [echo], listen } }));
      cleanups.push(b.stop);
      // Its own cookie, another Berth's on this host (the browser sends it to every port), and the portless name of older Berths.
      const cookies = `berth_token_${b.port}=${b.token}; theme=dark; berth_token_${b.port + 1}=other-berths-secret; berth_token=older-secret; berth_tokens=kept`;
      const res = await fetch(`${b.url}/some/path?q=1`, { method: 'POST', headers: { Cookie: cookies }, body: 'x' });
      expect(res.status).toBe(200);
      const seen = (await res.json()) as { method: string; url: string; headers: Record<string, string> };
      expect(seen).toMatchObject({ method: 'POST', url: '/some/path?q=1' });
      expect(seen.headers).toMatchObject({ host: `127.0.0.1:${b.port}`, cookie: 'theme=dark; berth_tokens=kept', 'x-forwarded-proto': 'http', 'x-forwarded-host': `127.0.0.1:${b.port}` });
      const bearer = (await (await fetch(`${b.url}/`, { headers: { Authorization: `Bearer ${b.token}` } })).json()) as { headers: Record<string, string> };
      expect(bearer.headers.authorization).toBeUndefined();
      expect(JSON.stringify(bearer.headers)).not.toContain(b.token);

      const ws = new WebSocket(`ws://127.0.0.1:${b.port}/socket`, { headers: { Cookie: cookies } });
      const replies = await new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        ws.on('open', () => {
          ws.send('hello');
          ws.send('cookie');
        });
        ws.on('message', (m: Buffer) => got.push(String(m)) === 2 && resolve(got));
        ws.on('error', (err: Error) => reject(new Error(`WebSocket through Berth failed (${listen}): ${err.message}`)));
      });
      ws.close();
      expect(replies).toEqual(['echo: hello', 'cookie: theme=dark; berth_tokens=kept']);
    }
  });

  it("keeps the child's hands off Berth's sign-in cookie: Set-Cookie for any Berth's name is dropped, once logged per child process", async () => {
    const echo = path.join(__dirname, 'fixtures', 'echo-server.mjs');
    const b = await hostedBerth(defineApp({ id: 'dev.berth.echo', name: 'Echo', version: '1.0.0', server: { command: process.execPath, args: [echo], listen: 'tcp' } }));
    cleanups.push(b.stop);
    await waitFor(() => b.berth.app!.child!.ready, 'the child server to be ready');
    const auth = { Authorization: `Bearer ${b.token}` };
    // This Berth's name, the portless one of older Berths, another port's, a case variant (a different cookie to a
    // browser, but one that reads as Berth's), a nameless one (sent back as its bare value, "berth_token_<port>=x"),
    // and the child's own cookie, which goes through.
    const planted = [`berth_token_${b.port}=x; Path=/`, 'berth_token=x', `berth_token_${b.port + 1}=x; Path=/berth`, `BERTH_TOKEN_${b.port}=x`, `=berth_token_${b.port}=x`, 'theme=dark; Path=/'];
    const query = `?${planted.map((c) => `set-cookie=${encodeURIComponent(c)}`).join('&')}`;
    const warnings = () => b.log().split('\n').filter((l) => l.includes("tried to set Berth's sign-in cookie")).length;
    for (let i = 0; i < 2; i++) {
      const res = await rawRequest(`${b.url}/prefs${query}`, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toEqual(['theme=dark; Path=/']);
    }
    // Only Berth's own cookie names: not all of them.
    const one = await rawRequest(`${b.url}/prefs?set-cookie=${encodeURIComponent(`berth_token_${b.port}=x`)}`, { headers: auth });
    expect(one.headers['set-cookie']).toBeUndefined();
    const mine = await rawRequest(`${b.url}/prefs?set-cookie=berth_tokens%3Dkept&set-cookie=my_berth_token%3Dkept`, { headers: auth });
    expect(mine.headers['set-cookie']).toEqual(['berth_tokens=kept', 'my_berth_token=kept']);
    // One line names what was dropped, for the lifetime of this child process: a child cannot fill Berth's log.
    expect(warnings()).toBe(1);
    expect(b.log()).toMatch(new RegExp(`Echo \\(pid \\d+\\) tried to set Berth's sign-in cookie \\(Set-Cookie berth_token_${b.port}, berth_token, berth_token_${b.port + 1}, BERTH_TOKEN_${b.port}\\)`));
    // The next child process gets its own line.
    expect((await fetch(`${b.url}/api/app/restart`, { method: 'POST', headers: auth })).status).toBe(202);
    await waitFor(() => b.berth.app!.child!.status().restarts === 1 && b.berth.app!.child!.ready, 'the restart');
    expect((await rawRequest(`${b.url}/prefs${query}`, { headers: auth })).headers['set-cookie']).toEqual(['theme=dark; Path=/']);
    expect(warnings()).toBe(2);

    // A WebSocket's handshake is answered by Berth, not the child: the child's Set-Cookie (which it does send, as
    // a direct connection shows) never reaches the browser.
    const handshake = async (url: string, headers: Record<string, string>) => {
      const ws = new WebSocket(url, { headers });
      let got: Record<string, unknown> = {};
      // Answered: the socket carries messages both ways, so the handshake is over.
      await new Promise<void>((resolve, reject) => {
        ws.on('upgrade', (res: { headers: Record<string, unknown> }) => (got = res.headers));
        ws.on('open', () => ws.send('hello'));
        ws.on('message', () => resolve());
        ws.on('error', reject);
      });
      ws.close();
      return got['set-cookie'];
    };
    const child = b.berth.app!.child!;
    expect(await handshake(`${child.upstream().origin.replace('http:', 'ws:')}/socket${query}`, { 'X-Berth-App-Secret': child.secret()! })).toHaveLength(planted.length);
    expect(await handshake(`ws://127.0.0.1:${b.port}/socket${query}`, auth)).toBeUndefined();
  });

  it('is out of reach of other local users: the socket folder refuses them, a loopback child refuses requests without the secret', async () => {
    const unix = await serving('unix');
    const sock = unix.berth.app!.child!.upstream().socketPath!;
    const asNobody = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', `require('net').connect(${JSON.stringify(sock)}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`], { encoding: 'utf8' });
    expect(asNobody.stdout.trim()).toBe('EACCES');

    const tcp = await serving('tcp');
    const { origin } = tcp.berth.app!.child!.upstream();
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await rawRequest(`${origin}/api/bookmarks`)).status).toBe(403);
    expect((await rawRequest(`${origin}/api/bookmarks`, { headers: { 'X-Berth-App-Secret': 'guess' } })).status).toBe(403);
    // Through Berth it works, and the secret is nowhere on the child's command line.
    expect((await rawRequest(`${tcp.url}/api/bookmarks`, { headers: tcp.auth })).status).toBe(200);
    const pid = tcp.berth.app!.child!.status().pid!;
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(tcp.berth.app!.child!.secret()!);
  });

  it('restarts of the child hold requests instead of refusing them: 10 restarts under keep-alive and new-connection load, 0 failed', async () => {
    const b = await serving();
    const load = startLoad({ port: b.port, paths: ['/api/bookmarks', '/healthz', '/'], headers: b.auth, keepAlive: 3, fresh: 3 });
    await load.ready;
    await load.progressed(50);
    const pids = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${b.url}/api/app/restart`, { method: 'POST', headers: b.auth });
      expect(res.status).toBe(202);
      await waitFor(() => b.berth.app!.child!.status().restarts === i + 1 && b.berth.app!.child!.ready, `restart ${i + 1}`);
      pids.add(b.berth.app!.child!.status().pid!);
      await load.progressed(20);
    }
    const s = await load.stop();
    console.log(`10 child restarts under load: ${s.requests} requests, latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, max ${s.latencyMs.max} ms (the longest a request was held)`);
    expect(s.failures).toEqual({});
    expect(s.failed).toBe(0);
    expect(pids.size).toBe(10);
    expect(b.berth.app!.child!.status()).toMatchObject({ restarts: 10, crashes: 0 });
  }, 180_000);

  it('a crash is restarted with backoff while requests wait, and the state says so', async () => {
    const b = await serving();
    const states: string[] = [];
    b.berth.app!.child!.on('change', (s) => states.push(s.state));
    const load = startLoad({ port: b.port, paths: ['/api/bookmarks'], headers: b.auth, keepAlive: 2, fresh: 2 });
    await load.ready;
    await load.progressed(20);
    const first = b.berth.app!.child!.status().pid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => b.berth.app!.child!.ready && b.berth.app!.child!.status().pid !== first, 'the child to be back');
    await load.progressed(20);
    const s = await load.stop();
    expect(states).toEqual(['crashed', 'starting', 'ready']);
    expect(b.berth.app!.child!.status()).toMatchObject({ crashes: 1, lastExit: { signal: 'SIGKILL', expected: false } });
    expect(b.log()).toMatch(/Bookmarks \(pid \d+\) exited unexpectedly \(signal SIGKILL\)/);
    // A request already with the child when it died may fail; none that arrived after.
    expect(s.failed).toBeLessThanOrEqual(4);
    expect(s.requests).toBeGreaterThan(40);
  }, 180_000);

  it('stops its child when Berth stops, and removes the socket', async () => {
    const b = await hostedBerth(bookmarks('unix'));
    await waitFor(() => b.berth.app!.child!.ready, 'ready');
    const pid = b.berth.app!.child!.status().pid!;
    const sock = b.berth.app!.child!.upstream().socketPath!;
    await b.berth.host.stopAndExit(0);
    await waitFor(() => b.berth.app!.child!.state === 'stopped', 'the child to stop');
    expect(() => process.kill(pid, 0)).toThrow();
    expect(fs.existsSync(sock)).toBe(false);
  });
});
