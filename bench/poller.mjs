// Polls GET /health (or the path in argv[3]) on a fresh connection each time, as fast as it can, from
// its own process, and answers the parent: what was the longest stretch
// without a successful response inside a window? (Loopback only.)
import http from 'node:http';

const port = Number(process.argv[2]);
const urlPath = process.argv[3] ?? '/health';
const successes = [];
let running = true;
let windowStart = null;

function once() {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

process.on('message', (m) => {
  if (m.cmd === 'begin') {
    windowStart = performance.now();
    // Forget what is long past, keeping the last success before the window.
    const keepFrom = successes.findLastIndex((t) => t < windowStart);
    if (keepFrom > 0) successes.splice(0, keepFrom);
    process.send({ cmd: 'begun' });
  } else if (m.cmd === 'end') {
    const end = performance.now();
    const inWindow = successes.filter((t) => t <= end);
    let gap = 0;
    for (let i = 1; i < inWindow.length; i++) if (inWindow[i] >= windowStart) gap = Math.max(gap, inWindow[i] - inWindow[i - 1]);
    process.send({ cmd: 'gap', gap });
  } else if (m.cmd === 'stop') {
    running = false;
  }
});
// The benchmark that forked us is gone: stop, never poll on unattended.
process.on('disconnect', () => process.exit(0));

while (running) {
  if (await once()) successes.push(performance.now());
  if (successes.length > 200_000) successes.splice(0, 100_000);
}
process.exit(0);
