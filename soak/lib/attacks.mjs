// Another local user against your Berth: the threat docs/SECURITY.md is
// about. Berth runs as the user running the tests (root here); the attacker
// is `nobody`, started with setpriv, and does only what any local account
// can do: connect to loopback ports, read /proc, write in /tmp. Each case
// returns rows for the soak's fault table, like faults.mjs.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, health, logText, procs, rmDir, runBerth, serveOrExit, startServe, stopBerth, tempDir } from './common.mjs';

export const NOBODY_ID = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY_ID}`, `--regid=${NOBODY_ID}`, '--clear-groups'];

function row(name, expected, observed, ok, extra = {}) {
  return { name, expected, observed, ok: !!ok, ...extra };
}

/** Why this machine cannot run a case as another user, or null when it can (root, with setpriv). */
export function secondUserProblem() {
  if (process.getuid?.() !== 0) return 'needs root, to start the attacker as nobody with setpriv';
  try {
    execFileSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '-e', '0'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'setpriv cannot start a process as nobody here';
  }
}

/**
 * Run an ES module as nobody: `source` is fed on stdin (nobody may not be
 * able to read this checkout), `input` reaches it as process.env.ATTACK
 * (JSON). Resolves with its exit code and what it printed; the last line of
 * stdout is parsed as JSON when it is JSON.
 */
export function asNobody(source, input = {}, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-'], {
      cwd: '/',
      env: { PATH: process.env.PATH, ATTACK: JSON.stringify(input) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      let result = null;
      try {
        result = JSON.parse(out.trim().split('\n').at(-1));
      } catch {
        // not JSON: the exit code and stderr say what happened
      }
      resolve({ code: code ?? signal, out, err, result });
    });
    child.stdin.end(source);
  });
}

const skipped = (name, expected, why) => [row(name, expected, `skipped: ${why}`, true, { skipped: true })];

// ---------------------------------------------------------------------------

/** Requests as fast as keep-alive allows: `n` of each kind, 8 connections at a time; prints the statuses seen. */
const FLOOD = `
import http from 'node:http';
const { port, n } = JSON.parse(process.env.ATTACK);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const statuses = {};
const one = (opts) => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, agent, ...opts }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', (e) => resolve(e.code));
  req.end();
});
const kinds = [
  { path: '/health', headers: { 'X-Berth-Handoff': 'forged-instance not-a-proof' } },
  { method: 'POST', path: '/api/stop', headers: { 'Content-Length': 0 } },
];
for (const kind of kinds) {
  let left = n;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (left-- > 0) {
      const s = await one(kind);
      const k = kind.path + ' ' + s;
      statuses[k] = (statuses[k] ?? 0) + 1;
    }
  }));
}
console.log(JSON.stringify(statuses));
`;

/**
 * Another user floods the log: forged handoff proofs on /health and requests
 * without the token. Berth counts them: a line at the first, then at most one
 * a minute with the count, and what is left when it stops.
 */
export async function logFlood({ n = 2000 } = {}) {
  const name = `another user sends ${n} forged handoff proofs and ${n} requests without the token`;
  const expected = 'served and refused as usual; a few log lines that count them all, not one line each';
  const problem = secondUserProblem();
  if (problem) return skipped(name, expected, problem);
  const port = await freePort();
  const dataDir = tempDir('berth-attack-flood-');
  try {
    const p = await startServe(port, dataDir);
    const attack = await asNobody(FLOOD, { port, n });
    const statuses = attack.result ?? {};
    await stopBerth(p);
    const lines = logText(dataDir)
      .split('\n')
      .filter((l) => /handoff probe|refused/.test(l))
      .map((l) => JSON.parse(l).msg);
    // The first refusal of a spell is a line of its own; the summaries carry the count of the rest.
    const counted = lines.reduce((sum, l) => sum + (/^refused (?:a handoff probe|401 )/.test(l) ? 1 : 0) + Number(/^refused (\d+) more/.exec(l)?.[1] ?? 0), 0);
    const ok = statuses['/health 200'] === n && statuses['/api/stop 401'] === n && lines.length <= 4 && counted === 2 * n;
    return [
      row(
        name,
        expected,
        `as nobody: ${JSON.stringify(statuses)}; ${lines.length} log line(s) counting ${counted} refusal(s)${lines.length ? `: "${lines.at(-1).slice(0, 120)}"` : ''}`,
        ok,
      ),
    ];
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

// ---------------------------------------------------------------------------
// The data folder and the folders above it. The attacker prepares the place
// where root's Berth will keep its data; Berth must refuse it before it
// writes anything, and change nothing it did not create.

/** Names and modes in a folder, to tell whether anything was written or changed there. */
function listing(dir) {
  const mode = (fs.statSync(dir).mode & 0o7777).toString(8);
  return `${mode} [${fs.readdirSync(dir).sort().join(', ')}]`;
}

const firstProblem = (text) => text.split('\n').find((l) => /^\s+\S/.test(l) && !/To fix it/.test(l))?.trim().slice(0, 150) ?? text.trim().slice(0, 150);

const PLANT = `
import fs from 'node:fs';
const a = JSON.parse(process.env.ATTACK);
for (const [from, to] of a.renames ?? []) fs.renameSync(from, to);
for (const dir of a.mkdirs ?? []) fs.mkdirSync(dir, { mode: 0o755 });
for (const [target, link] of a.links ?? []) fs.symlinkSync(target, link);
console.log(JSON.stringify({ uid: process.getuid() }));
`;

/**
 * The data folder and the folders above it, prepared by another user:
 * a link planted in a sticky folder (as /tmp is) where the data folder will
 * be, pointing at a folder of root's; a data folder moved aside and replaced
 * by a link in a folder others can write; a data folder inside a folder that
 * belongs to the other user. Each start is refused (exit 2) before anything
 * is written; the folder the link points to is left exactly as it was.
 */
export async function preparedDataDir() {
  const expected = 'exit 2 naming what is wrong, before anything is written; nothing changed where the link points';
  const problem = secondUserProblem();
  if (problem) return skipped('data folders prepared by another user', expected, problem);
  const rows = [];
  const place = tempDir('berth-attack-place-');
  // Where the attacker can reach, as the real /tmp.
  fs.chmodSync(place, 0o755);
  try {
    // A shared folder like /tmp: anyone may create entries, only their owner may remove or rename them.
    const sticky = path.join(place, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    // A folder of root's that is not Berth's, open to read (0755), with something in it.
    const victim = path.join(place, 'victim');
    fs.mkdirSync(victim);
    fs.chmodSync(victim, 0o755);
    fs.writeFileSync(path.join(victim, 'precious.txt'), 'precious\n');

    {
      const dataDir = path.join(sticky, 'Berth');
      const before = listing(victim);
      const planted = await asNobody(PLANT, { links: [[victim, dataDir]] });
      const port = await freePort();
      const r = await serveOrExit(port, dataDir);
      await procs.killAll();
      const after = listing(victim);
      const said = /is a symbolic link that belongs to nobody/.test(r.p.stderr());
      rows.push(
        row(
          'another user plants a link where the data folder will be (in a sticky folder), to a folder of root\'s',
          expected,
          `link planted ${planted.code === 0 ? 'as nobody' : `FAILED (${planted.err.trim().slice(0, 80)})`}; exit ${r.code}${r.served ? ' (it SERVED)' : ''}; "${firstProblem(r.p.stderr())}"; linked folder ${after === before ? 'unchanged' : `CHANGED: ${before} -> ${after}`}`,
          planted.code === 0 && r.code === 2 && said && after === before,
        ),
      );
    }
    {
      // A folder anyone can write to (not sticky): root's data folder in it can be moved aside and replaced.
      const open = path.join(place, 'open');
      fs.mkdirSync(open);
      fs.chmodSync(open, 0o777);
      const dataDir = path.join(open, 'Berth');
      fs.mkdirSync(dataDir, { mode: 0o700 });
      const port = await freePort();
      const first = await serveOrExit(port, dataDir);
      await procs.killAll();
      const moved = await asNobody(PLANT, { renames: [[dataDir, path.join(open, 'Berth.moved')]], links: [[path.join(open, 'Berth.moved'), dataDir]] });
      const again = await serveOrExit(port, dataDir);
      await procs.killAll();
      const said = /can be changed by other users \(mode 0777\) and is not sticky/.test(first.p.stderr());
      rows.push(
        row(
          'root\'s data folder in a folder others can write (0777, not sticky)',
          'exit 2 at start naming that folder; after another user swaps in a link of theirs, exit 2 again',
          `exit ${first.code}${first.served ? ' (it SERVED)' : ''}: "${firstProblem(first.p.stderr())}"; nobody moved it and linked it back: ${moved.code === 0 ? 'done' : 'FAILED'}; then exit ${again.code}${again.served ? ' (it SERVED through their link)' : ''}`,
          first.code === 2 && said && moved.code === 0 && again.code === 2,
        ),
      );
    }
    {
      // A folder that belongs to the other user: they may rename anything in it, whoever owns it.
      const theirs = path.join(sticky, 'theirs');
      await asNobody(PLANT, { mkdirs: [theirs] });
      const dataDir = path.join(theirs, 'Berth');
      fs.mkdirSync(dataDir, { mode: 0o700 });
      const port = await freePort();
      const r = await serveOrExit(port, dataDir);
      await procs.killAll();
      const said = /belongs to nobody \(uid 65534\), neither you nor root/.test(r.p.stderr());
      rows.push(
        row(
          'root\'s data folder inside a folder another user owns',
          'exit 2 naming that folder and its owner',
          `exit ${r.code}${r.served ? ' (it SERVED)' : ''}: "${firstProblem(r.p.stderr())}"`,
          r.code === 2 && said,
        ),
      );
    }
  } finally {
    await procs.killAll();
    rmDir(place);
  }
  return rows;
}

// ---------------------------------------------------------------------------
// The command line. Whatever starts a browser puts the address it opens in
// an argv that /proc/PID/cmdline shows to every local user.

/** Another user's look at every command line on the machine, and what they try with what they find there. */
const REPLAY = `
import fs from 'node:fs';
import http from 'node:http';
const { port, markers } = JSON.parse(process.env.ATTACK);
const ask = (method, path, headers = {}) => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, method, path, headers: { 'Content-Length': 0, ...headers }, agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve({ status: res.statusCode, cookie: res.headers['set-cookie']?.[0]?.split(';')[0] ?? null }));
  });
  req.on('error', (e) => resolve({ status: e.code, cookie: null }));
  req.end();
});
const found = [];
for (const pid of fs.readdirSync('/proc').filter((d) => /^\\d+$/.test(d))) {
  let args;
  try { args = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').filter(Boolean); } catch { continue; }
  if (!args.some((a) => markers.some((m) => a.includes(m)))) continue;
  found.push(...args.filter((a) => markers.some((m) => a.includes(m))));
}
const tried = [];
for (const arg of found) {
  // A file the argument names (a file:// address or a path): can it be read?
  const file = arg.startsWith('file://') ? decodeURIComponent(new URL(arg).pathname) : arg.startsWith('/') ? arg : null;
  if (file) {
    try { fs.readFileSync(file); tried.push('read ' + file + ': READ'); } catch (e) { tried.push('read: ' + e.code); }
  }
  // An address on Berth's port: open it as the browser would, and use any cookie it gives to stop Berth.
  const m = /^http:\\/\\/127\\.0\\.0\\.1:(\\d+)(\\/.*)$/.exec(arg);
  if (m) {
    const visit = await ask('GET', m[2]);
    tried.push('open address: ' + visit.status + (visit.cookie ? ' with a cookie' : ' without a cookie'));
    if (visit.cookie) tried.push('stop with that cookie: ' + (await ask('POST', '/api/stop', { Cookie: visit.cookie, 'Sec-Fetch-Site': 'same-origin' })).status);
  }
  // Anything shaped like a token or a ticket: as a Bearer token.
  for (const word of arg.split(/[^\\w.-]+/).filter((w) => w.length >= 32)) {
    for (const part of [word, ...word.split('.')].filter((w) => w.length >= 32)) tried.push('stop with Bearer ' + part.slice(0, 6) + '…: ' + (await ask('POST', '/api/stop', { Authorization: 'Bearer ' + part })).status);
  }
}
console.log(JSON.stringify({ found, tried }));
`;

/**
 * `berth open` as root, with a browser launcher that keeps its arguments
 * showing (a browser started with the address does). Another user reads
 * every command line, and tries what it finds: reading a file it names,
 * opening an address, and any token-shaped word against POST /api/stop.
 */
export async function commandLineReplay() {
  const name = 'another user reads the browser launcher\'s command line after `berth open` and replays it at once';
  const expected = 'the command line names only a page they cannot read; nothing they try signs in; Berth keeps serving';
  const problem = secondUserProblem();
  if (problem) return skipped(name, expected, problem);
  const port = await freePort();
  const dataDir = tempDir('berth-attack-argv-');
  const bin = tempDir('berth-attack-launcher-');
  try {
    const server = await startServe(port, dataDir);
    // The stand-in launcher hands its arguments to a "browser" that lives on with them, and says where it is.
    const browserPid = path.join(bin, 'browser.pid');
    fs.writeFileSync(
      path.join(bin, 'xdg-open'),
      `#!${process.execPath}\nconst c = require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', ...process.argv.slice(2)], { detached: true, stdio: 'ignore' });\nrequire('fs').writeFileSync(${JSON.stringify(browserPid)}, String(c.pid));\nc.unref();\n`,
      { mode: 0o755 },
    );
    const open = runBerth(['open', '--port', String(port), '--data-dir', dataDir], { env: { PATH: `${bin}:${process.env.PATH}` } });
    const openCode = await open.exited;
    const pid = Number(fs.readFileSync(browserPid, 'utf8'));
    procs.track(pid, 'setTimeout');
    const attack = await asNobody(REPLAY, { port, markers: [`127.0.0.1:${port}`, dataDir] });
    const r = attack.result ?? { found: [], tried: [`attacker failed: ${attack.err.trim().slice(0, 100)}`] };
    const still = (await health(port))?.pid === server.pid;
    const signedIn = r.tried.some((t) => / 202$| READ$|with a cookie/.test(t));
    return [
      row(
        name,
        expected,
        `berth open exit ${openCode}; as nobody saw ${JSON.stringify(r.found.map((a) => a.replace(/[\w-]{20,}/g, (w) => `${w.slice(0, 6)}…`)))}; tried: ${r.tried.join('; ') || 'nothing'}; Berth ${still ? 'still serving' : 'STOPPED'}`,
        openCode === 0 && r.found.length > 0 && !signedIn && still,
      ),
    ];
  } finally {
    await procs.killAll();
    rmDir(dataDir);
    rmDir(bin);
  }
}

// ---------------------------------------------------------------------------
// File descriptors: Berth under a low limit (ulimit -n 64 on its process),
// and another user holding connections open.

/**
 * Start an ES module as nobody that keeps running: resolves once it prints
 * its first line (JSON), with a way to end it. See asNobody.
 */
export function startAsNobody(source, input = {}) {
  const child = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-'], {
    cwd: '/',
    env: { PATH: process.env.PATH, ATTACK: JSON.stringify(input) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(JSON.parse(line));
    });
    void exited.then((code) => reject(new Error(`the attacker exited ${code} before it was ready: ${err.trim().slice(0, 200)}`)));
  });
  child.stdin.end(source);
  return {
    ready,
    async stop() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Connections held open: `idle` that each finished one request (kept alive), `slow` that sent half a request. */
const HOLD = `
import net from 'node:net';
const { port, idle, slow } = JSON.parse(process.env.ATTACK);
const held = [];
let answered = 0;
let refused = 0;
const open = () => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => { refused++; resolve(null); });
  s.on('connect', () => resolve(s));
});
for (let i = 0; i < idle; i++) {
  const s = await open();
  if (!s) continue;
  held.push(s);
  await new Promise((resolve) => {
    s.once('data', (d) => { if (String(d).startsWith('HTTP/1.1 200')) answered++; resolve(); });
    s.once('close', resolve);
    s.write('GET /health HTTP/1.1\\r\\nHost: 127.0.0.1:' + port + '\\r\\n\\r\\n');
  });
}
for (let i = 0; i < slow; i++) {
  const s = await open();
  if (!s) continue;
  held.push(s);
  s.write('GET /health HTTP/1.1\\r\\nHost: 127.0.0.1:' + port + '\\r\\n');
}
console.log(JSON.stringify({ opened: held.length, answered, refused }));
setInterval(() => {}, 60000);
`;

/**
 * Berth with a hard limit of 64 open files, and another user holding 60
 * connections (idle keep-alive ones and half-sent requests): new clients,
 * the probe and `berth status` are still answered; Berth says once in its
 * log, and in /health, that it ran short.
 */
export async function fewDescriptors({ limit = 64, idle = 45, slow = 15 } = {}) {
  const name = `Berth under ulimit -n ${limit}; another user holds ${idle} idle and ${slow} half-sent connections`;
  const expected = 'new requests, the probe and berth status answered; one log line and /health say it ran short';
  const problem = secondUserProblem();
  if (problem) return skipped(name, expected, problem);
  const port = await freePort();
  const dataDir = tempDir('berth-attack-fds-');
  let holder = null;
  try {
    const server = await startServe(port, dataDir, [], { wrap: ['prlimit', `--nofile=${limit}:${limit}`, '--'] });
    holder = startAsNobody(HOLD, { port, idle, slow });
    const held = await holder.ready;
    // At once, while every connection is held (half-sent requests time out after 10 s).
    const st = runBerth(['status', '--port', String(port), '--data-dir', dataDir]);
    const stCode = await st.exited;
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await health(port, '127.0.0.1', 2000)) ? 200 : 'no answer');
    const h = await health(port);
    await holder.stop();
    holder = null;
    await stopBerth(server);
    const lines = logText(dataDir)
      .split('\n')
      .filter((l) => /file descriptors/.test(l))
      .map((l) => JSON.parse(l).msg);
    const ok = statuses.every((x) => x === 200) && stCode === 0 && h?.descriptors?.limit === limit && lines.length >= 1 && lines.length <= 2;
    return [
      row(
        name,
        expected,
        `as nobody: ${held.opened} held (${held.answered} answered first); new /health: ${statuses.join(',')}; berth status exit ${stCode}${stCode ? `: "${(st.stdout() + st.stderr()).trim().slice(0, 100)}"` : ''}; /health descriptors ${JSON.stringify(h?.descriptors ?? null)}; ${lines.length} log line(s)${lines.length ? `: "${lines[0].slice(0, 140)}"` : ''}`,
        ok,
      ),
    ];
  } finally {
    await holder?.stop();
    await procs.killAll();
    rmDir(dataDir);
  }
}

/** Every case, in the order the soak's fault table prints them. */
export const attackCases = [
  ['another user floods the log', () => logFlood()],
  ['data folders prepared by another user', preparedDataDir],
  ['the browser launcher\'s command line, replayed by another user', commandLineReplay],
  ['few file descriptors, connections held by another user', () => fewDescriptors()],
];

