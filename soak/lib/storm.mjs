// Start storms: many `berth serve` at once on one fresh port and data dir.
// The promise: exactly one serves; every other exits 3 and says who is running.
import { health, jsonLines, procs, runBerth, sleep, stopBerth, tempDir, freePort, rmDir, alive } from './common.mjs';

export async function runStorm({ size = 16, timeoutMs = 60_000 } = {}) {
  const port = await freePort();
  const dataDir = tempDir('berth-soak-storm-');
  const started = performance.now();
  const ps = Array.from({ length: size }, () => runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir]));
  const round = { port, size, serving: 0, exit3: 0, exit3WithMessage: 0, other: [], ms: 0, healthPid: null, ok: false };
  try {
    // Everyone but the winner exits; the winner prints its serving line. Wait for both to be settled.
    const until = Date.now() + timeoutMs;
    const settled = () => ps.every((p) => p.child.exitCode !== null || p.child.signalCode !== null || jsonLines(p.stdout()).some((l) => l.event === 'serving'));
    while (!settled() && Date.now() < until) await sleep(20);
    round.ms = Math.round(performance.now() - started);
    const h = await health(port);
    round.healthPid = h?.pid ?? null;
    for (const p of ps) {
      const serving = jsonLines(p.stdout()).find((l) => l.event === 'serving');
      const running = p.child.exitCode === null && p.child.signalCode === null;
      if (serving && running) {
        round.serving++;
        continue;
      }
      if (p.child.exitCode === 3) {
        round.exit3++;
        const err = jsonLines(p.stdout()).find((l) => l.exitCode === 3);
        if (err && /already running at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/.test(err.error)) round.exit3WithMessage++;
        continue;
      }
      round.other.push({ pid: p.pid, exit: running ? 'still running' : (p.child.exitCode ?? p.child.signalCode), out: headAndTail(p.stdout() + p.stderr()) });
    }
    const winner = ps.find((p) => jsonLines(p.stdout()).some((l) => l.event === 'serving') && alive(p.pid));
    round.ok = round.serving === 1 && round.exit3 === size - 1 && round.exit3WithMessage === size - 1 && winner?.pid === round.healthPid;
  } finally {
    for (const p of ps) await stopBerth(p);
    await procs.killAll();
    rmDir(dataDir);
  }
  return round;
}

export async function runStorms({ rounds = 50, size = 16, onProgress = () => undefined } = {}) {
  const results = [];
  for (let i = 0; i < rounds; i++) {
    results.push(await runStorm({ size }));
    if (i % 10 === 9) onProgress(`storm rounds ${i + 1}/${rounds}`);
  }
  const ms = results.map((r) => r.ms);
  return {
    rounds,
    size,
    okRounds: results.filter((r) => r.ok).length,
    exactlyOneServing: results.filter((r) => r.serving === 1).length,
    exit3: results.reduce((a, r) => a + r.exit3, 0),
    exit3WithMessage: results.reduce((a, r) => a + r.exit3WithMessage, 0),
    failures: results.filter((r) => !r.ok),
    settleMs: { p50: ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)], max: ms[ms.length - 1] },
  };
}

function headAndTail(text) {
  return text.length <= 900 ? text : `${text.slice(0, 600)}\n...\n${text.slice(-300)}`;
}
