// `npm run soak`: Berth's reliability and security harness. Bounded (a hard
// time cap, every loop counted), loopback only, and it cleans up every process
// it started. Prints tables and writes bench-results/soak.json.
//
//   node soak/run.mjs            the full soak (about 10-15 minutes on 2 cores)
//   node soak/run.mjs --quick    a short run (or SOAK_QUICK=1)
//   node soak/kill-steps.mjs     only the "kill at each step" table
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, freePort, procs, readToken, startServe, stopBerth, tempDir, rmDir } from './lib/common.mjs';
import { runRestartSoak } from './lib/restarts.mjs';
import { runStorms } from './lib/storm.mjs';
import * as faults from './lib/faults.mjs';
import { runHostile } from './lib/hostile.mjs';
import { KILL_STEPS_HEADERS, killStepsRow, runKillSteps } from './lib/kill-steps.mjs';

const quick = process.argv.includes('--quick') || process.env.SOAK_QUICK === '1';
const P = quick
  ? { restarts: 100, relaunches: 5, stormRounds: 3, stormSize: 16, saveKills: 50, slowCount: 20, slowBody: false, timingSamples: 50, killTrials: 1, capMinutes: 25 }
  : { restarts: 1000, relaunches: 100, stormRounds: 50, stormSize: 16, saveKills: 200, slowCount: 100, slowBody: true, timingSamples: 500, killTrials: 3, capMinutes: 60 };

if (!fs.existsSync(path.join(ROOT, 'out', 'app', 'cli.js'))) {
  console.error('soak: out/ is missing; run `npm run build` first (npm run soak does).');
  process.exit(2);
}

let cleaning = false;
async function cleanup(code) {
  if (cleaning) return;
  cleaning = true;
  const n = await procs.killAll().catch(() => 0);
  if (n) console.error(`soak: ended ${n} leftover process(es) it had started`);
  process.exit(code);
}
// Bounded no matter what: a hung step ends the run, and every process started is stopped.
setTimeout(() => {
  console.error(`soak: hard time cap of ${P.capMinutes} minutes reached; stopping (the JSON keeps what was measured so far)`);
  writeReport({ aborted: `time cap of ${P.capMinutes} minutes` });
  void cleanup(1);
}, P.capMinutes * 60_000).unref();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup(130));

const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function machine() {
  return {
    nproc: sh('nproc', []) ?? String(os.cpus().length),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memory: sh('free', ['-h'])?.split('\n')[1]?.replace(/\s+/g, ' ') ?? `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavgAtStart: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function table(title, headers, rows) {
  const widths = headers.map((h, i) => Math.min(90, Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length))));
  const line = (cells) => '| ' + cells.map((c, i) => String(c ?? '').slice(0, widths[i]).padEnd(widths[i])).join(' | ') + ' |';
  console.log(`\n${title}\n`);
  console.log(line(headers));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

function writeReport(extra = {}) {
  Object.assign(report, extra);
  report.ms = Date.now() - started;
  report.failures = failures + (extra.aborted ? 1 : 0);
  report.ok = report.failures === 0;
  const outDir = path.join(ROOT, 'bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'soak.json'), JSON.stringify(report, null, 2) + '\n');
}

const fmt = (s) => (s ? `${s.p50} / ${s.p99} / ${s.max}` : 'n/a');
const started = Date.now();
const report = { quick, parameters: P, machine: machine(), startedAt: new Date().toISOString() };
let failures = 0;

try {
  log(`soak ${quick ? '(quick) ' : ''}on ${report.machine.nproc} cores, node ${process.version}`);

  log(`restarts: ${P.restarts} in-process, then ${P.relaunches} relaunches, under keep-alive load`);
  const r = await runRestartSoak({ restarts: P.restarts, relaunches: P.relaunches, onProgress: log });
  report.restarts = r;
  // Restarts keep the listening socket and relaunches hand it over: nothing may be refused or reset, let alone lost.
  const untouched = (load) => load.lost === 0 && load.retried === 0;
  const rOk = r.problems.length === 0 && r.eaddrinuse === 0 && untouched(r.restarts.load) && untouched(r.relaunches.load) && r.restarts.fdGrowth <= 2 && r.relaunches.stillAliveBesidesLast === 0;
  if (!rOk) failures++;

  log(`start storms: ${P.stormRounds} rounds of ${P.stormSize}`);
  const storms = await runStorms({ rounds: P.stormRounds, size: P.stormSize, onProgress: log });
  report.storms = storms;
  if (storms.okRounds !== storms.rounds) failures++;

  if (process.platform === 'linux') {
    log(`kill at each step: ${P.killTrials} trial(s) of each step x process x signal`);
    report.killSteps = await runKillSteps({ trials: P.killTrials, onProgress: log });
    // Nothing may be lost: no trial ends with no Berth unless a stop was asked for and taken, none with two, no request unanswered.
    failures += report.killSteps.cells.filter((c) => c.none > 0 || c.twoOrMore > 0 || c.lost > 0 || c.problems.length > 0).length;
  } else report.killSteps = { skipped: 'Linux only (the successor is found in /proc)' };

  log('faults');
  const faultRows = [];
  const step = async (name, fn) => {
    log(`  ${name}`);
    try {
      faultRows.push(...[await fn()].flat());
    } catch (err) {
      faultRows.push({ name, expected: 'runs', observed: `harness error: ${String(err).slice(0, 200)}`, ok: false });
    }
  };
  await step('kill mid-drain', faults.killMidDrain);
  await step('stopped predecessor', faults.stoppedPredecessor);
  await step('never kills others', faults.neverKillsOthers);
  await step('foreign between probe and bind (http)', () => faults.foreignBetweenProbeAndBind('http'));
  await step('foreign between probe and bind (silent)', () => faults.foreignBetweenProbeAndBind('silent'));
  await step('read-only data dir', faults.readOnlyDataDir);
  await step('corrupt settings', faults.corruptSettings);
  await step('token faults', faults.tokenFaults);
  await step(`SIGKILL during save x${P.saveKills}`, async () => (await faults.killDuringSave({ times: P.saveKills })).row);
  for (const [name, fn] of faults.trustCases) await step(name, fn);
  report.faults = faultRows;
  failures += faultRows.filter((f) => !f.ok).length;

  log('hostile input');
  const port = await freePort();
  const dataDir = tempDir('berth-soak-hostile-');
  try {
    const server = await startServe(port, dataDir);
    report.hostile = await runHostile({ port, token: readToken(dataDir), slowCount: P.slowCount, slowBody: P.slowBody, timingSamples: P.timingSamples });
    await stopBerth(server);
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
  failures += report.hostile.rows.filter((x) => !x.ok).length + (report.hostile.survived ? 0 : 1) + (report.hostile.timing.ok ? 0 : 1);

  // ---- tables ----
  const rs = r.restarts;
  const rl = r.relaunches;
  table(`Restarts and relaunches under keep-alive load (${rs.load.connections ?? 8} connections, separate process)`, ['figure', `${rs.count} in-process restarts`, `${rl.count} relaunches`], [
    ['took', `${(rs.ms / 1000).toFixed(1)} s`, `${(rl.ms / 1000).toFixed(1)} s`],
    ['requests acknowledged / lost', `${rs.load.acknowledged} / ${rs.load.lost}`, `${rl.load.acknowledged} / ${rl.load.lost}`],
    ['attempts refused or reset (retried)', `${rs.load.retried}: ${JSON.stringify(rs.load.attemptErrors)}`, `${rl.load.retried}: ${JSON.stringify(rl.load.attemptErrors)}`],
    ['non-200 answers', JSON.stringify(rs.load.statuses), JSON.stringify(rl.load.statuses)],
    ['server-side downtime p50 / p99 / max (ms)', `${fmt(rs.serverDowntimeMs)} (in place: the socket stays open)`, `${fmt(rl.unavailableMs)} (202 to new instance serving; includes successor startup)`],
    ['client-seen outage p50 / p99 / max (ms)', `${fmt(rs.load.gapsMs)} (${rs.load.gapsMs.n} outages)`, `${fmt(rl.load.gapsMs)} (${rl.load.gapsMs.n} outages)`],
    ['request latency p50 / p99 / max (ms)', fmt(rs.load.latencyMs), fmt(rl.load.latencyMs)],
    ['EADDRINUSE in logs', String(r.eaddrinuse), ''],
    ['peak TIME_WAIT on the port (server side / all)', `${r.timeWaitPeak.server} / ${r.timeWaitPeak.all}`, ''],
    ['RSS along the restarts (KiB, under load)', rs.trail.map((t) => t.rssKiB).join(' '), ''],
    ['RSS before -> after (KiB)', `${rs.before.rssKiB} -> ${rs.after.rssKiB}`, `first ${rl.firstProcess.rssKiB}, last ${rl.lastProcess.rssKiB}`],
    ['open fds before -> after', `${rs.before.fds} -> ${rs.after.fds}`, `first ${rl.firstProcess.fds}, last ${rl.lastProcess.fds}`],
    ['processes', `1 (pid unchanged: ${r.problems.every((p) => !p.includes('pid changed'))})`, `${rl.distinctPids} pids, ${rl.stillAliveBesidesLast} predecessors left alive${rl.startedProcessWaits ? ' (the started one waits for the last, as a foreground program)' : ''}`],
    ['problems', r.problems.length ? r.problems.slice(0, 3).join('; ') : 'none', ''],
  ]);
  table(`Start storms: ${storms.size} \`berth serve\` at once on a fresh port`, ['rounds', 'exactly one serving', 'others exit 3 with message', 'settle p50 / max (ms)', 'failed rounds'], [
    [storms.rounds, storms.exactlyOneServing, `${storms.exit3WithMessage} / ${storms.rounds * (storms.size - 1)}`, `${storms.settleMs.p50} / ${storms.settleMs.max}`, storms.failures.length ? JSON.stringify(storms.failures.slice(0, 2)).slice(0, 200) : 'none'],
  ]);
  if (report.killSteps.cells) {
    const ks = report.killSteps;
    table(
      `Kill at each step of a relaunch (the socket handed over), under keep-alive load: ${ks.trials} trial(s) each; ${ks.zeroServerTrials} ended with no Berth (goal 0), ${ks.lost} requests lost`,
      KILL_STEPS_HEADERS,
      ks.cells.map(killStepsRow),
    );
  }
  table('Faults', ['fault', 'expected', 'observed', 'ok'], faultRows.map((f) => [f.name, f.expected, f.observed, f.ok ? 'yes' : 'NO']));
  table(`Hostile input (server pid ${report.hostile.pid} ${report.hostile.survived ? 'kept serving throughout' : 'DID NOT SURVIVE'})`, ['group', 'case', 'expected', 'got', 'ok'], report.hostile.rows.map((x) => [x.group, x.name + (x.detail ? ` (${x.detail})` : ''), x.expect, x.status, x.ok ? 'yes' : 'NO']));
  const t = report.hostile.timing;
  table(`Token timing probe (${t.samples} interleaved samples each; a figure, not a limit)`, ['token', 'status', 'ms p50 / p99 / max'], [
    ['all but the last character right', t.nearlyRight.statuses.join(','), fmt(t.nearlyRight)],
    ['nothing right', t.allWrong.statuses.join(','), fmt(t.allWrong)],
  ]);
} catch (err) {
  failures++;
  report.error = String(err?.stack ?? err);
  console.error(`soak: ${report.error}`);
}

writeReport();
console.log(`\nSoak ${report.ok ? 'passed' : `FAILED (${failures} failing check(s))`} in ${(report.ms / 60_000).toFixed(1)} min on ${report.machine.nproc} cores (${report.machine.memory}), node ${process.version}. JSON: bench-results/soak.json`);
await cleanup(report.ok ? 0 : 1);
