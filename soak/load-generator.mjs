// Steady keep-alive load against a Berth on loopback, from its own process (so
// the server's process is measured alone). Started by soak/lib/load.mjs over IPC.
//
// Every logical request is retried, as a browser retries an idempotent request,
// when it never got an answer (refused while the port changes hands, or reset
// on a keep-alive socket the server closed under it) until the retry budget
// runs out; only then is it counted lost. Bounded: stops on 'stop', when the
// parent goes away, or after maxMs, whichever comes first.
//
// 'mark' (sent by a harness right after it signals the server): a request first
// sent after it that never gets an answer is counted apart (lostAfterMark), since
// after a stop that was asked for nothing is meant to answer it. A request sent
// before the mark is counted lost as before, however the trial ends.
import http from 'node:http';

const opts = JSON.parse(process.argv[2] ?? '{}');
const host = opts.host ?? '127.0.0.1';
if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
  process.stderr.write(`load generator: refusing non-loopback host ${host}\n`);
  process.exit(2);
}
const port = Number(opts.port);
const connections = Math.min(Math.max(Number(opts.connections ?? 8), 1), 64);
const paths = opts.paths ?? ['/health'];
const maxMs = Math.min(Number(opts.maxMs ?? 600_000), 30 * 60_000);
const retryBudgetMs = Number(opts.retryBudgetMs ?? 10_000);
const attemptTimeoutMs = Number(opts.attemptTimeoutMs ?? 5_000);

// A client drops a keep-alive socket it has left idle before the server would (Berth closes idle ones after 5 s):
// otherwise a machine too busy to run this process for 5 s makes the server close a socket just as a request is
// written on it, a reset that says nothing about Berth's restarts.
const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, timeout: 4000 });
const stats = {
  connections,
  logical: 0,
  acknowledged: 0,
  lost: 0,
  lostAfterMark: 0,
  attempts: 0,
  retried: 0,
  statuses: {},
  /** Errors on an attempt, by code; a reused keep-alive socket is told apart from a fresh connection. */
  attemptErrors: {},
  /** Outages seen by the client: from the last answer before a failure to the next answer (ms). */
  gaps: [],
  instances: {},
  latencies: [],
  startedAt: Date.now(),
  ms: 0,
};
const LATENCY_SAMPLES = 200_000;
let running = true;
let lastAnswerAt = performance.now();
let failingSince = null;
let marked = false;

function attempt(urlPath) {
  return new Promise((resolve) => {
    stats.attempts++;
    const req = http.get({ host, port, path: urlPath, agent, headers: { Accept: 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => resolve({ error: err.code ?? err.message, reused: req.reusedSocket }));
    });
    req.setTimeout(attemptTimeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => resolve({ error: err.code ?? err.message, reused: req.reusedSocket }));
  });
}

async function logical(urlPath) {
  stats.logical++;
  const started = performance.now();
  const afterMark = marked;
  let delay = 1;
  for (;;) {
    const r = await attempt(urlPath);
    const now = performance.now();
    if (r.status !== undefined) {
      stats.acknowledged++;
      stats.statuses[r.status] = (stats.statuses[r.status] ?? 0) + 1;
      if (failingSince !== null) {
        stats.gaps.push(Math.round((now - failingSince) * 100) / 100);
        failingSince = null;
      }
      lastAnswerAt = now;
      if (urlPath === '/health' && r.status === 200) {
        try {
          const h = JSON.parse(r.body);
          stats.instances[h.instance] = h.pid;
        } catch {
          // counted by status already
        }
      }
      if (stats.latencies.length < LATENCY_SAMPLES) stats.latencies.push(Math.round((now - started) * 100) / 100);
      return;
    }
    const key = `${r.error}${r.reused ? ' (reused socket)' : ''}`;
    stats.attemptErrors[key] = (stats.attemptErrors[key] ?? 0) + 1;
    if (failingSince === null) failingSince = lastAnswerAt;
    // Sent after the mark, and the load is over: nothing more to learn from retrying it.
    if (now - started > retryBudgetMs || (afterMark && !running)) {
      if (afterMark) stats.lostAfterMark++;
      else stats.lost++;
      return;
    }
    stats.retried++;
    await new Promise((r2) => setTimeout(r2, delay));
    delay = Math.min(delay * 2, 20);
  }
}

async function worker(i) {
  let n = i;
  while (running) await logical(paths[n++ % paths.length]);
}

const stop = () => {
  running = false;
};
process.on('message', (m) => {
  if (m === 'stop') stop();
  if (m === 'mark') marked = true;
});
process.on('disconnect', stop);
process.on('SIGTERM', stop);
setTimeout(stop, maxMs).unref();

process.send?.('ready');
await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
agent.destroy();
stats.ms = Date.now() - stats.startedAt;
if (process.send && process.connected) process.send({ summary: stats }, () => process.exit(0));
else {
  process.stdout.write(JSON.stringify(stats) + '\n');
  process.exit(0);
}
