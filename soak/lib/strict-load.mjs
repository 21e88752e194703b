// Load that counts every failure: no request is sent twice. Half the workers keep
// their connection alive, half open a new connection per request, so a refusal of
// new connections and a reset of kept ones both show. Run in its own process
// (forked by startLoad), so the server's process is measured alone. Bounded: stops
// on 'stop', when the parent goes away, or after maxMs.
import http from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function startLoad({ port, paths = ['/health'], headers = {}, keepAlive = 4, fresh = 4, maxMs = 300_000 }) {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify({ port, paths, headers, keepAlive, fresh, maxMs })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let summary;
  const done = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m && typeof m === 'object' && m.summary) summary = m.summary;
    });
    child.once('exit', (code) => (summary ? resolve(summary) : reject(new Error(`load exited ${code} without a summary`))));
  });
  const ready = new Promise((resolve) => child.once('message', (m) => m === 'ready' && resolve()));
  return {
    ready,
    /** Resolves once at least `n` more requests have been answered (a condition, not a sleep). */
    progressed: (n) =>
      new Promise((resolve) => {
        child.send({ cmd: 'notify', n });
        const on = (m) => {
          if (m === 'progressed') {
            child.off('message', on);
            resolve();
          }
        };
        child.on('message', on);
      }),
    async stop() {
      if (child.connected) child.send({ cmd: 'stop' });
      return done;
    },
  };
}

const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain) {
  const o = JSON.parse(process.argv[2]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.keepAlive, timeout: 4000 });
  const s = { requests: 0, ok: 0, failures: {}, statuses: {}, latencies: [], keptAlive: o.keepAlive, fresh: o.fresh };
  let running = true;
  let notifyAt = Infinity;
  const stop = () => (running = false);
  process.on('message', (m) => {
    if (m?.cmd === 'stop') stop();
    if (m?.cmd === 'notify') notifyAt = s.requests + m.n;
  });
  process.on('disconnect', stop);
  setTimeout(stop, o.maxMs).unref();

  const one = (path, reuse) =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const req = http.get({ host: '127.0.0.1', port: o.port, path, agent: reuse ? agent : false, headers: o.headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
        res.on('error', (err) => resolve({ error: err.code ?? err.message, ms: performance.now() - t0 }));
      });
      req.setTimeout(30_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => resolve({ error: `${err.code ?? err.message}${reuse && req.reusedSocket ? ' (kept-alive socket)' : ''}`, ms: performance.now() - t0 }));
    });

  const worker = async (i, reuse) => {
    for (let n = i; running; n++) {
      const r = await one(o.paths[n % o.paths.length], reuse);
      s.requests++;
      if (r.error) s.failures[r.error] = (s.failures[r.error] ?? 0) + 1;
      else {
        s.statuses[r.status] = (s.statuses[r.status] ?? 0) + 1;
        if (r.status < 500) s.ok++;
      }
      if (s.latencies.length < 500_000) s.latencies.push(r.ms);
      if (s.requests >= notifyAt) {
        notifyAt = Infinity;
        process.send?.('progressed');
      }
    }
  };
  process.send?.('ready');
  await Promise.all([...Array.from({ length: o.keepAlive }, (_, i) => worker(i, true)), ...Array.from({ length: o.fresh }, (_, i) => worker(i, false))]);
  agent.destroy();
  const sorted = s.latencies.sort((a, b) => a - b);
  const pick = (p) => Math.round((sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0) * 10) / 10;
  const summary = { requests: s.requests, ok: s.ok, failed: s.requests - s.ok, failures: s.failures, statuses: s.statuses, latencyMs: { p50: pick(50), p99: pick(99), max: pick(100) } };
  process.send({ summary }, () => process.exit(0));
}
