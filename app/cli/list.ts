import { ExitCode } from '../errors';
import { probePort } from '../instance/probe';
import { forgetEntry, listRecords, registryDir, type RunningRecord } from '../runtime/record';
import type { Context } from './find';

export interface ListedBerth extends RunningRecord {
  /** What its address answers now: serving, draining (on its way out), or not answering (busy, or stuck). */
  state: string;
}

/**
 * `berth list`: this user's running Berths, from the per-user list each one
 * keeps itself on while it serves (runtime/record.ts), each checked with a
 * probe of its address. An entry whose address answers with another Berth,
 * another program or nothing is left over from a process that is gone: it is
 * removed, not shown.
 */
export async function list(ctx: Context): Promise<number> {
  const found = await Promise.all(listRecords().map(check));
  const berths = found.filter((b): b is ListedBerth => b !== null);
  if (ctx.out.json) {
    ctx.out.result('', { berths, registry: registryDir() });
    return ExitCode.ok;
  }
  if (!berths.length) {
    ctx.out.result('No Berth is running for this user.', {});
    return ExitCode.ok;
  }
  const rows = [['ADDRESS', 'PID', 'VERSION', 'STATE', 'DATA FOLDER'], ...berths.map((b) => [b.url, String(b.pid), b.version, b.state + (b.desktop ? ' (desktop)' : ''), b.dataDir])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  ctx.out.result(rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n'), {});
  return ExitCode.ok;
}

async function check(rec: RunningRecord): Promise<ListedBerth | null> {
  const seen = await probePort(rec.host, rec.port, { timeout: 1000 });
  if (seen.verdict === 'silent') return { ...rec, state: 'not answering' };
  if ((seen.verdict === 'duplicate' || seen.verdict === 'predecessor') && seen.running.instance === rec.instance) return { ...rec, state: seen.running.state };
  forgetEntry(rec.pid);
  return null;
}
