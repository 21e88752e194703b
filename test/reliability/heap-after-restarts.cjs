// Run with `node --expose-gc`: a real ServerHost (from out/) restarted in a
// tight loop with a long drain deadline; prints heap-after-GC figures as JSON.
// Used by regressions.test.ts to show old servers are released once drained.
'use strict';
const path = require('node:path');
const net = require('node:net');
const out = path.join(__dirname, '..', '..', 'out', 'app');
const { ServerHost } = require(path.join(out, 'lifecycle', 'host.js'));
const { memoryLogSink } = require(path.join(out, 'log.js'));
const { coreApi } = require(path.join(out, 'routes.js'));
const { rendererDir } = require(path.join(out, 'paths.js'));

const [dataDir, restarts = '120'] = process.argv.slice(2);
const heap = async () => {
  global.gc();
  await new Promise((r) => setTimeout(r, 20));
  global.gc();
  return process.memoryUsage().heapUsed;
};
(async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const logs = memoryLogSink();
  // The drain deadline is far longer than the run: anything the deadline timer held would stay held.
  const host = new ServerHost({ host: '127.0.0.1', port, dataDir, version: '0.0.0-test', token: 'x'.repeat(43), logs, rendererDir: rendererDir(), drainDeadline: 120_000 });
  host.addRoutes(coreApi({ host, logs, dataDir }));
  await host.start();
  for (let i = 0; i < 20; i++) await host.restart();
  const early = await heap();
  for (let i = 20; i < Number(restarts); i++) await host.restart();
  const late = await heap();
  await host.stop();
  process.stdout.write(JSON.stringify({ early, late, restarts: Number(restarts) }) + '\n');
  process.exit(0);
})();
