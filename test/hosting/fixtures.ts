import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { createBerth, type Berth } from '../../app/berth';
import type { HostedApp } from '../../app/hosting/definition';
import { memoryLogSink, type LogSink } from '../../app/log';
import { rendererDir } from '../../app/paths';
import { headlessUpdates } from '../../app/update/headless';
import { ROOT, freePort, tempDataDir } from '../helpers';

export const BOOKMARKS = path.join(ROOT, 'examples', 'bookmarks-python', 'server.py');

/** The Python interpreter itself: `python3` may be a version manager's shim that takes a second to start one. */
export const PYTHON = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

/** A Berth hosting `app` in this process, composed by createBerth as `berth serve` composes it, on a free port. */
export async function hostedBerth(app: HostedApp, o: { dataDir?: string; port?: number } = {}): Promise<{ berth: Berth; port: number; dataDir: string; token: string; logs: LogSink; url: string; log: () => string; stop: () => Promise<void> }> {
  const port = o.port ?? (await freePort());
  const dataDir = o.dataDir ?? tempDataDir('berth-hosting-');
  const logs = memoryLogSink();
  const berth = await createBerth({
    host: '127.0.0.1',
    port,
    dataDir,
    version: app.version,
    logs,
    rendererDir: rendererDir(),
    probeTimeout: 500,
    handoffDeadline: 3000,
    updates: headlessUpdates({ dataDir, version: app.version, logs, env: {} }),
    relaunchPlan: () => {
      throw new Error('not in this test');
    },
    exit: () => undefined,
    exitOnConflict: false,
    app,
  });
  await berth.start();
  const token = berth.token;
  return {
    berth,
    port,
    dataDir,
    token,
    logs,
    url: `http://127.0.0.1:${port}`,
    log: () => logs.ring.tail(1000).map((e) => e.msg).join('\n'),
    stop: async () => {
      await berth.host.stop();
      await berth.app?.dispose();
    },
  };
}
