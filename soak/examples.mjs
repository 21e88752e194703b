// `npm run soak:examples`: the example apps through the counts of issue 21, under
// keep-alive and new-connection load (soak/lib/examples.mjs): 100 in-place restarts
// and 20 relaunches each, and 20 restarts of the Python example's child. Every
// request counts: the run fails on any failed request. Bounded by a time cap.
//
//   node soak/examples.mjs            the full counts (about 10 minutes on 2 cores)
//   node soak/examples.mjs --quick    20 restarts, 3 relaunches, 5 child restarts
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './lib/common.mjs';
import { prepareExample, runExample } from './lib/examples.mjs';

const quick = process.argv.includes('--quick');
const counts = quick ? { restarts: 20, relaunches: 3, childRestarts: 5 } : { restarts: 100, relaunches: 20, childRestarts: 20 };
setTimeout(() => {
  console.error('soak:examples: time cap of 30 minutes reached');
  process.exit(1);
}, 30 * 60_000).unref();

const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
const results = [];
for (const name of ['notes', 'bookmarks']) {
  prepareExample(name);
  const c = name === 'bookmarks' ? counts : { ...counts, childRestarts: 0 };
  log(`${name}: ${c.restarts} in-place restarts, ${c.relaunches} relaunches${c.childRestarts ? `, ${c.childRestarts} child restarts` : ''}`);
  results.push(await runExample(name, { ...c, log }));
}
console.log('\n| example | in-place restarts | relaunches | child restarts | requests | failed | latency p50 / p99 / max (ms) |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.example} | ${r.restarts} | ${r.relaunches} | ${r.childRestarts} | ${r.requests} | ${r.failed} ${r.failed ? JSON.stringify({ ...r.failures, ...r.statuses }) : ''} | ${r.latencyMs.p50} / ${r.latencyMs.p99} / ${r.latencyMs.max} |`);
fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
fs.writeFileSync(path.join(ROOT, 'bench-results', 'soak-examples.json'), JSON.stringify({ at: new Date().toISOString(), quick, results }, null, 2) + '\n');
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`\nExamples soak ${failed ? `FAILED (${failed} failed requests)` : 'passed'}. JSON: bench-results/soak-examples.json`);
process.exit(failed ? 1 : 0);
