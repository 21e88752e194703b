// The in-place restart's client-seen gap, before and after a change: this
// checkout's Berth against another checkout's (built), in alternating rounds
// so load that comes and goes on a shared machine falls on both. Each round
// serves one Berth afresh and takes `--restarts` restart windows, each right
// after a window without a restart (the control), so both see the same load;
// a round's figure is its restart/control ratio at p50 and p99, and the
// summary is the median of the rounds' ratios. Notes (examples/notes, this
// checkout) takes its rounds alongside.
//
//   node bench/compare-restart-gap.mjs [--against <checkout>] [--rounds 8] [--restarts 100] [--no-notes]
//
// `npm run bench` runs it with its defaults (this checkout's console and Notes);
// core.mjs and hosting.mjs measure the same gap back to back.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, cleanEnv, freePort, median, pct, r2, sleep, stopAll } from './lib/berth.mjs';
import { interleavedGaps, startPoller } from './lib/gaps.mjs';
import { EXAMPLES, prepareExample } from '../soak/lib/examples.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ROUNDS = Number(opt('--rounds', 8));
const RESTARTS = Number(opt('--restarts', 100));
const against = opt('--against', null);

const subjects = [{ name: 'console (this checkout)', cli: path.join(ROOT, 'bin', 'berth.js'), poll: '/health' }];
if (against) subjects.push({ name: `console (${against})`, cli: path.join(path.resolve(against), 'bin', 'berth.js'), poll: '/health' });
if (!argv.includes('--no-notes')) {
  prepareExample('notes');
  subjects.push({ name: 'Notes (this checkout)', cli: path.join(EXAMPLES.notes.dir, EXAMPLES.notes.cli), poll: '/' });
}

async function serve(cli) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-gap-'));
  const port = await freePort();
  const child = spawn(process.execPath, [cli, 'serve', '--json', '--port', String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'ignore'], env: cleanEnv() });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 3000 && !out.includes('"event":"serving"'); i++) await sleep(10);
  if (!out.includes('"event":"serving"')) throw new Error(`${cli} did not start`);
  const info = JSON.parse(out.split('\n').find((l) => l.includes('"event":"serving"')));
  const auth = { Authorization: `Bearer ${fs.readFileSync(path.join(dataDir, 'auth-token'), 'utf8').trim()}` };
  return {
    port,
    auth,
    stop: async () => {
      await stopAll(port, auth, new Set([info.pid]));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function round(subject) {
  const s = await serve(subject.cli);
  const poller = startPoller(s.port, subject.poll);
  try {
    await sleep(500);
    return await interleavedGaps(s.port, s.auth, poller, RESTARTS);
  } finally {
    poller.stop();
    await s.stop();
  }
}

console.log(`In-place restart gap, ${ROUNDS} rounds x ${RESTARTS} restarts (each after a control window), on ${os.cpus().length} x ${os.cpus()[0]?.model}, load ${os.loadavg().map(r2).join(' ')}`);
const results = new Map(subjects.map((s) => [s.name, { p50: [], p99: [], restart: [], control: [] }]));
for (let r = 0; r < ROUNDS; r++) {
  // Turn the order each round: no subject always runs first (after the machine was quiet) or last.
  const order = subjects.map((_, i) => subjects[(i + r) % subjects.length]);
  const line = [];
  for (const subject of order) {
    const { restartGaps, controlGaps } = await round(subject);
    const res = results.get(subject.name);
    res.p50.push(pct(restartGaps, 50) / pct(controlGaps, 50));
    res.p99.push(pct(restartGaps, 99) / pct(controlGaps, 99));
    res.restart.push(...restartGaps);
    res.control.push(...controlGaps);
    line.push(`${subject.name} p50 ${r2(res.p50.at(-1))} x, p99 ${r2(res.p99.at(-1))} x`);
  }
  console.log(`  round ${r + 1}: ${line.join('; ')}`);
}
for (const [name, res] of results) {
  console.log(
    `  ${name.padEnd(40)} restart/control, median of rounds: p50 ${r2(median(res.p50))} x, p99 ${r2(median(res.p99))} x; pooled: restart p50 ${r2(pct(res.restart, 50))} ms, p99 ${r2(pct(res.restart, 99))} ms, control p50 ${r2(pct(res.control, 50))} ms, p99 ${r2(pct(res.control, 99))} ms`,
  );
}
fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
fs.writeFileSync(
  path.join(ROOT, 'bench-results', 'compare-restart-gap.json'),
  JSON.stringify({ at: new Date().toISOString(), rounds: ROUNDS, restarts: RESTARTS, loadavg: os.loadavg(), subjects: Object.fromEntries([...results].map(([n, r]) => [n, { ratioP50: r.p50.map(r2), ratioP99: r.p99.map(r2) }])) }, null, 2) + '\n',
);
