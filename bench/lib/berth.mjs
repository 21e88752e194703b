// What the benchmarks share: starting `berth serve`, asking it over HTTP, and
// timing whole processes. Plain Node, so a benchmark runs against the built
// bin/berth.js exactly as a user's shell would.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'berth.js');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const r1 = (n) => Math.round(n * 10) / 10;
export const r2 = (n) => Math.round(n * 100) / 100;
export const pct = (values, p) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
export const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The environment without BERTH_* settings of the shell the benchmark was started from. */
export function cleanEnv() {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('BERTH_')) delete env[k];
  return env;
}

/** `node <argv>` from spawn to exit, as a user's shell sees it. */
export function timeCommand(argv, env) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? cleanEnv() });
    child.stdout.resume();
    child.stderr.resume();
    child.on('exit', (code) => resolve({ ms: performance.now() - t0, code }));
  });
}

/** `berth serve --json` until it reports serving; its first line (url, pid, instance). */
export async function startServe(port, dataDir) {
  const child = spawn(process.execPath, [BIN, 'serve', '--json', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.resume();
  for (let i = 0; i < 1500 && !out.includes('"event":"serving"'); i++) await sleep(10);
  if (!out.includes('"event":"serving"')) throw new Error('berth serve did not start');
  return { child, info: JSON.parse(out.trim().split('\n')[0]) };
}

/** One request on its own connection: a restart closing pooled keep-alive sockets cannot interfere. */
export function request(port, method, urlPath, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, json: () => JSON.parse(body) }));
    });
    // A restart or relaunch answers once it is done (a relaunch after its successor's confirmation window).
    req.setTimeout(/^\/api\/(restart|relaunch)$/.test(urlPath) ? 60_000 : 5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A request that was refused or reset before any answer is sent again, as a browser would. */
export async function requestRetrying(port, method, urlPath, headers) {
  for (let i = 0; ; i++) {
    try {
      return await request(port, method, urlPath, headers);
    } catch (err) {
      if (i > 500) throw err;
      await sleep(2);
    }
  }
}

export async function health(port) {
  try {
    const res = await request(port, 'GET', '/health');
    return res.status === 200 ? res.json() : null;
  } catch {
    return null;
  }
}

/** Resident memory of a process in MB (Linux), or null when it is gone or /proc cannot say. */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? r1(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stop the Berth serving `port` through its API, wait (bounded) for every process in `pids` to end, then kill what is left. */
export async function stopAll(port, headers, pids) {
  await request(port, 'POST', '/api/stop', headers).catch(() => null);
  for (let i = 0; i < 250 && [...pids].some(alive); i++) await sleep(20);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
