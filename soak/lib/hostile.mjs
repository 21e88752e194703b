// Hostile input against a running Berth, over raw sockets (node:net) so that
// nothing normalizes the bytes on the way: each case names the status Berth
// must answer, and after every group the same server must still be serving.
import net from 'node:net';
import { health, rawExchange, sleep, summarize } from './common.mjs';

const CRLF = '\r\n';

function req(method, target, headers, body = '') {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers, '', ''];
  return lines.join(CRLF) + body;
}

const LEAKS = [/root:.*:0:0:/, /"name":\s*"berth"/, /node_modules/];

/**
 * The cases. `expect` is the status Berth must answer (a list when more than
 * one is right, e.g. 400 or 505 for a version Node will not parse).
 */
function cases(port, token) {
  const host = `Host: 127.0.0.1:${port}`;
  const auth = `Authorization: Bearer ${token}`;
  const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  const list = [];
  const add = (group, name, parts, expect, extra = {}) => list.push({ group, name, parts: Array.isArray(parts) ? parts : [parts], expect: [expect].flat(), ...extra });

  // Malformed requests.
  add('malformed', 'garbage request line', 'HELLO THERE\r\n\r\n', 400);
  add('malformed', 'binary junk', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), 400);
  add('malformed', 'unknown HTTP version', `GET /health HTTP/3.7${CRLF}${host}${CRLF}${CRLF}`, [400, 505]);
  add('malformed', 'header line without colon', req('GET', '/health', [host, 'NoColonHere']), 400);
  add('malformed', 'NUL in a header value', req('GET', '/health', [host, 'X-A: a\0b']), 400);
  add('malformed', 'Content-Length and Transfer-Encoding (smuggling)', req('POST', '/api/restart', [host, auth, 'Content-Length: 4', 'Transfer-Encoding: chunked'], '0\r\n\r\n'), 400);
  add('malformed', 'two different Content-Lengths', req('POST', '/api/restart', [host, auth, 'Content-Length: 1', 'Content-Length: 2'], 'xx'), 400);
  add('malformed', 'non-numeric Content-Length', req('POST', '/api/restart', [host, auth, 'Content-Length: 1x'], 'x'), 400);
  add('malformed', 'missing Host (HTTP/1.1)', `GET /health HTTP/1.1${CRLF}${CRLF}`, 400);

  // Oversized.
  add('oversized', 'one 32 KiB header', req('GET', '/health', [host, `X-Big: ${'a'.repeat(32 * 1024)}`]), 431);
  add('oversized', '400 headers of 64 bytes', req('GET', '/health', [host, ...Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(60)}`)]), 431);
  add('oversized', '2 MiB body declared (settings)', req('PUT', '/api/settings', [host, auth, 'Content-Type: application/json', `Content-Length: ${2 * 1024 * 1024}`], '{"a":"'), 413);
  add(
    'oversized',
    '1.2 MiB chunked body (settings)',
    // Paced like a real upload, so the client reads the 413 before it sends more: a server that closes
    // with unread data resets the connection, and a reset can discard a reply not read yet.
    [req('PUT', '/api/settings', [host, auth, 'Content-Type: application/json', 'Transfer-Encoding: chunked']), ...Array.from({ length: 20 }, () => [`10000\r\n${'x'.repeat(0x10000)}\r\n`, 5]).flat(), '0\r\n\r\n'],
    413,
  );
  add('oversized', 'body that is not JSON (settings)', req('PUT', '/api/settings', [host, auth, 'Content-Type: application/json', 'Content-Length: 9'], '{"port":,'), 400);
  add('oversized', '8 KiB URL of dot segments', req('GET', '/' + '../'.repeat(2700) + 'etc/passwd', [host]), [400, 403, 404, 414, 431]);

  // Static files: traversal, encoded traversal, dotfiles.
  const traversal = [
    ['plain ../', '/../../../../../../etc/passwd'],
    ['encoded %2e%2e', '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd'],
    ['encoded slash ..%2f', '/..%2f..%2f..%2f..%2fetc%2fpasswd'],
    ['double-encoded %252e', '/%252e%252e/%252e%252e/%252e%252e/etc/passwd'],
    ['mixed .%2e', '/.%2e/.%2e/.%2e/package.json'],
    ['backslashes', '/..\\..\\..\\package.json'],
    ['encoded backslash %5c', '/assets/..%5c..%5c..%5cpackage.json'],
    ['from assets/ up to package.json', '/assets/..%2f..%2f..%2fpackage.json'],
    ['NUL byte', '/index.html%00.png'],
    ['overlong UTF-8 dot', '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd'],
  ];
  for (const [name, target] of traversal) add('traversal', name, req('GET', target, [host, 'Accept: */*']), [400, 403, 404], { leakCheck: true });
  add('traversal', 'dotfile', req('GET', '/.env', [host, 'Accept: */*']), [403, 404], { leakCheck: true });
  add('traversal', 'absolute-form target to another host', req('GET', 'http://evil.test/etc/passwd', [host, 'Accept: */*']), [400, 404, 421], { leakCheck: true });

  // DNS rebinding: the Host header names somewhere else.
  // A well-formed name or address that is not Berth's is misdirected (421); a Host no browser would send is malformed (400).
  const hosts = [
    ['localhost.evil.test', 'localhost.evil.test', 421],
    ['127.0.0.1.evil.test', `127.0.0.1.evil.test:${port}`, 421],
    ['evil.test', 'evil.test', 421],
    ['[::1].evil.test', `[::1].evil.test:${port}`, 400],
    ['::1 without brackets', '::1', 400],
    ['[::ffff:127.0.0.1] (IPv4-mapped)', `[::ffff:127.0.0.1]:${port}`, 421],
    ['[::1] with a bad port', '[::1]:abc', 400],
    ['localhost@evil.test', `localhost:${port}@evil.test`, 400],
    ['localhost. (trailing dot)', `localhost.:${port}`, 421],
    ['127.0.0.1 decimal (2130706433)', `2130706433:${port}`, 400],
    ['0.0.0.0', `0.0.0.0:${port}`, 421],
  ];
  for (const [name, value, status] of hosts) add('rebinding', `Host: ${name}`, req('GET', '/health', [`Host: ${value}`]), status);
  add('rebinding', 'empty Host', req('GET', '/health', ['Host: ']), 400);
  add('rebinding', 'HTTP/1.0 without Host', `GET /health HTTP/1.0${CRLF}${CRLF}`, 421);
  add('rebinding', 'control: Host 127.0.0.1', req('GET', '/health', [host]), 200);
  add('rebinding', 'control: Host [::1]', req('GET', '/health', [`Host: [::1]:${port}`]), 200);
  add('rebinding', 'control: Host localhost', req('GET', '/health', [`Host: localhost:${port}`]), 200);

  // Cross-site requests carry the valid token and aim at /api/stop: if one got through, the server would stop.
  const stop = (headers, body = '') => req('POST', '/api/stop', [host, ...headers, `Content-Length: ${body.length}`], body);
  // An Origin on another port is refused as malformed (400, see 'strict'); one that differs only in its host, as cross-site (403).
  add('cross-site', 'Origin http://evil.test (token valid)', stop([auth, 'Origin: http://evil.test']), [400, 403]);
  add('cross-site', 'Origin null (sandboxed frame)', stop([auth, 'Origin: null']), 403);
  add('cross-site', 'Sec-Fetch-Site cross-site, no Origin', stop([auth, 'Sec-Fetch-Site: cross-site']), 403);
  add('cross-site', 'Sec-Fetch-Site same-site, no Origin', stop([auth, 'Sec-Fetch-Site: same-site']), 403);
  add('cross-site', 'Origin on another local port', stop([auth, `Origin: http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}`]), 400);
  add('cross-site', 'Origin localhost.evil.test', stop([auth, `Origin: http://localhost.evil.test:${port}`]), 403);
  add('cross-site', 'unparsable Origin', stop([auth, 'Origin: ::::']), 400);
  add('cross-site', 'form post, Origin evil, no token', stop(['Origin: http://evil.test', 'Content-Type: application/x-www-form-urlencoded'], 'a=1'), [400, 403]);
  add('cross-site', 'settings PUT, Origin evil, same port', req('PUT', '/api/settings', [host, auth, `Origin: http://evil.test:${port}`, 'Content-Type: application/json', 'Content-Length: 2'], '{}'), 403);
  add('cross-site', 'no Origin, no Sec-Fetch-Site, no token', stop([]), 401);
  add('cross-site', 'control: same-origin settings PUT with token', req('PUT', '/api/settings', [host, auth, `Origin: http://127.0.0.1:${port}`, 'Sec-Fetch-Site: same-origin', 'Content-Type: application/json', 'Content-Length: 2'], '{}'), 200);

  // Strict parsing: what no browser sends, even one whose DNS an attacker rebinds, is malformed (400).
  const other = port === 65535 ? port - 1 : port + 1;
  add('strict', 'Host: 127.999.0.1 (not an IP address)', req('GET', '/health', [`Host: 127.999.0.1:${port}`]), 400);
  add('strict', 'Host: 127.1 (shorthand IPv4)', req('GET', '/health', [`Host: 127.1:${port}`]), 400);
  add('strict', 'Host: localhost:99999 (port out of range)', req('GET', '/health', ['Host: localhost:99999']), 400);
  add('strict', 'Host: localhost:0', req('GET', '/health', ['Host: localhost:0']), 400);
  add('strict', 'Host: [::1%eth0] (zone id)', req('GET', '/health', [`Host: [::1%eth0]:${port}`]), 400);
  add('strict', 'two Host headers (same value)', req('GET', '/health', [host, host]), 400);
  add('strict', 'two Host headers (ours, then evil.test)', req('GET', '/health', [host, 'Host: evil.test']), 400);
  add('strict', 'absolute-form target naming evil.test', req('GET', 'http://evil.test/health', [host]), 400);
  add('strict', 'absolute-form https target', req('GET', `https://127.0.0.1:${port}/health`, [host]), 400);
  add('strict', 'Origin https://127.0.0.1 (same host, wrong scheme; token valid)', req('PUT', '/api/settings', [host, auth, `Origin: https://127.0.0.1:${port}`, 'Content-Type: application/json', 'Content-Length: 2'], '{}'), 400);
  add('strict', 'Origin on another port, GET /health', req('GET', '/health', [host, `Origin: http://127.0.0.1:${other}`]), 400);
  add('strict', 'control: absolute-form target naming Berth', req('GET', `http://127.0.0.1:${port}/health`, [host]), 200);
  add('strict', 'control: Host LOCALHOST (upper case)', req('GET', '/health', [`Host: LOCALHOST:${port}`]), 200);
  add('strict', 'control: Host 127.0.0.2', req('GET', '/health', [`Host: 127.0.0.2:${port}`]), 200);
  add('strict', 'control: Host [::1] without a port', req('GET', '/health', ['Host: [::1]']), 200);
  add('strict', 'control: same-origin Origin on GET', req('GET', '/health', [host, `Origin: http://127.0.0.1:${port}`]), 200);

  // Refused before reading: every refusal closes the connection, and the body is never waited for.
  const closing = { closes: true };
  add('refuse', '401 closes the connection', req('POST', '/api/stop', [host, 'Content-Length: 0']), 401, closing);
  add('refuse', '403 closes the connection', stop([auth, `Origin: http://evil.test:${port}`]), 403, closing);
  add('refuse', '421 closes the connection', req('GET', '/health', ['Host: evil.test']), 421, closing);
  add('refuse', '400 closes the connection', req('GET', '/health', ['Host: localhost:99999']), 400, closing);
  add('refuse', '2 MiB declared with Expect: 100-continue (settings): 413 and no 100 Continue', req('PUT', '/api/settings', [host, auth, 'Content-Type: application/json', 'Expect: 100-continue', `Content-Length: ${2 * 1024 * 1024}`]), 413, { ...closing, firstStatus: 413 });
  add('refuse', 'no token with Expect: 100-continue: 401 and no 100 Continue', req('PUT', '/api/settings', [host, 'Content-Type: application/json', 'Expect: 100-continue', 'Content-Length: 1000']), 401, { ...closing, firstStatus: 401 });
  add('refuse', 'GET /health declaring a 300 MB body: refused from its headers', req('GET', '/health', [host, `Content-Length: ${300 * 1024 * 1024}`]), 413, closing);
  add('refuse', 'GET /health while its 100-byte body is still arriving: answered, then closed', req('GET', '/health', [host, 'Content-Length: 100'], '0123456789'), 200, closing);

  // Tokens.
  const status = (headers) => req('GET', '/api/status', [host, ...headers]);
  add('token', 'no token', status([]), 401);
  add('token', 'wrong Bearer', status([`Authorization: Bearer ${'A'.repeat(43)}`]), 401);
  add('token', 'right token but last char changed', status([`Authorization: Bearer ${wrong}`]), 401);
  add('token', 'token prefix only', status([`Authorization: Bearer ${token.slice(0, 20)}`]), 401);
  add('token', 'token plus one char', status([`Authorization: Bearer ${token}x`]), 401);
  add('token', 'empty Bearer', status(['Authorization: Bearer ']), 401);
  add('token', 'Basic scheme with the token', status([`Authorization: Basic ${token}`]), 401);
  add('token', 'token in the query (API)', req('GET', `/api/status?token=${token}`, [host]), 401);
  add('token', 'wrong cookie', status([`Cookie: berth_token_${port}=${wrong}`]), 401);
  add('token', 'wrong cookie under another Berth\'s name', status([`Cookie: berth_token_${port + 1}=${wrong}; berth_token=${wrong}`]), 401);
  add('token', 'the token under a name that is no Berth cookie', status([`Cookie: berth_tokenx=${token}`]), 401);
  add('token', 'cookie with broken %-encoding', status([`Cookie: berth_token_${port}=%E0%A4%A`]), 401);
  add('token', '8 KiB Bearer', status([`Authorization: Bearer ${'z'.repeat(8192)}`]), 401);
  add('token', 'control: right Bearer', status([auth]), 200);

  // Sign-in before work: a request without the token is refused before its body is read. Only the first
  // 64 KiB of a declared 1 MiB body of nested arrays is sent, so a server that waited for the body (to
  // parse it) would not answer at all, and the case would time out.
  const nested = '['.repeat(64 * 1024);
  const unsigned = (method, target) => req(method, target, [host, 'Content-Type: application/json', `Content-Length: ${1024 * 1024}`], nested);
  add('sign-in', '1 MiB nested JSON, no token, body still arriving: PUT /api/settings', unsigned('PUT', '/api/settings'), 401, { timeoutMs: 10_000 });
  add('sign-in', '1 MiB nested JSON, no token, body still arriving: POST /api/update/check', unsigned('POST', '/api/update/check'), 401, { timeoutMs: 10_000 });
  add('sign-in', '1 MiB nested JSON, no token, body still arriving: POST /api/stop', unsigned('POST', '/api/stop'), 401, { timeoutMs: 10_000 });
  add('sign-in', '1 MiB nested JSON, wrong cookie, body still arriving: PUT /api/settings', req('PUT', '/api/settings', [host, `Cookie: berth_token_${port}=${wrong}`, 'Content-Type: application/json', `Content-Length: ${1024 * 1024}`], nested), 401, { timeoutMs: 10_000 });

  // Sign-in links must not turn into a redirect to another site.
  for (const [name, target] of [
    ['//evil.test', '//evil.test/?token=x'],
    ['/.//evil.test', '/.//evil.test/?token=x'],
    ['/\\evil.test', '/\\evil.test/?token=x'],
    ['/%2f%2fevil.test', '/%2f%2fevil.test?token=x'],
  ]) {
    add('redirect', `?token= on ${name}`, req('GET', target, [host, 'Accept: text/html']), 303, { sameOriginRedirect: true });
  }
  return list;
}

function judge(c, r) {
  const problems = [];
  if (!c.expect.includes(r.status)) problems.push(`got ${r.status ?? r.why}`);
  const head = r.text.slice(0, Math.max(0, r.text.indexOf('\r\n\r\n')));
  if (c.closes && !/\r\nconnection:\s*close/i.test(head)) problems.push('no Connection: close');
  if (c.firstStatus && !r.text.startsWith(`HTTP/1.1 ${c.firstStatus}`)) problems.push(`first answer "${r.text.split('\r\n', 1)[0]}"`);
  if (c.leakCheck && LEAKS.some((re) => re.test(r.text))) problems.push('LEAKED file content');
  if (c.sameOriginRedirect) {
    const loc = /\r\nlocation:\s*([^\r\n]*)/i.exec(r.text)?.[1] ?? '';
    if (!loc.startsWith('/') || loc.startsWith('//') || loc.startsWith('/\\')) problems.push(`Location "${loc}" leaves the origin`);
  }
  return problems;
}

/** Slow clients: headers or body a byte at a time. Berth must time them out, and serve others meanwhile. */
async function slowClients(port, token, { count, slowBody }) {
  const host = `Host: 127.0.0.1:${port}`;
  const drip = (text, everyMs) => text.split('').flatMap((ch) => [ch, everyMs]);
  const headerDrip = () => rawExchange({ port, parts: [`GET /health HTTP/1.1${CRLF}`, ...drip(`${host}${CRLF}X-Slow: ${'s'.repeat(400)}`, 500)], timeoutMs: 60_000, stopAfterResponse: false });
  const bodyDrip = () =>
    rawExchange({
      port,
      parts: [req('PUT', '/api/settings', [host, `Authorization: Bearer ${token}`, 'Content-Type: application/json', 'Content-Length: 500']), ...drip('{"launchAtLogin":' + ' '.repeat(400), 500)],
      timeoutMs: 60_000,
      stopAfterResponse: false,
    });
  const t0 = performance.now();
  const slow = [...Array.from({ length: count }, headerDrip), ...(slowBody ? [bodyDrip()] : [])];
  // Meanwhile, ordinary requests keep being answered.
  const latencies = [];
  let failures = 0;
  let done = false;
  const all = Promise.all(slow).then((r) => ((done = true), r));
  while (!done) {
    const t = performance.now();
    if (await health(port)) latencies.push(performance.now() - t);
    else failures++;
    await sleep(100);
  }
  const results = await all;
  const headerResults = results.slice(0, count);
  const rows = [
    {
      group: 'slow',
      name: `slowloris: ${count} connections dripping headers`,
      expect: [408],
      status: headerResults.every((r) => r.status === 408) ? 408 : headerResults.map((r) => r.status ?? r.why).join(','),
      ok: headerResults.every((r) => r.status === 408 && r.closedByServer),
      detail: `all cut after ${summarize(headerResults.map((r) => r.ms)).max} ms; others served meanwhile: ${latencies.length} ok / ${failures} failed, p99 ${summarize(latencies).p99} ms`,
      othersOk: failures === 0 && latencies.length > 0,
    },
  ];
  if (slowBody) {
    const b = results[count];
    rows.push({ group: 'slow', name: 'slow body (a byte every 500 ms)', expect: [408], status: b.status ?? b.why, ok: b.status === 408 && b.closedByServer, detail: `cut after ${b.ms} ms` });
  }
  rows.forEach((r) => (r.ok = r.ok && (r.othersOk ?? true)));
  return { rows, ms: Math.round(performance.now() - t0) };
}

/**
 * Send `head`, then up to `bodyBytes` of body on the same connection, as a
 * client would that either reads while it writes or only after it has
 * written everything. Counts how much of the body the connection took.
 */
export function bodyExchange({ port, head, bodyBytes, readWhileWriting = true, timeoutMs = 20_000 }) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunk = Buffer.alloc(256 * 1024, 0x78);
    const chunks = [];
    let written = 0;
    let settled = false;
    let writeError = null;
    const finish = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, written, writeError, why });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err) => {
      writeError = err.code ?? err.message;
      finish('error');
    });
    if (!readWhileWriting) socket.pause();
    socket.on('connect', () => {
      socket.write(head);
      const pump = () => {
        while (!settled && written < bodyBytes) {
          const n = Math.min(chunk.length, bodyBytes - written);
          written += n;
          if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
        }
        // Everything is written: only now does a client of the second kind read.
        if (!readWhileWriting) socket.resume();
      };
      pump();
    });
  });
}

/** Bodies Berth must not read: it answers from the headers and closes, reading at most a bounded amount. */
async function bodies(port) {
  const host = `Host: 127.0.0.1:${port}`;
  const rows = [];
  const big = 300 * 1024 * 1024;
  const flood = await bodyExchange({ port, head: req('POST', '/api/stop', [host, 'Connection: keep-alive', `Content-Length: ${big}`]), bodyBytes: big });
  const takenMiB = Math.round(flood.written / 2 ** 20);
  rows.push({
    group: 'refuse',
    name: '300 MB body, no token, keep-alive: answered 401 and closed, the body not read',
    expect: '401',
    status: flood.status ?? flood.why,
    ok: flood.status === 401 && /\r\nconnection:\s*close/i.test(flood.text) && flood.why !== 'timeout' && flood.written < 64 * 2 ** 20,
    detail: `connection took ${takenMiB} MiB of 300 before it ${flood.why === 'timeout' ? 'was still open at the timeout' : 'closed'}`,
  });
  const eight = 8 * 1024 * 1024;
  const health = await bodyExchange({ port, head: req('POST', '/health', [host, 'Content-Type: application/json', `Content-Length: ${eight}`]), bodyBytes: eight, readWhileWriting: false });
  rows.push({
    group: 'refuse',
    name: 'POST /health with an 8 MiB body, read only after writing it all: gets an answer',
    expect: '405',
    status: health.status ?? health.why,
    ok: health.status === 405,
    detail: health.status ? '' : `no answer (${health.writeError ?? health.why})`,
  });
  return rows;
}

/**
 * Run every case against a Berth on `port`. Returns the table rows, and
 * whether the same server (pid, instance) answered /health after each group.
 */
export async function runHostile({ port, token, slowCount = 50, slowBody = true, timingSamples = 200 }) {
  const before = await health(port);
  if (!before) throw new Error(`no Berth answering on ${port}`);
  const rows = [];
  const list = cases(port, token);
  // The slow clients run in the background while the rest goes on.
  const slow = slowClients(port, token, { count: slowCount, slowBody });
  let group = null;
  let survived = true;
  for (const c of list) {
    if (c.group !== group) {
      if (group) survived = survived && (await health(port))?.pid === before.pid;
      group = c.group;
    }
    const r = await rawExchange({ port, parts: c.parts, timeoutMs: c.timeoutMs ?? 15_000 });
    const problems = judge(c, r);
    rows.push({ group: c.group, name: c.name, expect: c.expect.join('/'), status: r.status ?? r.why, ok: problems.length === 0, detail: problems.join('; ') });
  }
  rows.push(...(await bodies(port)));
  survived = survived && (await health(port))?.pid === before.pid;
  const timing = await tokenTiming(port, token, timingSamples);
  const slowResult = await slow;
  rows.push(...slowResult.rows);
  const after = await health(port);
  survived = survived && after?.pid === before.pid;
  return { rows, survived, timing, slowMs: slowResult.ms, pid: before.pid };
}

/**
 * Timing probe: answers to a token sharing all but its last character with
 * the real one, against a token sharing nothing. A figure to read, not a
 * limit: the comparison is constant-time (hashes compared with timingSafeEqual).
 */
async function tokenTiming(port, token, samples) {
  const near = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
  const far = (token.startsWith('A') ? 'B' : 'A').repeat(token.length);
  const one = async (t, into) => {
    const t0 = performance.now();
    const r = await rawExchange({ port, parts: [req('GET', '/api/status', [`Host: 127.0.0.1:${port}`, `Authorization: Bearer ${t}`])] });
    into.ms.push(performance.now() - t0);
    into.statuses.add(r.status);
  };
  const near_ = { ms: [], statuses: new Set() };
  const far_ = { ms: [], statuses: new Set() };
  // Interleaved, so machine noise hits both alike.
  for (let i = 0; i < samples; i++) {
    await one(near, near_);
    await one(far, far_);
  }
  const a = { ...summarize(near_.ms), statuses: [...near_.statuses] };
  const b = { ...summarize(far_.ms), statuses: [...far_.statuses] };
  return { samples, nearlyRight: a, allWrong: b, ok: a.statuses.length === 1 && a.statuses[0] === 401 && b.statuses.length === 1 && b.statuses[0] === 401 };
}
