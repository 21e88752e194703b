// An HTTP load from its own process: N keep-alive connections looping GETs on
// one path of a server on loopback, plus M workers that open a new connection
// per request (the server closes those, so they pile up in TIME_WAIT on its
// port). Requests that were never answered (a keep-alive socket closed under
// them, or the port briefly closed) are retried.
// Stops on SIGTERM, on stdin closing, or after --ms; prints a JSON summary.
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    path: { type: 'string', default: '/health' },
    connections: { type: 'string', default: '8' },
    fresh: { type: 'string', default: '0' },
    ms: { type: 'string', default: '60000' },
  },
});
const port = Number(values.port);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(values.connections) });
// One connection per request, closed by the server after answering.
const freshAgent = new http.Agent({ keepAlive: false });
const stats = { sent: 0, answered: 0, retried: 0, errors: {}, statuses: {} };
let running = true;

function once(useAgent) {
  return new Promise((resolve) => {
    stats.sent++;
    const req = http.get({ host: values.host, port, path: values.path, agent: useAgent }, (res) => {
      res.resume();
      res.on('end', () => {
        stats.answered++;
        stats.statuses[res.statusCode] = (stats.statuses[res.statusCode] ?? 0) + 1;
        resolve(true);
      });
      res.on('error', () => resolve(false));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      const code = err.code ?? err.message;
      stats.errors[code] = (stats.errors[code] ?? 0) + 1;
      resolve(false);
    });
  });
}

async function worker(useAgent) {
  while (running) {
    if (!(await once(useAgent))) {
      stats.retried++;
      await new Promise((r) => setTimeout(r, 1));
    }
  }
}

const stop = () => {
  if (!running) return;
  running = false;
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
setTimeout(stop, Number(values.ms)).unref();
process.stdout.write('ready\n');
await Promise.all([
  ...Array.from({ length: Number(values.connections) }, () => worker(agent)),
  ...Array.from({ length: Number(values.fresh) }, () => worker(freshAgent)),
]);
agent.destroy();
process.stdout.write(JSON.stringify(stats) + '\n');
process.exit(0);
