// Shared pieces of the reliability harness: real `berth` processes on free loopback
// ports, fresh data directories, and a registry of every pid
// the harness started so that cleanup ends exactly those and nothing else.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processState } from './procfs.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BERTH_BIN = path.join(ROOT, 'bin', 'berth.js');
export const LIB = path.dirname(fileURLToPath(import.meta.url));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The kernel's range for outgoing connections' local ports (Linux), else the IANA one. */
function ephemeralRange() {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux
  }
  return [49152, 65535];
}

const bindsNow = (port) =>
  new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host: '127.0.0.1', port }, () => srv.close(() => resolve(true)));
  });

const handedOut = new Set();

/**
 * A free port below the ephemeral range. A port the kernel hands out (port 0)
 * is free only for the moment: until Berth binds it, seconds later on a loaded
 * machine, any outgoing connection (a load generator's, another test's) may
 * take it as its local port, and Berth's bind then fails although nothing
 * listens. Ports below the range are never given to outgoing connections.
 * Each vitest worker draws from its own slice, so two test files running at
 * once never pick the same port; one process never gets a port twice.
 */
export async function freePort() {
  const [lo] = ephemeralRange();
  const from = Math.max(1024, lo - 12_000);
  const slices = 8;
  const size = Math.floor((lo - from) / slices);
  const pool = Number(process.env.VITEST_POOL_ID);
  const [start, span] = Number.isInteger(pool) && pool > 0 ? [from + (pool % slices) * size, size] : [from, lo - from];
  for (let i = 0; i < 500; i++) {
    const port = start + Math.floor(Math.random() * span);
    if (handedOut.has(port) || !(await bindsNow(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${start} and ${start + span - 1}`);
}

export function tempDir(prefix = 'berth-soak-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function waitFor(fn, what, timeoutMs = 15_000, everyMs = 20) {
  const until = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr}` : ''}`);
    await sleep(everyMs);
  }
}

export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(values) {
  const r = (v) => (v === null ? null : Math.round(v * 100) / 100);
  return { n: values.length, p50: r(percentile(values, 50)), p99: r(percentile(values, 99)), max: r(values.length ? values.reduce((a, b) => (b > a ? b : a), -Infinity) : null) };
}

/** Whether a pid is a live process; a zombie (exited, not yet reaped by its parent or init) counts as gone. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  // No /proc (macOS, Windows): kill(0) said it exists.
  return processState(pid) !== 'Z';
}

/** The command line of a pid (Linux), or null. Used to make sure a pid is still the process we started. */
export function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

/**
 * Every process the harness started, with a marker its command line must
 * contain (its fresh data directory): a pid the OS has reused for something
 * else is never signalled.
 */
export const procs = {
  tracked: new Map(),
  track(pid, marker) {
    if (pid) this.tracked.set(pid, marker);
  },
  ours(pid) {
    const marker = this.tracked.get(pid);
    if (!marker || !alive(pid)) return false;
    const cmd = cmdline(pid);
    // Without /proc (not Linux) trust the registry.
    return cmd === null ? true : cmd.includes(marker);
  },
  signal(pid, sig) {
    if (!this.ours(pid)) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  },
  /** SIGCONT (a stopped process cannot die of SIGTERM), SIGTERM, then SIGKILL what is left. */
  async killAll(graceMs = 3000) {
    const pids = [...this.tracked.keys()].filter((p) => this.ours(p));
    for (const p of pids) this.signal(p, 'SIGCONT');
    for (const p of pids) this.signal(p, 'SIGTERM');
    const until = Date.now() + graceMs;
    while (Date.now() < until && pids.some((p) => alive(p))) await sleep(25);
    for (const p of pids) this.signal(p, 'SIGKILL');
    while (pids.some((p) => alive(p)) && Date.now() < until + 3000) await sleep(25);
    for (const p of pids) if (!alive(p)) this.tracked.delete(p);
    return pids.length;
  },
};

/** The caller's environment without BERTH_* settings from a developer's shell. */
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BERTH_')) delete env[k];
  return { ...env, ...extra };
}

/**
 * Start `node bin/berth.js <args>`. With outFile, stdout and stderr go to that
 * file (relaunched successors inherit it and keep writing there); otherwise
 * they are captured in memory.
 */
export function runBerth(args, opts = {}) {
  const dataDirArg = args.includes('--data-dir') ? args[args.indexOf('--data-dir') + 1] : undefined;
  return runNode(BERTH_BIN, args, { ...opts, marker: opts.marker ?? dataDirArg ?? BERTH_BIN });
}

/** Start `node <script> <args>` (optionally wrapped, e.g. by setpriv), tracked for cleanup under `marker`. */
export function runNode(script, args, { env, outFile, nodeArgs = [], marker, wrap } = {}) {
  let out = '';
  let err = '';
  let stdio = ['ignore', 'pipe', 'pipe'];
  let fd;
  if (outFile) {
    fd = fs.openSync(outFile, 'a');
    stdio = ['ignore', fd, fd];
  }
  const argv = [...nodeArgs, script, ...args];
  const [cmd, cmdArgs] = wrap ? [wrap[0], [...wrap.slice(1), process.execPath, ...argv]] : [process.execPath, argv];
  const child = spawn(cmd, cmdArgs, { env: cleanEnv(env), cwd: ROOT, stdio });
  if (fd !== undefined) fs.closeSync(fd);
  procs.track(child.pid, marker ?? script);
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const stdout = () => (outFile ? readText(outFile) : out);
  const stderr = () => (outFile ? readText(outFile) : err);
  return { child, pid: child.pid, stdout, stderr, exited };
}

export function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** JSON lines printed by `--json`, from all the text a process (and its successors) wrote. */
export function jsonLines(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a human log line that happens to start with a brace
    }
  }
  return out;
}

/** Start `berth serve --json` and wait until it says it is serving. */
export async function startServe(port, dataDir, extra = [], opts = {}) {
  const p = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, ...extra], opts);
  const info = await Promise.race([
    waitFor(() => jsonLines(p.stdout()).find((l) => l.event === 'serving' && (!opts.notInstance || l.instance !== opts.notInstance)), 'berth serve to report serving', opts.timeoutMs ?? 20_000),
    p.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${p.stdout()}\n${p.stderr()}`);
    }),
  ]);
  return { ...p, info };
}

/** Start `berth serve` (human output) and wait until it serves or exits; `code` is its exit code, or null while it serves. */
export async function serveOrExit(port, dataDir, extra = [], opts = {}, ms = 20_000) {
  const p = runBerth(['serve', '--port', String(port), '--data-dir', dataDir, ...extra], { marker: dataDir, ...opts });
  let code = null;
  void p.exited.then((c) => (code = c));
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (code !== null) return { p, served: false, code };
    if (p.stdout().includes(' is serving on ') && (await health(port, '127.0.0.1', 500))?.pid === p.pid) return { p, served: true, code: null };
    await sleep(25);
  }
  return { p, served: false, code: 'still running' };
}

export async function stopBerth(p, graceMs = 5000) {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  procs.signal(p.pid, 'SIGCONT');
  procs.signal(p.pid, 'SIGTERM');
  const done = await Promise.race([p.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) procs.signal(p.pid, 'SIGKILL');
  return p.exited;
}

export function readToken(dataDir) {
  return fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim();
}

/**
 * One HTTP request on its own connection (no keep-alive), so a test sees
 * exactly what this request got. Never throws for an HTTP status; rejects on
 * connection errors with the socket error code.
 */
export function request({ port, host = '127.0.0.1', method = 'GET', path: urlPath = '/', headers = {}, body, timeout = 5000, agent = false }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path: urlPath, headers, agent, setHost: !('Host' in headers || 'host' in headers) }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeout, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

export async function health(port, host = '127.0.0.1', timeout = 2000) {
  try {
    const r = await request({ port, host, path: '/health', timeout });
    return r.status === 200 ? r.json : null;
  } catch {
    return null;
  }
}

export function api(port, token, method, urlPath, body, headers = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  // A restart or relaunch answers once it is done (a relaunch after its successor's confirmation window).
  const timeout = /^\/api\/(restart|relaunch)$/.test(urlPath) ? 60_000 : undefined;
  return request({ port, method, path: urlPath, headers: h, body: body === undefined ? undefined : JSON.stringify(body), timeout });
}

/**
 * Whether the process started as `berth serve` has handed its port over and
 * waits for the Berth serving now (app/cli/foreground.ts logs that line).
 */
export function startedWaits(dataDir, pid) {
  const { WAITING } = createRequire(import.meta.url)(path.join(ROOT, 'out', 'app', 'cli', 'foreground.js'));
  return logText(dataDir)
    .split('\n')
    .some((line) => line.includes(WAITING) && JSON.parse(line).pid === pid);
}

/** All log text a data dir's Berth processes wrote (rotated files included). */
export function logText(dataDir) {
  const dir = path.join(dataDir, 'logs');
  let text = '';
  try {
    for (const f of fs.readdirSync(dir)) text += readText(path.join(dir, f));
  } catch {
    // no logs folder (read-only data dir)
  }
  return text;
}

export function countMatches(text, re) {
  return (text.match(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g')) ?? []).length;
}

export function rmDir(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // left for the OS to clean (an immutable test folder is cleared by its test)
  }
}

/**
 * Send raw bytes on a fresh TCP connection (for input no HTTP client would
 * send) and read until the server closes or `timeoutMs` passes. `parts` are
 * strings/Buffers, or numbers meaning "wait this many ms"; a function part is
 * called with the socket. Resolves with the first status line's code (null
 * if none), all bytes read, and whether the server closed the connection.
 */
export function rawExchange({ port, host = '127.0.0.1', parts, timeoutMs = 5000, stopAfterResponse = true }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks = [];
    let settled = false;
    let closedByServer = false;
    let writeError = null;
    const socket = net.connect({ host, port });
    const finish = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, closedByServer, writeError, why, ms: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (d) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      if (stopAfterResponse && responseComplete(text)) finish('response');
    });
    socket.on('end', () => {
      closedByServer = true;
      finish('closed');
    });
    socket.on('close', () => {
      closedByServer = true;
      finish('closed');
    });
    socket.on('error', (err) => {
      writeError = err.code ?? err.message;
      closedByServer = true;
      finish('error');
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        if (settled || socket.destroyed) return;
        if (typeof part === 'number') await sleep(part);
        else if (typeof part === 'function') part(socket);
        else socket.write(part);
      }
    });
  });
}

function responseComplete(text) {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = text.slice(0, end);
  const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (len) return text.length - (end + 4) >= Number(len[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return text.includes('0\r\n\r\n', end);
  return false;
}
