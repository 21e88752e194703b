// Parent side of the load generator: fork it, wait until it runs, stop it and
// collect its summary.
import { fork } from 'node:child_process';
import path from 'node:path';
import { ROOT, summarize } from './common.mjs';

export function startLoad({ port, connections = 8, paths = ['/health'], maxMs = 600_000, retryBudgetMs = 10_000 }) {
  const child = fork(path.join(ROOT, 'soak', 'load-generator.mjs'), [JSON.stringify({ port, connections, paths, maxMs, retryBudgetMs })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let summary;
  const done = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m && typeof m === 'object' && m.summary) summary = m.summary;
    });
    child.once('exit', (code) => (summary ? resolve(summary) : reject(new Error(`load generator exited ${code} without a summary`))));
  });
  const ready = new Promise((resolve, reject) => {
    child.once('message', (m) => (m === 'ready' ? resolve() : undefined));
    child.once('exit', (code) => reject(new Error(`load generator exited ${code} before it was ready`)));
  });
  return {
    pid: child.pid,
    ready,
    /** From now on, requests that never get an answer are counted apart (see load-generator.mjs). */
    mark() {
      if (child.connected) child.send('mark');
    },
    async stop() {
      if (child.connected) child.send('stop');
      const s = await done;
      return describeLoad(s);
    },
  };
}

/** The load summary as reported: counts, errors, client-side outages and latency. */
export function describeLoad(s) {
  const { latencies, gaps, ...rest } = s;
  return {
    ...rest,
    instances: Object.keys(s.instances).length,
    gapsMs: summarize(gaps),
    latencyMs: summarize(latencies),
    requestsPerSecond: Math.round(s.acknowledged / (s.ms / 1000)),
  };
}
