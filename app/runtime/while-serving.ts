import type { Logger } from '../log';
import type { ServerHost } from '../lifecycle/host';
import { removeRecord, writeRecord, type RunningRecord } from './record';

/** Records written by this process, removed at its exit whatever ended it (a crash leaves them to the readers). */
const written = new Map<ServerHost, { dataDir: string; pid: number }>();
let exitHook = false;

/**
 * Keep this process's runtime record (record.ts) true while `host` serves:
 * written when it serves and after a move, removed when it stops serving or
 * the process exits.
 */
export function recordWhileServing(host: ServerHost, opts: { dataDir: string; desktop: boolean; log: Logger }): void {
  let last = '';
  const write = () => {
    const s = host.status();
    const rec: RunningRecord = { app: 'berth', pid: s.pid, instance: s.instance, version: s.version, url: s.url, host: s.host, port: s.port, dataDir: opts.dataDir, startedAt: s.startedAt, desktop: opts.desktop };
    const key = `${rec.instance} ${rec.host} ${rec.port}`;
    if (key === last) return;
    last = key;
    for (const p of writeRecord(rec)) opts.log.warn(`${p}; 'berth list' and 'berth status --data-dir' may not find this Berth`);
    written.set(host, { dataDir: opts.dataDir, pid: s.pid });
  };
  const remove = () => {
    last = '';
    if (!written.delete(host)) return;
    removeRecord(opts.dataDir, process.pid);
  };
  host.on('change', (s) => {
    if (s.state === 'serving') write();
  });
  host.on('state', (s) => {
    if (s === 'stopped' || s === 'conflict') remove();
  });
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const w of written.values()) removeRecord(w.dataDir, w.pid);
    });
  }
}
