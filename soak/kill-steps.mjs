// `npm run soak:kill-steps`: only the soak's "kill at each step" table
// (soak/lib/kill-steps.mjs), as Markdown for docs/RELIABILITY.md. Linux only.
//
//   node soak/kill-steps.mjs               one trial of each step x process x signal (24 trials)
//   node soak/kill-steps.mjs --trials 3    three of each
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, procs } from './lib/common.mjs';
import { KILL_STEPS_HEADERS, killStepsRow, runKillSteps } from './lib/kill-steps.mjs';

const at = process.argv.indexOf('--trials');
const trials = at > 0 ? Number(process.argv[at + 1]) : 1;
if (!Number.isInteger(trials) || trials < 1) {
  console.error('soak:kill-steps: --trials takes a whole number of at least 1');
  process.exit(2);
}
if (process.platform !== 'linux') {
  console.error('soak:kill-steps: Linux only (the successor is found in /proc)');
  process.exit(2);
}
if (!fs.existsSync(path.join(ROOT, 'out', 'app', 'cli.js'))) {
  console.error('soak:kill-steps: out/ is missing; run `npm run build` first (npm run soak:kill-steps does).');
  process.exit(2);
}
// Bounded: a hung trial ends the run, and every process started is stopped.
const stop = async (code) => {
  await procs.killAll().catch(() => 0);
  process.exit(code);
};
const capMinutes = trials * 30;
setTimeout(() => {
  console.error(`soak:kill-steps: time cap of ${capMinutes} minutes reached`);
  void stop(1);
}, capMinutes * 60_000).unref();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void stop(130));

const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const started = Date.now();
log(`kill at each step: ${trials} trial(s) of each step x process x signal; load average ${load()} on ${os.cpus().length} cores`);
const ks = await runKillSteps({ trials, onProgress: log });
const bad = ks.cells.filter((c) => c.none || c.twoOrMore || c.lost || c.problems.length);
console.log(`\n| ${KILL_STEPS_HEADERS.join(' | ')} |`);
console.log(`|${KILL_STEPS_HEADERS.map(() => '---').join('|')}|`);
for (const c of ks.cells) console.log(`| ${killStepsRow(c).join(' | ')} |`);
console.log(
  `\n${ks.cells.length * trials} trials in ${((Date.now() - started) / 60_000).toFixed(1)} min, load average ${load()} at the end on ${os.cpus().length} cores, node ${process.version}: ` +
    `${ks.zeroServerTrials} ended with no Berth (goal 0), ${ks.lost} requests lost, ${bad.length} cell(s) not ok.`,
);
await stop(bad.length ? 1 : 0);
