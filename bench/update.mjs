#!/usr/bin/env node
/**
 * Update handoff downtime: the time from the last /health answer by version N
 * to the first by version N+1, over repeated self-updates through the real
 * electron-updater and a local update server (the rig of e2e/update).
 *
 *   npm run build && node bench/update.mjs [--cycles 10] [--nsis-cycles 10] [--mac-cycles 10] [--stage-ms 1000]
 *                                          [--failed-cycles 3] [--guard-allowance-ms 3000]
 *
 * AppImage order: electron-updater starts N+1 while N still serves; N lets go
 * of the port when N+1 probes it. The AppImages are electron-builder's own
 * (test/update/fixtures/artifacts.mjs, built once and cached), so each update
 * is a differential download: the bytes the server sent for N+1 are reported
 * against its full size. NSIS order: N+1 starts only after N has exited (the
 * installer waits for it). macOS order: Squirrel.Mac (a stand-in, see
 * test/update/fixtures/mac-host.mjs) stages the update for --stage-ms while N
 * serves, then N quits through quitAndInstall and N+1 starts once N has gone:
 * the staging is reported beside the downtime, which it is not part of.
 * Failed installs (NSIS: an installer that exits 2 after it starts; macOS:
 * a Squirrel.Mac swap that fails after the quit): the downtime until the
 * guardian has started N again and it serves, which includes the guardian's
 * allowance for N+1 to come up (--guard-allowance-ms).
 * Prints the figures and writes bench-results/update.json.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRig, handoffGaps, instanceOrder, startPoller, timeWaitCount } from '../test/update/fixtures/rig.mjs';
import { ROOT } from '../test/update/fixtures/installed-app.mjs';
import { buildProblem, buildRelease } from '../test/update/fixtures/artifacts.mjs';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '10' },
    'nsis-cycles': { type: 'string', default: '10' },
    'mac-cycles': { type: 'string', default: '10' },
    'stage-ms': { type: 'string', default: '1000' },
    'failed-cycles': { type: 'string', default: '3' },
    'guard-allowance-ms': { type: 'string', default: '3000' },
  },
});

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const r = (n) => Math.round(n * 10) / 10;
  return { n: s.length, p50: r(q(0.5)), min: r(s[0]), max: r(s.at(-1)), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

async function run(kind, cycles, opts = {}) {
  const rig = await createRig({ kind, ...opts });
  try {
    // The same versions as the update tests and e2e/update, so their builds are shared through the cache.
    const versions = Array.from({ length: cycles + 1 }, (_, i) => `1.0.${i}`);
    await rig.prepare(versions);
    await rig.start(versions[0]);
    // A new connection every ~1 ms: the resolution of the measurement.
    const poller = startPoller(rig.port, 1);
    const cycleMs = [];
    const downloads = [];
    for (const v of versions.slice(1)) {
      const t0 = performance.now();
      await rig.cycle(v);
      cycleMs.push(performance.now() - t0);
      if (kind === 'appimage') {
        const b = await buildRelease('appimage', v);
        downloads.push({ version: v, sent: rig.server.bytesServed(b.name), full: b.size });
      }
    }
    const timeWait = timeWaitCount(rig.port);
    const records = await poller.stop();
    const { violations } = instanceOrder(records);
    if (violations.length) throw new Error(`two servers answered at once: ${JSON.stringify(violations)}`);
    const gaps = handoffGaps(records).map((g) => g.ms);
    if (gaps.length !== cycles) throw new Error(`expected ${cycles} handoffs, saw ${gaps.length}`);
    if (/EADDRINUSE/.test(rig.logText())) throw new Error('EADDRINUSE in the logs');
    const download = downloads.length
      ? { sentBytes: stats(downloads.map((d) => d.sent)), fullBytes: downloads[0].full, sentPercentOfFull: stats(downloads.map((d) => (100 * d.sent) / d.full)), each: downloads }
      : null;
    return { cycles, downtimeMs: stats(gaps), gapsMs: gaps.map((g) => Math.round(g * 10) / 10), updateCycleMs: stats(cycleMs), timeWaitAtEnd: timeWait, download };
  } finally {
    await rig.close();
  }
}

/** Installs that fail after the port was let go: each ends with N serving again, started by the guardian. */
async function failed(kind, cycles) {
  const gaps = [];
  for (let i = 0; i < cycles; i++) {
    const rig = await createRig({ kind, guardAllowanceMs: Number(values['guard-allowance-ms']) });
    try {
      await rig.start('1.0.0');
      const poller = startPoller(rig.port, 1);
      await rig.failedCycle('1.0.1');
      const records = await poller.stop();
      const { violations } = instanceOrder(records);
      if (violations.length) throw new Error(`two servers answered at once: ${JSON.stringify(violations)}`);
      const g = handoffGaps(records);
      if (g.length !== 1) throw new Error(`expected one recovery, saw ${g.length}`);
      gaps.push(g[0].ms);
    } finally {
      await rig.close();
    }
  }
  return { cycles, guardAllowanceMs: Number(values['guard-allowance-ms']), downtimeMs: stats(gaps), gapsMs: gaps.map((g) => Math.round(g * 10) / 10) };
}

if (!fs.existsSync(path.join(ROOT, 'out/app/cli.js'))) {
  console.error('bench/update.mjs: run `npm run build` first (out/app is missing)');
  process.exit(2);
}
const cannotBuild = buildProblem('appimage');
if (cannotBuild) {
  console.error(`bench/update.mjs: cannot build the AppImages it updates between: ${cannotBuild}`);
  process.exit(2);
}
const result = {
  bench: 'update',
  at: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  appimage: await run('appimage', Number(values.cycles)),
  nsis: Number(values['nsis-cycles']) > 0 ? await run('nsis', Number(values['nsis-cycles'])) : null,
  mac: Number(values['mac-cycles']) > 0 ? { stageMs: Number(values['stage-ms']), ...(await run('mac', Number(values['mac-cycles']), { stageMs: Number(values['stage-ms']) })) } : null,
  nsisFailed: Number(values['failed-cycles']) > 0 ? await failed('nsis', Number(values['failed-cycles'])) : null,
  macFailed: Number(values['failed-cycles']) > 0 ? await failed('mac', Number(values['failed-cycles'])) : null,
};
const line = (name, r) =>
  `${name}: update handoff downtime p50 ${r.downtimeMs.p50} ms (min ${r.downtimeMs.min}, max ${r.downtimeMs.max}, n=${r.cycles}); whole update (check, download, install, handoff) p50 ${r.updateCycleMs.p50} ms`;
console.log(line('AppImage order (new version starts beside the old)', result.appimage));
const d = result.appimage.download;
const kb = (n) => `${Math.round(n / 1024)} KB`;
console.log(
  `AppImage differential download: p50 ${kb(d.sentBytes.p50)} sent of ${kb(d.fullBytes)} (${d.sentPercentOfFull.p50} % of the full file; min ${kb(d.sentBytes.min)}, max ${kb(d.sentBytes.max)}, n=${d.sentBytes.n})`,
);
if (result.nsis) console.log(line('NSIS order (new version starts after the old exits)', result.nsis));
if (result.mac) console.log(line(`macOS order (Squirrel.Mac stages for ${result.mac.stageMs} ms while the old version serves, then the old quits)`, result.mac));
const recovery = (name, r) =>
  `${name}: port down until the guardian's Berth serves p50 ${r.downtimeMs.p50} ms (min ${r.downtimeMs.min}, max ${r.downtimeMs.max}, n=${r.cycles}; the guardian allows N+1 ${r.guardAllowanceMs} ms)`;
if (result.nsisFailed) console.log(recovery('NSIS installer fails after it starts (exit 2)', result.nsisFailed));
if (result.macFailed) console.log(recovery("Squirrel.Mac's swap fails after the quit", result.macFailed));
const out = path.join(ROOT, 'bench-results', 'update.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${path.relative(process.cwd(), out) || out}`);
