import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { EXAMPLES } from '../../soak/lib/examples.mjs';
import { createBerth, type Berth } from '../../app/berth';
import type { HostedApp } from '../../app/hosting/definition';
import { memoryLogSink, type LogSink } from '../../app/log';
import { rendererDir } from '../../app/paths';
import { headlessUpdates } from '../../app/update/headless';
import { ROOT, alive, freePort, health, killBerth, readToken, tempDataDir, waitFor, type Health } from '../helpers';

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

/**
 * The Notes example run as its own command (`notes serve --json`) on a free
 * port, once it says it serves (`prepareExample('notes')` first). Its relaunch
 * deadline is above a loaded machine's start-up time (10 s by default). `stop`
 * ends it and waits for every process added to `pids` (its relaunched successors).
 */
export async function servedNotes(prefix: string): Promise<{ port: number; dataDir: string; token: string; child: ChildProcess; pids: Set<number>; stop: () => Promise<void> }> {
  const port = await freePort();
  const dataDir = tempDataDir(prefix);
  const ex = EXAMPLES.notes;
  const child = spawn(process.execPath, [path.join(ex.dir, ex.cli), 'serve', '--json', '--port', String(port), '--data-dir', dataDir, '--handoff-timeout', '60000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const pids = new Set<number>();
  const stop = async () => {
    let token: string | undefined;
    try {
      token = readToken(dataDir);
    } catch {
      // It never got as far as writing its token.
    }
    if (token) await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => undefined);
    await killBerth({ child, exited });
    // alive(), not kill(pid, 0): the relaunched process is re-parented, and a container's PID 1 may leave it a zombie.
    for (const pid of pids) await waitFor(() => !alive(pid), 'the relaunched Notes to exit', 15_000).catch(() => process.kill(pid, 'SIGKILL'));
  };
  try {
    await waitFor(() => out.includes('"event":"serving"'), 'Notes to serve', 30_000);
    return { port, dataDir, token: readToken(dataDir), child, pids, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Health from the process that answers on `port` after a relaunch: another instance than `before`, serving. */
export function newInstance(port: number, before: Health): Promise<Health> {
  return waitFor(async () => {
    const h = await health(port);
    return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
  }, 'the new process to answer', 30_000);
}
