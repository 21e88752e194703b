import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostOfHeader, isAllowedHost, parseHostHeader, refusalOf, siteOf, tokenMatches } from '../../app/server/security';
import { RefusalLog } from '../../app/server/refusal';
import { memoryLogSink } from '../../app/log';
import { checkListenHost, exposureWarning, listenerOf } from '../../app/server/exposure';
import { classify, parseHealth } from '../../app/instance/verdict';
import { visible } from '../../app/terminal-text';
import type { ApiRoutes } from '../../app/server/web';
import { freePort, readToken, waitFor } from '../helpers';
import { makeHost } from './fixtures';
import type { ServerHost } from '../../app/lifecycle/host';

describe('security decisions (pure)', () => {
  it('Host allowlist: loopback names and the configured host only', () => {
    for (const ok of ['127.0.0.1:8787', 'localhost:8787', 'LOCALHOST', '[::1]:8787', '127.0.0.2']) expect(isAllowedHost(ok, '127.0.0.1'), ok).toBe(true);
    // Other spellings of loopback are refused: the list holds what a browser sends for Berth's own links.
    for (const bad of ['evil.test', 'localhost.evil.test:8787', '127.0.0.1.evil.test', '[::1].evil.test', '[::ffff:7f00:1]x', '[0:0:0:0:0:0:0:1]:8787', '[::ffff:7f00:1]:8787', '[::ffff:127.0.0.1]:8787', '127.0.0.1%x:8787', '', undefined, 'a b', '127.0.0.1:8787:1'])
      expect(isAllowedHost(bad, '127.0.0.1'), String(bad)).toBe(false);
    expect(isAllowedHost('192.168.1.20:8787', '192.168.1.20')).toBe(true);
    expect(isAllowedHost('192.168.1.21:8787', '192.168.1.20')).toBe(false);
    // A wildcard bind admits the machine's own IP literals, never names.
    expect(isAllowedHost('10.0.0.5:8787', '0.0.0.0')).toBe(true);
    expect(isAllowedHost('myhost.lan:8787', '0.0.0.0')).toBe(false);
    expect(hostOfHeader('[::1]:80')).toBe('::1');
  });

  it('strict Host parsing: what no browser sends is malformed; the spellings browsers send are kept', () => {
    for (const bad of ['127.999.0.1', '127.1', '2130706433', '0x7f.0.0.1', '0127.0.0.1', '127.0.0.1.', 'localhost:99999', 'localhost:0', 'localhost:', 'localhost:08787', '[::1%eth0]', '[::1]x', '[::1', '::1', 'a b', 'localhost:8787@evil.test', '', undefined])
      expect(parseHostHeader(bad), String(bad)).toBeNull();
    expect(parseHostHeader('LOCALHOST:8787')).toEqual({ host: 'localhost', port: 8787 });
    expect(parseHostHeader('[::1]')).toEqual({ host: '::1', port: null });
    expect(parseHostHeader('127.0.0.2:65535')).toEqual({ host: '127.0.0.2', port: 65535 });
    expect(parseHostHeader('localhost.:1')).toEqual({ host: 'localhost.', port: 1 });
    expect(parseHostHeader('my-host.lan')).toEqual({ host: 'my-host.lan', port: null });
  });

  it('refusals before any route: one well-formed Host of ours, a matching absolute target, an Origin with our scheme and port', () => {
    const head = (over: Partial<{ method: string; url: string; hosts: string[]; origin: string }>) => ({
      method: over.method ?? 'GET',
      url: over.url ?? '/health',
      rawHeaders: (over.hosts ?? ['127.0.0.1:8787']).flatMap((h) => ['Host', h]),
      origin: over.origin,
    });
    const status = (over: Parameters<typeof head>[0]) => refusalOf(head(over), '127.0.0.1')?.status ?? 200;
    expect(status({})).toBe(200);
    expect(status({ hosts: ['127.0.0.1:8787', '127.0.0.1:8787'] })).toBe(400);
    expect(status({ hosts: ['127.0.0.1:8787', 'evil.test'] })).toBe(400);
    expect(status({ hosts: [] })).toBe(421);
    expect(status({ hosts: ['127.999.0.1:8787'] })).toBe(400);
    expect(status({ hosts: ['evil.test'] })).toBe(421);
    expect(status({ url: 'http://evil.test/health' })).toBe(400);
    expect(status({ url: 'https://127.0.0.1:8787/health' })).toBe(400);
    expect(status({ url: 'http://127.0.0.1:8787/health' })).toBe(200);
    expect(status({ url: 'http://127.0.0.1/health', hosts: ['127.0.0.1:80'] })).toBe(200);
    expect(status({ method: 'OPTIONS', url: '*' })).toBe(200);
    expect(status({ origin: 'https://127.0.0.1:8787' })).toBe(400);
    expect(status({ origin: 'http://127.0.0.1:9999' })).toBe(400);
    expect(status({ origin: 'http://evil.test' })).toBe(400);
    expect(status({ origin: '::::' })).toBe(400);
    // Same scheme and port: only the host differs, which the cross-site check (403) judges.
    expect(status({ origin: 'http://evil.test:8787' })).toBe(200);
    expect(status({ origin: 'http://127.0.0.1:8787' })).toBe(200);
    expect(status({ origin: 'http://localhost', hosts: ['localhost'] })).toBe(200);
    expect(status({ origin: 'null' })).toBe(200);
  });

  it('refusals are logged at most once an interval, with their count', async () => {
    const sink = memoryLogSink();
    const log = new RefusalLog(sink.root, 50);
    for (let i = 0; i < 1000; i++) log.note(i % 2 ? '401 (no valid token)' : 'a handoff probe without a valid proof');
    const lines = () => sink.ring.tail(100, 'warn').map((e) => e.msg);
    expect(lines()).toEqual(['refused a handoff probe without a valid proof; more refusals are counted and logged at most once every 0 s']);
    await waitFor(() => lines().length === 2, 'the interval to end');
    expect(lines()[1]).toMatch(/^refused 999 more in the last \d+ s: 500 × 401 \(no valid token\), 499 × a handoff probe without a valid proof$/);
    // A quiet interval ends the spell: the next refusal is logged at once again, and close() writes what is counted.
    await waitFor(() => !log.counting, 'a quiet interval');
    log.note('x');
    log.note('x');
    log.close();
    expect(lines().slice(2)).toEqual(['refused x; more refusals are counted and logged at most once every 0 s', expect.stringMatching(/^refused 1 more in the last \d+ s: 1 × x$/)]);
  });

  it('cross-site: Sec-Fetch-Site first, then Origin against Host; no header means a non-browser client', () => {
    expect(siteOf({ 'sec-fetch-site': 'same-origin' })).toBe('same-origin');
    expect(siteOf({ 'sec-fetch-site': 'none' })).toBe('same-origin');
    expect(siteOf({ 'sec-fetch-site': 'same-site' })).toBe('cross-site');
    expect(siteOf({ 'sec-fetch-site': 'cross-site', origin: 'http://127.0.0.1:8787', host: '127.0.0.1:8787' })).toBe('cross-site');
    expect(siteOf({ origin: 'http://127.0.0.1:8787', host: '127.0.0.1:8787' })).toBe('same-origin');
    expect(siteOf({ origin: 'http://evil.test', host: '127.0.0.1:8787' })).toBe('cross-site');
    expect(siteOf({ origin: 'null', host: '127.0.0.1:8787' })).toBe('cross-site');
    expect(siteOf({ host: '127.0.0.1:8787' })).toBe('unknown');
  });

  it('tokens compare exactly', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
  });
});

describe('security at the server', () => {
  let host: ServerHost;
  let port: number;
  let token: string;
  let base: string;
  beforeAll(async () => {
    port = await freePort();
    host = await makeHost(port);
    await host.start();
    token = readToken(host.status().dataDir);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => host.stop());

  /** Raw HTTP so the Host header and malformed input are ours to choose. */
  function raw(request: string): Promise<string> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
      s.write(request);
      setTimeout(() => s.end(), 300);
    });
  }

  it('state-changing endpoints need the token', async () => {
    expect((await fetch(`${base}/api/restart`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${base}/api/restart`, { method: 'POST', headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    const body = await (await fetch(`${base}/api/status`)).json();
    expect(body.message).toContain('berth open');
    const ok = await fetch(`${base}/api/status`, { headers: { Authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
  });

  it('?token= becomes an HttpOnly SameSite=Strict cookie and leaves the address bar', async () => {
    const res = await fetch(`${base}/?token=${token}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^berth_token_${port}=[^;]+; Path=/; HttpOnly; SameSite=Strict$`));
    const withCookie = await fetch(`${base}/api/status`, { headers: { Cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    const wrong = await fetch(`${base}/?token=nope`, { redirect: 'manual' });
    expect(wrong.headers.get('set-cookie')).toBeNull();
  });

  it('the cookie is named for the port; another Berth cookie name with this token (a move, an older Berth) signs in and is set again under this port', async () => {
    const session = async (cookie: string, extra: Record<string, string> = {}) => {
      const res = await fetch(`${base}/api/session`, { headers: { Cookie: cookie, ...extra } });
      return { authenticated: ((await res.json()) as { authenticated: boolean }).authenticated, setCookie: res.headers.get('set-cookie') };
    };
    // Its own name: signed in, nothing set again.
    expect(await session(`berth_token_${port}=${token}`)).toEqual({ authenticated: true, setCookie: null });
    // The port it moved from, and the portless name of Berths before this one: signed in, and given its own name.
    for (const other of [`berth_token_${port + 1}`, 'berth_token']) {
      const seen = await session(`theme=dark; ${other}=${encodeURIComponent(token)}`);
      expect(seen.authenticated, other).toBe(true);
      expect(seen.setCookie, other).toBe(`berth_token_${port}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
    }
    // Another Berth's token under this port's name or any other is no sign-in, and nothing is set.
    expect(await session(`berth_token_${port}=${'x'.repeat(43)}; berth_token_${port + 1}=${'y'.repeat(43)}`)).toEqual({ authenticated: false, setCookie: null });
    // Only Berth cookie names count: the token under another name is not a sign-in.
    expect(await session(`berth_token_x=${token}; my_berth_token_${port}=${token}`)).toEqual({ authenticated: false, setCookie: null });
    // A bearer token, when sent, is the whole answer, as before.
    expect((await session(`berth_token_${port}=${token}`, { Authorization: 'Bearer wrong' })).authenticated).toBe(false);
    expect((await fetch(`${base}/api/status`, { headers: { Cookie: `berth_token=${token}` } })).status).toBe(200);
  });

  it('refuses Host headers that are not ours (DNS rebinding) with 421', async () => {
    for (const h of ['evil.test', 'localhost.evil.test', `127.0.0.1.evil.test:${port}`]) {
      expect(await raw(`GET /health HTTP/1.1\r\nHost: ${h}\r\nConnection: close\r\n\r\n`), h).toMatch(/^HTTP\/1\.1 421/);
    }
    expect(await raw(`GET /health HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 200/);
  });

  it('refuses cross-site state-changing requests even with a valid cookie', async () => {
    const cookie = `berth_token_${port}=${token}`;
    const crossOrigin = await fetch(`${base}/api/restart`, { method: 'POST', headers: { Cookie: cookie, Origin: `http://evil.test:${port}` } });
    expect(crossOrigin.status).toBe(403);
    // Another port or scheme is not Berth's origin at all: malformed for Berth (400), whatever the host.
    for (const origin of ['http://evil.test', `https://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`]) {
      expect((await fetch(`${base}/api/restart`, { method: 'POST', headers: { Cookie: cookie, Origin: origin } })).status, origin).toBe(400);
    }
    const crossFetch = await fetch(`${base}/api/restart`, { method: 'POST', headers: { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site' } });
    expect(crossFetch.status).toBe(403);
    expect(host.status().history.filter((h) => h.kind === 'restart')).toHaveLength(0);
  });

  it('malformed requests and oversized headers get 4xx while the server keeps serving', async () => {
    expect(await raw('THIS IS NOT HTTP\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect(await raw('GET /health HTTP/1.1\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/); // no Host at all
    const big = await fetch(`${base}/api/settings`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    const bad = await fetch(`${base}/api/settings`, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"port":' });
    expect(bad.status).toBe(400);
    const invalid = await fetch(`${base}/api/settings`, { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ port: 70000 }) });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).errors).toEqual([{ field: 'port', message: 'Port must be between 1 and 65535' }]);
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('static files: no traversal out of the UI folder', async () => {
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/%2e%2e%2f%2e%2e%2fetc%2fpasswd']) {
      const out = await raw(`GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(out, p).toMatch(/^HTTP\/1\.1 (400|403|404)/);
      expect(out).not.toContain('"name": "berth"');
    }
  });

  it('pages carry a strict Content-Security-Policy', async () => {
    const res = await fetch(`${base}/`, { headers: { Accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('sign-in before work', () => {
  let host: ServerHost;
  let port: number;
  let token: string;
  /** Bodies Fastify began to read for /api routes: counted where parsing starts. */
  const seen = { preParsing: 0 };
  const counter: ApiRoutes = (api) => {
    api.addHook('preParsing', async () => {
      seen.preParsing++;
    });
  };
  beforeAll(async () => {
    port = await freePort();
    host = await makeHost(port, { routes: [counter] });
    await host.start();
    token = readToken(host.status().dataDir);
  });
  afterAll(() => host.stop());

  const nested = '['.repeat(512 * 1024) + ']'.repeat(512 * 1024);

  it('a 1 MB deeply nested JSON body without the token gets 401 before the body is read, on every route that needs the token', async () => {
    for (const [method, path] of [
      ['PUT', '/api/settings'],
      ['POST', '/api/restart'],
      ['POST', '/api/stop'],
      ['GET', '/api/status'],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'GET' ? undefined : nested });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect(seen.preParsing).toBe(0);
    expect(host.status().history.filter((h) => h.kind === 'restart')).toHaveLength(0);
    // Control: with the token the same body is read (and refused for what it is).
    const signed = await fetch(`http://127.0.0.1:${port}/api/settings`, { method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: nested });
    expect(signed.status).toBe(400);
    expect(seen.preParsing).toBe(1);
  });
});

describe('text from the network, on a terminal', () => {
  it('control characters, escape sequences, line breaks and direction marks become visible escapes', () => {
    expect(visible('ok \x1b[2J\x1b]0;t\x07 \r\n\t\x9b1m \u202e')).toBe('ok \\x1b[2J\\x1b]0;t\\x07 \\r\\n\\t\\x9b1m \\u202e');
    expect(visible('plain text, with "quotes" and ünïcode')).toBe('plain text, with "quotes" and ünïcode');
    expect(visible('x'.repeat(10), 4)).toBe('xxxx…');
  });

  it('a foreign status line and Server header are escaped where the verdict is made', () => {
    const v = classify({ kind: 'http', statusCode: 404, statusLine: 'HTTP/1.1 404 \x1b[31mNo', server: 'evil\x1b]0;x\x07', body: '' }, { url: 'http://127.0.0.1:1' });
    expect(v).toMatchObject({ verdict: 'foreign', statusLine: 'HTTP/1.1 404 \\x1b[31mNo', server: 'evil\\x1b]0;x\\x07' });
    expect(v.verdict === 'foreign' && v.what).toBe('another web server: "HTTP/1.1 404 \\x1b[31mNo" (Server: evil\\x1b]0;x\\x07)');
    const fake = parseHealth(JSON.stringify({ app: 'berth', version: '1\x1b[2J', pid: 1, instance: 'i\n', state: 'serving', startedAt: 'now' }));
    expect(fake).toMatchObject({ version: '1\\x1b[2J', instance: 'i\\n' });
  });
});

describe('listening beyond loopback (decisions)', () => {
  const interfaces = () => ({
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    eth0: [
      { address: '192.168.1.20', family: 'IPv4', internal: false },
      { address: 'fe80::1', family: 'IPv6', internal: false },
    ],
  }) as never;
  const lookup = (table: Record<string, string[]>) => async (h: string) => {
    if (!table[h]) throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
    return table[h]!;
  };

  it('a host name must resolve only to addresses of this machine', async () => {
    const deps = { interfaces, lookup: lookup({ 'me.lan': ['192.168.1.20'], 'loop.lan': ['127.0.1.1'], 'evil.test': ['203.0.113.9', '127.0.0.1'] }) };
    expect(await checkListenHost('me.lan', deps)).toEqual({ exposed: true, addresses: ['192.168.1.20'] });
    expect(await checkListenHost('loop.lan', deps)).toEqual({ exposed: false, addresses: ['127.0.1.1'] });
    await expect(checkListenHost('evil.test', deps)).rejects.toThrow(/Host evil\.test resolves to 203\.0\.113\.9, which is not an address of this machine/);
    await expect(checkListenHost('gone.test', deps)).rejects.toThrow(/could not be resolved \(ENOTFOUND\)/);
    await expect(checkListenHost('192.0.2.1', deps)).rejects.toMatchObject({ exitCode: 2 });
    expect(await checkListenHost('0.0.0.0', deps)).toEqual({ exposed: true, addresses: ['192.168.1.20'] });
    expect(await checkListenHost('127.0.0.1', deps)).toEqual({ exposed: false, addresses: ['127.0.0.1'] });
  });

  it('the status reports the real listening address and whether it is exposed', () => {
    const server = (address: string, family: string) => ({ listening: true, address: () => ({ address, family, port: 8787 }) }) as never;
    expect(listenerOf(server('0.0.0.0', 'IPv4'), '0.0.0.0', 8787)).toEqual({ exposed: true, listenAddress: '0.0.0.0:8787' });
    expect(listenerOf(server('::', 'IPv6'), '::', 8787)).toEqual({ exposed: true, listenAddress: '[::]:8787' });
    expect(listenerOf(server('127.0.0.1', 'IPv4'), '127.0.0.1', 8787)).toEqual({ exposed: false, listenAddress: '127.0.0.1:8787' });
    expect(listenerOf(null, 'localhost', 8787)).toEqual({ exposed: false, listenAddress: 'localhost:8787' });
    expect(exposureWarning({ host: '0.0.0.0', port: 8787, hostFrom: 'the settings file', remoteAllowedBy: '"allowRemote": true in /d/settings.json' }, { exposed: true, addresses: ['192.168.1.20'] })).toBe(
      'Berth listens on every address of this machine (0.0.0.0) port 8787 (from the settings file, allowed by "allowRemote": true in /d/settings.json): other machines on your network can reach it at http://192.168.1.20:8787. Every change still needs the sign-in token.',
    );
  });

  it('a server on loopback says so in its status', async () => {
    const port = await freePort();
    const host = await makeHost(port);
    await host.start();
    try {
      expect(host.status()).toMatchObject({ exposed: false, listenAddress: `127.0.0.1:${port}` });
    } finally {
      await host.stop();
    }
  });
});
