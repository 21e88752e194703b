// Hosting benchmarks (issue 21), as ratios within one run:
// - the proxy: latency and throughput of the Python example's child reached
//   through Berth's port, against the same child reached directly on its socket
//   (autocannon, the same connections and duration, rounds taken by turns);
// - the in-place restart of the in-process example (Notes): the client-seen gap
//   against the no-restart control, as core.mjs measures Berth's console.
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, cleanEnv, freePort, pct, r2, sleep, stopAll } from './lib/berth.mjs';
import { restartGapsAndControl, startPoller } from './lib/gaps.mjs';
import { EXAMPLES, prepareExample, pythonExecutable } from '../soak/lib/examples.mjs';
import { childrenOf, cpuMs } from '../soak/lib/procfs.mjs';

const quick = process.argv.includes('--quick');
const RESTARTS = quick ? 100 : 500;
const ROUNDS = quick ? 2 : 4;
const SECONDS = quick ? 3 : 5;

/** `<example> serve --json` until it says it is serving. */
async function serveExample(name) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `berth-bench-${name}-`));
  const port = await freePort();
  const ex = EXAMPLES[name];
  const child = spawn(process.execPath, [path.join(ex.dir, ex.cli), 'serve', '--json', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv({ BERTH_PYTHON: pythonExecutable() }) });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.resume();
  for (let i = 0; i < 3000 && !out.includes('"event":"serving"'); i++) await sleep(10);
  if (!out.includes('"event":"serving"')) throw new Error(`${name} did not start`);
  const info = JSON.parse(out.split('\n').find((l) => l.includes('"event":"serving"')));
  const auth = { Authorization: `Bearer ${fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim()}` };
  return { port, dataDir, info, auth, stop: () => stopAll(port, auth, new Set([info.pid])) };
}

/**
 * One autocannon round, with the CPU time Berth's process and the child
 * server used per request: what each request costs, which a busy shared
 * machine changes much less than it changes latency.
 */
async function load(opts, pids = {}) {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const r = await autocannon({ connections: 10, duration: SECONDS, ...opts });
  if (r.errors || r.non2xx) throw new Error(`load had ${r.errors} errors and ${r.non2xx} non-2xx answers`);
  const cpuUs = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuMs(pid) - before[k]) * 1000) / r.requests.total]));
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, berthCpuUs: cpuUs.berth, childCpuUs: cpuUs.child };
}

async function proxyRows() {
  const b = await serveExample('bookmarks');
  try {
    const socketPath = path.join(b.dataDir, 'app-sockets', `${b.info.pid}.sock`);
    for (let i = 0; i < 500 && !fs.existsSync(socketPath); i++) await sleep(10);
    const pids = { berth: b.info.pid, child: childrenOf(b.info.pid)[0] };
    // Warm both paths, then take rounds by turns so load that comes and goes falls on both.
    await load({ url: 'http://localhost/healthz', socketPath, duration: 1 });
    await load({ url: `http://127.0.0.1:${b.port}/healthz`, headers: b.auth, duration: 1 });
    const direct = [];
    const proxied = [];
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await load({ url: 'http://localhost/healthz', socketPath }, pids));
      proxied.push(await load({ url: `http://127.0.0.1:${b.port}/healthz`, headers: b.auth }, pids));
    }
    const med = (rows, k) => pct(rows.map((r) => r[k]), 50);
    const figures = (rows) => Object.fromEntries(['p50', 'p99', 'rps', 'berthCpuUs', 'childCpuUs'].map((k) => [k, med(rows, k)]));
    const d = figures(direct);
    const p = figures(proxied);
    console.log(`  Python child, direct on its socket      p50 ${d.p50} ms, p99 ${d.p99} ms, ${Math.round(d.rps)} req/s (autocannon, 10 connections, median of ${ROUNDS} x ${SECONDS} s)`);
    console.log(`  the same, through Berth's proxy         p50 ${p.p50} ms, p99 ${p.p99} ms, ${Math.round(p.rps)} req/s`);
    console.log(`  proxy against direct                    p50 +${r2(p.p50 - d.p50)} ms (goal: within +0.3 ms), throughput ${r2((100 * p.rps) / d.rps)} % (goal: at least 80 %)`);
    // Direct requests cost Berth too: it logs the child's output (one access-log line a request).
    console.log(`  CPU per request, Berth / child          direct ${Math.round(d.berthCpuUs)} / ${Math.round(d.childCpuUs)} µs, proxied ${Math.round(p.berthCpuUs)} / ${Math.round(p.childCpuUs)} µs (the proxy adds ${Math.round(p.berthCpuUs - d.berthCpuUs)} µs of Berth's CPU)`);
    return { direct: d, proxied: p, p50AddedMs: r2(p.p50 - d.p50), throughputPercent: r2((100 * p.rps) / d.rps), proxyCpuUs: Math.round(p.berthCpuUs - d.berthCpuUs) };
  } finally {
    await b.stop();
    fs.rmSync(b.dataDir, { recursive: true, force: true });
  }
}

async function notesGapRows() {
  const n = await serveExample('notes');
  try {
    // The poller asks for the app's own page, which each generation serves.
    const poller = startPoller(n.port, '/');
    await sleep(300);
    const { restartGaps, controlGaps } = await restartGapsAndControl(n.port, n.auth, poller, RESTARTS);
    poller.stop();
    const ratio = (p) => r2(pct(restartGaps, p) / pct(controlGaps, p));
    console.log(`  Notes in-place restart, client-seen gap p50 ${r2(pct(restartGaps, 50))} ms, p99 ${r2(pct(restartGaps, 99))} ms over ${RESTARTS} (control p50 ${r2(pct(controlGaps, 50))} ms, p99 ${r2(pct(controlGaps, 99))} ms)`);
    console.log(`  Notes restart / control gap             p50 ${ratio(50)} x, p99 ${ratio(99)} x (goal: within 1.2 x at p99)`);
    return { restarts: RESTARTS, gapRatioP50: ratio(50), gapRatioP99: ratio(99), clientGapP99Ms: r2(pct(restartGaps, 99)), controlGapP99Ms: r2(pct(controlGaps, 99)) };
  } finally {
    await n.stop();
    fs.rmSync(n.dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`Berth hosting benchmarks on ${os.cpus().length} x ${os.cpus()[0]?.model}, Node ${process.version}`);
  prepareExample('notes');
  prepareExample('bookmarks');
  const proxy = await proxyRows();
  const notes = await notesGapRows();
  fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-results', 'hosting.json'), JSON.stringify({ at: new Date().toISOString(), proxy, notes }, null, 2) + '\n');
  console.log('  written to bench-results/hosting.json');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
