// In-process restarts and process relaunches of a real `berth serve`, driven
// through its API with the token, while a separate process keeps a keep-alive
// load on the port.
import http from 'node:http';
import path from 'node:path';
import { alive, countMatches, health, jsonLines, logText, procs, readText, readToken, sleep, startedWaits, startServe, stopBerth, summarize, tempDir, freePort, rmDir, waitFor } from './common.mjs';
import { startLoad } from './load.mjs';
import { fdCount, listenersAsync, rssKiB, timeWaitSampler } from './procfs.mjs';

// The driver's own requests share one keep-alive socket, like the UI's, and are retried when the port is changing hands.
const driverAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function call(port, token, method, urlPath, { budgetMs = 15_000 } = {}) {
  const until = Date.now() + budgetMs;
  for (;;) {
    try {
      return await new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, agent: driverAgent, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          const chunks = [];
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
          res.on('error', reject);
        });
        // A restart or relaunch answers once it is done (a relaunch after its successor's confirmation window).
        req.setTimeout(/^\/api\/(restart|relaunch)$/.test(urlPath) ? 60_000 : 5000, () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      });
    } catch (err) {
      if (Date.now() > until) throw err;
      await sleep(2);
    }
  }
}

const lastKey = (history) => {
  const h = history[history.length - 1];
  return h ? `${h.kind}|${h.at}|${h.downtimeMs}` : '';
};

/** Memory and descriptors of a server with no client connected (the load is stopped first). */
async function quietFigures(pid) {
  await sleep(300);
  return { rssKiB: rssKiB(pid), fds: fdCount(pid) };
}

export async function runRestartSoak({ restarts = 1000, relaunches = 100, connections = 8, onProgress = () => undefined } = {}) {
  const port = await freePort();
  const dataDir = tempDir('berth-soak-restart-');
  const outFile = path.join(dataDir, 'serve-output.txt');
  const result = { port, dataDir, restarts: {}, relaunches: {}, problems: [] };
  const tw = timeWaitSampler(port);
  let current;
  try {
    current = await startServe(port, dataDir, ['--drain-timeout', '1000'], { outFile });
    const token = readToken(dataDir);
    // Warm up the paths the load uses before the first figures are taken.
    for (let i = 0; i < 50; i++) await health(port);
    const before = await quietFigures(current.pid);

    // Phase 1: in-process restarts.
    let load = startLoad({ port, connections, paths: ['/health', '/', '/api/session'] });
    await load.ready;
    await sleep(200);
    const serverDowntimes = [];
    const trail = [];
    let key = lastKey((await call(port, token, 'GET', '/api/status')).json.history);
    const t0 = Date.now();
    for (let i = 0; i < restarts; i++) {
      const r = await call(port, token, 'POST', '/api/restart');
      if (r.status !== 200) throw new Error(`restart ${i}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
      const status = await waitFor(async () => {
        const s = await call(port, token, 'GET', '/api/status');
        return lastKey(s.json.history) !== key && s.json.state === 'serving' ? s.json : null;
      }, `restart ${i} to finish`, 15_000, 1);
      const entry = status.history[status.history.length - 1];
      if (entry.kind !== 'restart') result.problems.push(`restart ${i}: last history entry is ${entry.kind}`);
      serverDowntimes.push(entry.downtimeMs);
      key = lastKey(status.history);
      if (status.pid !== current.pid) result.problems.push(`restart ${i}: pid changed to ${status.pid}`);
      if (i % Math.max(1, Math.floor(restarts / 10)) === 0) trail.push({ restart: i, rssKiB: rssKiB(current.pid), fds: fdCount(current.pid) });
      if (i % 100 === 99) onProgress(`restarts ${i + 1}/${restarts}`);
    }
    const restartMs = Date.now() - t0;
    const restartLoad = await load.stop();
    const after = await quietFigures(current.pid);
    result.restarts = {
      count: restarts,
      ms: restartMs,
      serverDowntimeMs: summarize(serverDowntimes),
      load: restartLoad,
      before,
      after,
      rssGrowthKiB: after.rssKiB !== null && before.rssKiB !== null ? after.rssKiB - before.rssKiB : null,
      fdGrowth: after.fds !== null && before.fds !== null ? after.fds - before.fds : null,
      trail,
    };

    // Phase 2: relaunches; each one is a new process that inherits the output file.
    const firstPid = current.pid;
    const pids = [current.pid];
    load = startLoad({ port, connections, paths: ['/health', '/', '/api/session'] });
    await load.ready;
    await sleep(200);
    const relaunchDowntimes = [];
    const predecessorExitMs = [];
    let serving = await health(port);
    const t1 = Date.now();
    for (let i = 0; i < relaunches; i++) {
      const old = serving;
      // The answer comes once the relaunch is confirmed (after the successor's window): the time is from the request.
      const tAccepted = performance.now();
      const answer = call(port, token, 'POST', '/api/relaunch');
      serving = await waitFor(async () => {
        const h = await health(port, '127.0.0.1', 1000);
        return h && h.instance !== old.instance && h.state === 'serving' ? h : null;
      }, `relaunch ${i}: a successor serving`, 20_000, 2);
      relaunchDowntimes.push(Math.round((performance.now() - tAccepted) * 100) / 100);
      const accepted = await answer;
      if (accepted.status !== 200) throw new Error(`relaunch ${i}: HTTP ${accepted.status} ${JSON.stringify(accepted.json)}`);
      procs.track(serving.pid, dataDir);
      pids.push(serving.pid);
      const tExit = performance.now();
      // Each predecessor exits, but the process that was started, which waits for the Berth serving now (a foreground program).
      if (old.pid === firstPid) await waitFor(() => startedWaits(dataDir, old.pid), `relaunch ${i}: the started pid ${old.pid} to hand over and wait`, 10_000, 5);
      else await waitFor(() => !alive(old.pid), `relaunch ${i}: predecessor pid ${old.pid} to exit`, 10_000, 5);
      predecessorExitMs.push(Math.round((performance.now() - tExit) * 100) / 100);
      const listening = await listenersAsync(port);
      if (listening !== null && listening !== 1) result.problems.push(`relaunch ${i}: ${listening} listeners on the port`);
      if (i % 10 === 9) onProgress(`relaunches ${i + 1}/${relaunches}`);
    }
    const relaunchMs = Date.now() - t1;
    const relaunchLoad = await load.stop();
    const last = serving.pid;
    const lastFigures = await quietFigures(last);
    const servingLines = jsonLines(readText(outFile)).filter((l) => l.event === 'serving');
    result.relaunches = {
      count: relaunches,
      ms: relaunchMs,
      unavailableMs: summarize(relaunchDowntimes),
      predecessorExitMs: summarize(predecessorExitMs),
      load: relaunchLoad,
      distinctPids: new Set(pids).size,
      servingLines: servingLines.length,
      firstProcess: after,
      lastProcess: lastFigures,
      stillAliveBesidesLast: pids.filter((p) => p !== last && p !== firstPid && alive(p)).length,
      startedProcessWaits: process.platform === 'win32' ? null : alive(firstPid),
      firstPid,
      lastPid: last,
    };
    const logs = logText(dataDir) + readText(outFile);
    result.eaddrinuse = countMatches(logs, /EADDRINUSE/);
    result.bindRaces = countMatches(logs, /taken between probe and bind/);
    result.errorsLogged = countMatches(logs, /"level":50/);
  } finally {
    result.timeWaitPeak = await tw.stop();
    // Stop whichever generation is serving now, then anything else this run started.
    const h = await health(port);
    if (h && procs.ours(h.pid)) procs.signal(h.pid, 'SIGTERM');
    if (current) await stopBerth(current);
    await waitFor(() => !h || !alive(h.pid), 'the last Berth to exit', 10_000).catch(() => undefined);
    await procs.killAll();
    driverAgent.destroy();
    rmDir(dataDir);
  }
  return result;
}

