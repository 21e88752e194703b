// Core benchmarks: what a client sees of a restart and a relaunch, duplicate detection, idle RSS.
// Figures are printed and written to bench-results/core.json; compare them as
// ratios within one run (the machine is shared and noisy).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, freePort, health, pct, r2, requestRetrying, rssMb, sleep, startServe, stopAll, timeCommand } from './lib/berth.mjs';
import { restartGapsAndControl, startPoller } from './lib/gaps.mjs';

const args = new Set(process.argv.slice(2));
const RESTARTS = args.has('--quick') ? 100 : 500;
const RELAUNCHES = args.has('--quick') ? 5 : 20;

async function nodeBaseline(n = 20) {
  const times = [];
  for (let i = 0; i < n; i++) times.push((await timeCommand(['-e', ''])).ms);
  return pct(times, 50);
}

async function main() {
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: r2(os.totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${os.release()}` };
  console.log(`Berth core benchmarks on ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}`);
  const baseline = await nodeBaseline();
  console.log(`  node -e '' startup (baseline)          p50 ${r2(baseline)} ms`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  const token = () => fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim();
  const port = await freePort();
  const { info } = await startServe(port, dataDir);
  const pids = new Set([info.pid]);

  await sleep(3000);
  const idleRss = rssMb(info.pid);
  console.log(`  headless idle RSS                       ${idleRss} MB (goal < 80 MB)`);

  // In-process restart: the longest stretch without a /health answer, seen by a client polling from another process.
  const poller = startPoller(port);
  await sleep(300);
  const auth = { Authorization: `Bearer ${token()}` };
  const { restartGaps, controlGaps } = await restartGapsAndControl(port, auth, poller, RESTARTS);
  // The restart keeps the listening socket, so its gap should be the control's: the ratio says how close.
  console.log(`  in-place restart, client-seen gap       p50 ${r2(pct(restartGaps, 50))} ms, p99 ${r2(pct(restartGaps, 99))} ms, max ${r2(Math.max(...restartGaps))} ms over ${RESTARTS}`);
  console.log(`  same window, no restart (control)       p50 ${r2(pct(controlGaps, 50))} ms, p99 ${r2(pct(controlGaps, 99))} ms`);
  console.log(`  restart / control gap                   p50 ${r2(pct(restartGaps, 50) / pct(controlGaps, 50))} x, p99 ${r2(pct(restartGaps, 99) / pct(controlGaps, 99))} x (goal: within 1.2 x at p99)`);

  // Relaunch, two series. Without the poller: restart request to successor healthy (the poller would
  // take a core from the successor's start-up on this 2-core machine). With it: the client-seen gap.
  const relaunchOnce = async (withPoller) => {
    const current = await health(port);
    if (withPoller) await poller.begin();
    const t0 = performance.now();
    // Answered once confirmed, after the successor's window: timed to the successor's /health, as before.
    const answer = requestRetrying(port, 'POST', '/api/relaunch', auth);
    let next;
    for (;;) {
      next = await health(port);
      if (next && next.instance !== current.instance) break;
      await sleep(1);
    }
    const ms = performance.now() - t0;
    const res = await answer;
    if (res.status !== 200) throw new Error(`relaunch refused: ${res.status}`);
    pids.add(next.pid);
    await sleep(20);
    return { ms, gap: withPoller ? await poller.end() : null };
  };
  const relaunchGaps = [];
  for (let i = 0; i < RELAUNCHES; i++) relaunchGaps.push((await relaunchOnce(true)).gap);
  poller.stop();
  await sleep(200);
  const relaunchTimes = [];
  for (let i = 0; i < RELAUNCHES; i++) relaunchTimes.push((await relaunchOnce(false)).ms);
  const relaunchP50 = pct(relaunchTimes, 50);
  // Against a baseline taken minutes earlier, so load that came or went since moves it; the goal is
  // judged by startup.mjs, which pairs each relaunch with a bare Node start just before it.
  console.log(`  relaunch, request -> successor healthy  p50 ${r2(relaunchP50)} ms over ${RELAUNCHES} (${r2(relaunchP50 / baseline)} x the baseline; goal judged in startup.mjs, paired)`);
  console.log(`  relaunch, client-seen gap               p50 ${r2(pct(relaunchGaps, 50))} ms, max ${r2(Math.max(...relaunchGaps))} ms over ${RELAUNCHES}`);

  // Duplicate detection: a second serve on the same port exits 3.
  const dupTimes = [];
  for (let i = 0; i < 10; i++) {
    const r = await timeCommand([BIN, 'serve', '--port', String(port), '--data-dir', dataDir]);
    if (r.code !== 3) throw new Error(`duplicate start exited ${r.code}, expected 3`);
    dupTimes.push(r.ms);
  }
  console.log(`  duplicate start -> exit 3               p50 ${r2(pct(dupTimes, 50))} ms (${r2(pct(dupTimes, 50) / baseline)} x baseline)`);

  await stopAll(port, auth, pids);

  const result = {
    at: new Date().toISOString(),
    machine,
    nodeBaselineMs: r2(baseline),
    idleRssMb: idleRss,
    restart: { cycles: RESTARTS, controlGapP50Ms: r2(pct(controlGaps, 50)), controlGapP99Ms: r2(pct(controlGaps, 99)), clientGapP50Ms: r2(pct(restartGaps, 50)), clientGapP99Ms: r2(pct(restartGaps, 99)), clientGapMaxMs: r2(Math.max(...restartGaps)), gapRatioP50: r2(pct(restartGaps, 50) / pct(controlGaps, 50)), gapRatioP99: r2(pct(restartGaps, 99) / pct(controlGaps, 99)) },
    relaunch: { cycles: RELAUNCHES, requestToHealthyP50Ms: r2(relaunchP50), goalMs: r2(2 * baseline + 100), clientGapP50Ms: r2(pct(relaunchGaps, 50)), clientGapMaxMs: r2(Math.max(...relaunchGaps)) },
    duplicateExitP50Ms: r2(pct(dupTimes, 50)),
  };
  fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-results', 'core.json'), JSON.stringify(result, null, 2) + '\n');
  console.log('  written to bench-results/core.json');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
