// Kill at each step: a relaunch (the socket handed over) under keep-alive load,
// with one of its two processes signalled at one step of the handover. Every
// step x {predecessor, successor} x {KILL, STOP, TERM, HUP}, each a number of
// trials; a trial ends with one server, or none. None is the goal only where a
// stop was asked for and taken cleanly (TERM, HUP: the started process exits
// 0 after a drain); anywhere else it is a lost Berth.
//
// Each trial has its own data folder and port: `berth serve` is started, and
// relaunched once so the predecessor is a relaunched process (as after any
// first relaunch; the started one waits, app/cli/foreground.ts). Then, with
// the load running, a second relaunch, and the fault at its step:
//
//   loading   the successor's process has started and does not serve yet
//   serving   the successor has said it serves; the predecessor still has the socket
//   draining  the predecessor has let go and finishes what it took (an idle
//             keep-alive connection of its own closes; a request still arriving
//             holds the drain open to its deadline)
//
// Linux only (the successor is found among the predecessor's children in /proc).
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import { alive, api, health, procs, readToken, rmDir, sleep, startServe, startedWaits, tempDir, freePort, waitFor } from './common.mjs';
import { startLoad } from './load.mjs';
import { childrenOf, processState } from './procfs.mjs';

export const STEPS = ['loading', 'serving', 'draining'];
export const ROLES = ['predecessor', 'successor'];
export const SIGNALS = ['SIGKILL', 'SIGSTOP', 'SIGTERM', 'SIGHUP'];

// Short deadlines keep a trial short: a stopped successor is given up on after HANDOFF_MS (long enough
// for a successor to load on a busy machine).
const HANDOFF_MS = 5000;
const DRAIN_MS = 2500;

const stopped = (pid) => processState(pid) === 'T';
const gone = (pid) => !alive(pid);

/** Log lines (JSON) of a data folder, newest last. */
function logLines(dataDir) {
  try {
    return fs
      .readFileSync(`${dataDir}/logs/berth.log`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** Which Berth instances answer /health on fresh connections now (a few tries, short timeouts). */
async function answering(port) {
  const seen = new Map();
  for (let i = 0; i < 3; i++) {
    const h = await health(port, '127.0.0.1', 800);
    if (h) seen.set(h.instance, h.pid);
    await sleep(50);
  }
  return seen;
}

/**
 * An idle keep-alive connection to whoever serves now, with a request every
 * half second so the server's keep-alive timeout never closes it: it closes
 * when that server drains.
 */
function keepAliveWatch(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let closed = false;
  let socket = null;
  let timer;
  const ping = () =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/health', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('socket', (s) => {
        if (!socket) {
          socket = s;
          s.once('close', () => (closed = true));
        }
      });
      req.on('error', resolve);
    });
  const loop = async () => {
    await ping();
    if (!closed) timer = setTimeout(loop, 500);
  };
  return {
    ready: ping().then(() => void (timer = setTimeout(loop, 500))),
    closed: () => closed,
    stop: () => {
      clearTimeout(timer);
      agent.destroy();
    },
  };
}

/** A request whose headers never finish: it holds the drain of the server that took it open to its deadline. */
function slowRequest(port) {
  const s = net.connect(port, '127.0.0.1', () => s.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: 1\r\n`));
  s.on('error', () => undefined);
  return s;
}

/** One trial: returns what it ended with. */
export async function killTrial({ step, role, signal }) {
  const port = await freePort();
  const dataDir = tempDir('berth-kill-step-');
  const result = { step, role, signal, servers: null, none: null, stoppedCleanly: false, load: null, problem: null };
  let load = null;
  let watch = null;
  let slow = null;
  try {
    const started = await startServe(port, dataDir, ['--handoff-timeout', String(HANDOFF_MS), '--drain-timeout', String(DRAIN_MS)]);
    const token = readToken(dataDir);
    // First relaunch: from now on the predecessor is a relaunched process, and the started one waits.
    // It answers once done: the successor has served through its confirmation window.
    // Setup, not the trial: on a machine too busy for the successor to serve within the handoff deadline the
    // relaunch fails (and Berth serves on, as it should); try again, and say why if it keeps failing.
    let first;
    for (let i = 0; i < 3; i++) {
      first = await api(port, token, 'POST', '/api/relaunch');
      if (first.status === 200) break;
    }
    if (first.status !== 200) throw new Error(`first relaunch: HTTP ${first.status}: ${first.json?.message ?? first.text.slice(0, 120)}`);
    await waitFor(() => startedWaits(dataDir, started.pid), 'the started process to hand over', 20_000);
    const h = await waitFor(async () => {
      const x = await health(port);
      return x && x.pid !== started.pid ? x : null;
    }, 'the first relaunched process to serve');
    const predecessor = h.pid;
    procs.track(predecessor, dataDir);

    load = startLoad({ port, connections: 4, paths: ['/health'], maxMs: 120_000 });
    await load.ready;
    watch = keepAliveWatch(port);
    await watch.ready;
    slow = slowRequest(port);
    await sleep(100);

    // Watch for the successor from before the relaunch is asked, so the earliest moment is not missed.
    const before = new Set(childrenOf(predecessor));
    let successor = null;
    const found = (async () => {
      while (!successor) {
        const next = childrenOf(predecessor).find((p) => !before.has(p));
        if (next) successor = next;
        else await sleep(1);
      }
      procs.track(successor, dataDir);
      return successor;
    })();
    // Not waited for: the answer may come only once the relaunch is done, long after the step.
    const asked = api(port, token, 'POST', '/api/relaunch').catch((err) => ({ status: String(err.code ?? err) }));
    await Promise.race([
      found,
      asked.then(async (r) => {
        if (r.status !== 200 && r.status !== 202) throw new Error(`relaunch: HTTP ${r.status}`);
        await sleep(20_000);
        throw new Error('no successor process appeared');
      }),
    ]);

    if (step === 'serving' || step === 'draining') {
      await waitFor(() => logLines(dataDir).some((e) => e.pid === successor && String(e.msg).startsWith('serving on ')), 'the successor to serve', 20_000, 2);
    }
    if (step === 'draining') await waitFor(() => watch.closed() || gone(predecessor), 'the predecessor to drain', 20_000, 2);
    const target = role === 'predecessor' ? predecessor : successor;
    if (!alive(target)) result.problem = `the ${role} had already exited at step ${step}`;
    else process.kill(target, signal);
    // After the signal, never before: a request sent before it is counted lost if unanswered, whatever follows.
    load.mark();

    // Settle: the predecessor ends (or stays stopped), and what serves the port stays the same for a while.
    const until = Date.now() + HANDOFF_MS + DRAIN_MS + 8000;
    let last = '';
    let same = 0;
    while (Date.now() < until) {
      const now = [...(await answering(port)).keys()].sort().join(',');
      same = now === last ? same + 1 : 0;
      last = now;
      if ((gone(predecessor) || stopped(predecessor)) && same >= 2) break;
    }
    const servers = await answering(port);
    result.servers = servers.size;
    result.none = servers.size === 0;
    // A stop that was asked for (TERM, HUP) and taken: the started process ended 0 after the drain.
    if (result.none) result.stoppedCleanly = (await Promise.race([started.exited, sleep(DRAIN_MS + 3000).then(() => 'running')])) === 0;
  } catch (err) {
    result.problem = String(err?.message ?? err).slice(0, 200);
  } finally {
    watch?.stop();
    slow?.destroy();
    if (load) result.load = await load.stop().catch(() => null);
    // The verdict is in: no need to wait for drains.
    await procs.killAll(0);
    if (process.env.KILL_STEPS_KEEP) console.error(`kept ${dataDir}`);
    else rmDir(dataDir);
  }
  return result;
}

/** Every step x role x signal, `trials` times each. */
export async function runKillSteps({ trials = 1, steps = STEPS, roles = ROLES, signals = SIGNALS, onProgress = () => undefined } = {}) {
  const cells = [];
  for (const step of steps) {
    for (const role of roles) {
      for (const signal of signals) {
        const cell = { step, role, signal, trials: 0, oneServer: 0, none: 0, noneAsked: 0, twoOrMore: 0, lost: 0, afterStop: 0, retried: 0, problems: [] };
        for (let i = 0; i < trials; i++) {
          const r = await killTrial({ step, role, signal });
          cell.trials++;
          if (r.problem) cell.problems.push(r.problem);
          if (r.servers === 1) cell.oneServer++;
          if (r.servers > 1) cell.twoOrMore++;
          if (r.none && r.stoppedCleanly) cell.noneAsked++;
          else if (r.none) cell.none++;
          // Requests sent after a stop that was asked for and taken have nobody to answer them, by design.
          cell.lost += (r.load?.lost ?? 0) + (r.stoppedCleanly ? 0 : (r.load?.lostAfterMark ?? 0));
          if (r.stoppedCleanly) cell.afterStop += r.load?.lostAfterMark ?? 0;
          cell.retried += r.load?.retried ?? 0;
        }
        cells.push(cell);
        onProgress(`kill at each step: ${step} / ${role} / ${signal}: ${cell.oneServer} of ${cell.trials} with one server, ${cell.none} with none, ${cell.lost} requests lost`);
      }
    }
  }
  return { trials, cells, zeroServerTrials: cells.reduce((n, c) => n + c.none, 0), lost: cells.reduce((n, c) => n + c.lost, 0) };
}

/** The table's columns, and one row per cell (soak/run.mjs and soak/kill-steps.mjs print the same). */
export const KILL_STEPS_HEADERS = ['step', 'process', 'signal', 'trials', 'one server', 'none: stopped as asked', 'none: lost', 'requests lost', 'sent after the stop, unanswered', 'attempts retried', 'ok'];
export function killStepsRow(c) {
  const bad = c.none || c.twoOrMore || c.lost || c.problems.length;
  return [c.step, c.role, c.signal.replace('SIG', ''), c.trials, c.oneServer, c.noneAsked, c.none, c.lost, c.afterStop, c.retried, bad ? `NO${c.problems.length ? `: ${c.problems[0]}` : ''}` : 'yes'];
}
