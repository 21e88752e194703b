// Start-up benchmarks (issue 14): how long each `berth` command takes to
// start and answer, as a ratio against bare `node -e ''` timed in the same
// rounds (the machine is shared and noisy, so only ratios within one run mean
// anything; docs/STARTUP.md has the figures and where the time goes), plus the headless server's memory at rest and after many
// in-place restarts. Prints every row beside its goal and writes
// bench-results/startup.json.
//
//   node bench/startup.mjs [--quick]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, freePort, health, median, r1, r2, request, requestRetrying, rssMb, sleep, startServe, stopAll, timeCommand } from './lib/berth.mjs';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 10 : 40;
const DUPLICATES = quick ? 8 : 25;
const RELAUNCHES = quick ? 5 : 15;
const RESTARTS = quick ? 200 : 1000;

/**
 * Time several commands in interleaved rounds, so a burst of load from other
 * work on the machine falls on all of them alike; the median of each.
 */
async function interleaved(commands, rounds) {
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, { argv, expect }] of Object.entries(commands)) {
      const r = await timeCommand(argv);
      if (expect !== undefined && r.code !== expect) throw new Error(`${name} exited ${r.code}, expected ${expect}`);
      times[name].push(r.ms);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { median: median(v), fastest: Math.min(...v), all: v }]));
}

/**
 * The median over rounds of a command's time against bare Node's in the same
 * round: each pair ran back to back, under the same load, so a burst of other
 * work on the machine moves both (a ratio of two medians can pair a quiet
 * round's bare Node with a busy round's command).
 */
const pairedRatio = (cmd, base) => median(cmd.all.map((t, i) => t / base.all[i]));
const pairedExtra = (cmd, base) => median(cmd.all.map((t, i) => t - base.all[i]));

function row(what, measured, goal, ok) {
  return { what, measured, goal, ok };
}

async function main() {
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: r2(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${os.release()}` };
  console.log(`Berth start-up benchmarks on ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-startup-'));
  const closedPort = await freePort();
  const port = await freePort();
  const rows = [];
  const pids = new Set();

  // 1. Commands that never start a server: bare Node, --help, status with nothing running.
  const quickOnes = await interleaved(
    {
      node: { argv: ['-e', ''], expect: 0 },
      help: { argv: [BIN, '--help'], expect: 0 },
      status: { argv: [BIN, 'status', '--port', String(closedPort), '--data-dir', dataDir], expect: 1 },
    },
    ROUNDS,
  );
  const base1 = quickOnes.node.median;
  console.log(`  node -e '' (baseline, median of ${ROUNDS})      ${r1(base1)} ms`);
  const ratio = (name) => {
    const m = pairedRatio(quickOnes[name], quickOnes.node);
    return { m, text: `${r1(quickOnes[name].median)} ms = ${r2(m)} x bare Node (fastest runs: ${r2(quickOnes[name].fastest / quickOnes.node.fastest)} x)` };
  };
  const help = ratio('help');
  const status = ratio('status');
  rows.push(row('berth --help', help.text, '< 1.3 x', help.m < 1.3));
  rows.push(row('berth status (nothing running)', status.text, '< 1.3 x', status.m < 1.3));

  // 2. A server, at rest.
  const server = await startServe(port, dataDir);
  let current = server.info;
  pids.add(current.pid);
  await sleep(3000);
  const idleRss = rssMb(current.pid);

  // 3. A second `berth serve` on its port: probe, say who runs there, exit 3.
  const dup = await interleaved(
    {
      node: { argv: ['-e', ''], expect: 0 },
      duplicate: { argv: [BIN, 'serve', '--port', String(port), '--data-dir', dataDir], expect: 3 },
    },
    DUPLICATES,
  );
  const dupExtra = pairedExtra(dup.duplicate, dup.node);
  rows.push(
    row(
      'second berth serve exits 3',
      `${r1(dup.duplicate.median)} ms = bare Node + ${r1(dupExtra)} ms (${r2(pairedRatio(dup.duplicate, dup.node))} x; fastest runs: + ${r1(dup.duplicate.fastest - dup.node.fastest)} ms)`,
      '< bare Node + 100 ms',
      dupExtra < 100,
    ),
  );

  // 4. In-place restarts, then the memory of the same process.
  const token = fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim();
  const auth = { Authorization: `Bearer ${token}` };
  const newestRestart = async () => (await requestRetrying(port, 'GET', '/api/status', auth)).json().history.findLast((h) => h.kind === 'restart')?.at ?? null;
  for (let i = 0; i < RESTARTS; i++) {
    const before = await newestRestart();
    const res = await requestRetrying(port, 'POST', '/api/restart', auth);
    if (res.status !== 200) throw new Error(`restart ${i} refused: HTTP ${res.status}`);
    while ((await newestRestart()) === before) await sleep(1);
  }
  await sleep(3000);
  const restartedRss = rssMb(current.pid);
  const rssRatio = restartedRss / idleRss;
  rows.push(row('idle RSS', `${idleRss} MB`, '< 80 MB', idleRss < 80));
  rows.push(row(`RSS after ${RESTARTS} in-place restarts`, `${restartedRss} MB = ${r2(rssRatio)} x idle`, '< 1.5 x idle', rssRatio < 1.5));

  // 5. Relaunch: the restart request to the successor answering /health. Bare Node again, beside it.
  const relaunchTimes = [];
  const base2 = [];
  for (let i = 0; i < RELAUNCHES; i++) {
    base2.push((await timeCommand(['-e', ''])).ms);
    const t0 = performance.now();
    // Answered once confirmed, after the successor's window: timed to the successor's /health, as before.
    const answer = requestRetrying(port, 'POST', '/api/relaunch', auth);
    let next;
    for (;;) {
      next = await health(port);
      if (next && next.instance !== current.instance && next.state === 'serving') break;
      await sleep(1);
    }
    relaunchTimes.push(performance.now() - t0);
    const res = await answer;
    if (res.status !== 200) throw new Error(`relaunch refused: HTTP ${res.status}`);
    pids.add(next.pid);
    current = next;
    await sleep(200); // the predecessor finishes its exit off the clock
  }
  const base = median([...base2, base1]);
  const relaunch = median(relaunchTimes);
  // Each relaunch against the bare Node timed just before it, as above.
  const overGoal = median(relaunchTimes.map((t, i) => t - (2 * base2[i] + 100)));
  rows.push(
    row(
      'relaunch: request -> successor healthy',
      `${r1(relaunch)} ms = ${r2(median(relaunchTimes.map((t, i) => t / base2[i])))} x bare Node (baseline ${r1(median(base2))} ms; ${r1(Math.abs(overGoal))} ms ${overGoal < 0 ? 'inside' : 'over'} the goal; fastest runs: ${r1(Math.min(...relaunchTimes))} ms against ${r1(2 * Math.min(...base2) + 100)} ms)`,
      '< 2 x bare Node + 100 ms',
      overGoal < 0,
    ),
  );

  // The process that was started stays after the first relaunch, as a terminal's program, waiting for the Berth serving now
  // (app/cli/foreground.ts): what that costs, against the same process's idle size while it served.
  if (process.platform !== 'win32') {
    await sleep(3000);
    const waiting = rssMb(server.child.pid);
    rows.push(row('the started process, waiting after relaunches: RSS', `${waiting} MB = ${r2(waiting / idleRss)} x its idle RSS while serving`, '< 1.1 x idle', waiting / idleRss < 1.1));
  }

  await stopAll(port, auth, pids);

  const w = Math.max(...rows.map((r) => r.what.length));
  const m = Math.max(...rows.map((r) => r.measured.length));
  console.log('');
  for (const r of rows) console.log(`  ${r.what.padEnd(w)}  ${r.measured.padEnd(m)}  goal ${r.goal}  ${r.ok ? 'met' : 'NOT MET'}`);
  const result = { at: new Date().toISOString(), machine, baselineMs: r1(base), rounds: ROUNDS, rows };
  fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-results', 'startup.json'), JSON.stringify(result, null, 2) + '\n');
  console.log('  written to bench-results/startup.json');
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
