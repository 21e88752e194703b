/**
 * Watches Berth's port from outside while something happens to it (an
 * update, a restart): one `GET /health` after another, each on a new
 * connection, as a browser opening the page would. It records every attempt,
 * and sums them up: which Berths answered (version, pid, instance), how many
 * attempts failed and how, and the longest stretch during which every
 * attempt failed (from the first failure to the next answer).
 */
import http from 'node:http';

/**
 * @param {{ host?: string, port: number, timeoutMs?: number }} opts
 */
export function watchPort({ host = '127.0.0.1', port, timeoutMs = 2_000 }) {
  /** @type {{ at: number, ok: boolean, error?: string, version?: string, pid?: number, instance?: string, state?: string }[]} */
  const attempts = [];
  let running = true;

  const once = () =>
    new Promise((resolve) => {
      const at = performance.now();
      const req = http.get({ host, port, path: '/health', agent: false, timeout: timeoutMs, headers: { Connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.once('end', () => {
          try {
            const h = JSON.parse(body);
            attempts.push({ at, ok: res.statusCode === 200, version: h.version, pid: h.pid, instance: h.instance, state: h.state, ...(res.statusCode === 200 ? {} : { error: `HTTP ${res.statusCode}` }) });
          } catch {
            attempts.push({ at, ok: false, error: `HTTP ${res.statusCode}, not Berth's /health` });
          }
          resolve();
        });
        res.once('error', (err) => {
          attempts.push({ at, ok: false, error: err.code ?? err.message });
          resolve();
        });
      });
      req.once('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'TIMEOUT' })));
      req.once('error', (err) => {
        attempts.push({ at, ok: false, error: err.code ?? err.message });
        resolve();
      });
    });

  const loop = (async () => {
    while (running) {
      await once();
      // A refused connection comes back at once: yield so the loop does not starve the process it shares.
      await new Promise((r) => setImmediate(r));
    }
  })();

  return {
    attempts,
    /** Stop watching and sum up. */
    async stop() {
      running = false;
      await loop;
      return summarize(attempts);
    },
  };
}

/** The figures a test asserts on, from the recorded attempts. */
export function summarize(attempts) {
  const failures = {};
  let longestOutageMs = 0;
  let outageStart = null;
  for (const a of attempts) {
    if (!a.ok) {
      failures[a.error] = (failures[a.error] ?? 0) + 1;
      if (outageStart === null) outageStart = a.at;
    } else if (outageStart !== null) {
      longestOutageMs = Math.max(longestOutageMs, a.at - outageStart);
      outageStart = null;
    }
  }
  // An outage still going on when the watch stopped counts up to the last attempt.
  if (outageStart !== null && attempts.length) longestOutageMs = Math.max(longestOutageMs, attempts.at(-1).at - outageStart);
  const served = [];
  for (const a of attempts) {
    if (!a.ok) continue;
    const last = served.at(-1);
    if (!last || last.instance !== a.instance) served.push({ version: a.version, pid: a.pid, instance: a.instance, answers: 1 });
    else last.answers++;
  }
  return {
    attempts: attempts.length,
    answered: attempts.filter((a) => a.ok).length,
    failures,
    longestOutageMs: Math.round(longestOutageMs),
    /** Each Berth that answered, in order, with how many answers in a row it gave. */
    served,
    /** True when the answers went back to an earlier Berth, that is two were serving by turns. */
    interleaved: new Set(served.map((s) => s.instance)).size !== served.length,
  };
}
