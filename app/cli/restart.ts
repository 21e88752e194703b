import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode } from '../errors';
import type { ProbeResult } from '../instance/probe';
import { ask, checked, newest, request, sameEntry, statusOf, tokenFor, NoAnswer, type HistoryItem, type ServerStatus } from './api';
import { isBerth, look, runningBerth, where, type Context, type RunningProbe } from './find';

/** Longer than a relaunch may take: the handoff deadline (10 s) and a slow start-up. */
const WAIT_MS = 30_000;

/** `berth restart [--app]`: restart the server in place, or relaunch the process; wait until it is done. */
export async function restart(ctx: Context): Promise<number> {
  const target = await runningBerth(ctx);
  const token = tokenFor(ctx, target);
  return ctx.flags.app ? relaunch(ctx, target, token) : restartInPlace(ctx, target, token);
}

async function restartInPlace(ctx: Context, target: RunningProbe, token: string): Promise<number> {
  // The newest restart in the history before we ask: done means a newer one is there.
  const before = newest(await statusOf(ctx, target, token), 'restart');
  const done = (s: ServerStatus) => {
    const last = newest(s, 'restart');
    return last && !sameEntry(last, before) ? last : null;
  };
  const res = await ask(ctx, target, 'POST', '/api/restart', {
    token,
    acknowledged: async (seen) => {
      if (!isBerth(seen)) return false;
      const s = await statusOf(ctx, seen, token);
      return s.state === 'restarting' || !!done(s);
    },
  });
  if (res !== 'acknowledged') checked(res, target, 'restart');
  const until = performance.now() + WAIT_MS;
  while (performance.now() < until) {
    const current = await runningBerth(ctx).catch((err) => {
      // Between an old listener's close and the new one's listen the port is free for a moment.
      if (err instanceof BerthError && err.exitCode === ExitCode.unexpected) return null;
      throw err;
    });
    if (current) {
      const s = await statusOf(ctx, current, token);
      const entry = done(s);
      if (entry) {
        const url = String(s.url ?? current.running.url);
        const downtime = entry.downtimeMs === 0 ? '; the listening socket stayed open' : typeof entry.downtimeMs === 'number' ? `; the port was unavailable for ${entry.downtimeMs} ms` : '';
        ctx.out.result(`Restarted the server on ${url}${downtime}.`, { restarted: 'server', downtimeMs: entry.downtimeMs ?? null, url });
        return ExitCode.ok;
      }
      if (s.state === 'conflict' || s.state === 'stopped') {
        throw new BerthError(`Berth (pid ${current.running.pid}) could not serve again after the restart (state ${s.state}); see its log${logHint(s)}.`, ExitCode.unexpected);
      }
    }
    await sleep(25);
  }
  throw new BerthError(`Berth accepted the restart but did not finish it within ${WAIT_MS / 1000} s; see its log.`, ExitCode.unexpected);
}

async function relaunch(ctx: Context, target: RunningProbe, token: string): Promise<number> {
  const old = target.running;
  const before = newest(await statusOf(ctx, target, token), 'relaunch');
  const since = Date.now();
  const res = await ask(ctx, target, 'POST', '/api/relaunch', {
    token,
    acknowledged: async (seen) => {
      if (!isBerth(seen)) return true; // the old process let go of the port: the relaunch is under way
      if (seen.running.instance !== old.instance) return true;
      const s = await statusOf(ctx, seen, token);
      return s.state === 'relaunching' || !sameEntry(newest(s, 'relaunch'), before);
    },
  });
  if (res !== 'acknowledged') checked(res, target, 'relaunch');

  const until = performance.now() + WAIT_MS;
  let seen: ProbeResult = target;
  while (performance.now() < until) {
    seen = await look(ctx, 1000);
    if (isBerth(seen) && seen.running.instance !== old.instance && seen.running.state === 'serving') {
      const r = seen.running;
      ctx.out.result(`Relaunched: Berth ${r.version} pid ${r.pid} serves ${r.url}.`, { restarted: 'app', ...r });
      return ExitCode.ok;
    }
    if (isBerth(seen) && seen.running.instance === old.instance) {
      // Still the old process: it keeps serving while its successor starts, and serves on if the successor fails.
      const failure = await relaunchFailure(seen, token, before, since);
      if (failure) {
        throw new BerthError(`${failure}; Berth pid ${old.pid} keeps serving on ${old.url}.`, ExitCode.unexpected, { pid: old.pid, failure });
      }
    }
    await sleep(50);
  }
  const holder = isBerth(seen) ? `Berth pid ${seen.running.pid} answers there` : seen.verdict === 'free' ? 'nothing answers there' : `${seen.verdict === 'foreign' || seen.verdict === 'silent' ? seen.what : 'something else'} holds it`;
  throw new BerthError(`Berth accepted the relaunch, but no new process took over ${where(target)} within ${WAIT_MS / 1000} s (${holder}); see its log.`, ExitCode.unexpected);
}

/**
 * Whether the old process has given up on its successor, and why, in words
 * for the user ("the new process exited with code 1"). It is back to serving
 * with a relaunch newer than `before` in its history. The reason comes from
 * that history entry when the server records one, else from its error log.
 */
async function relaunchFailure(seen: RunningProbe, token: string, before: HistoryItem | undefined, since: number): Promise<string | null> {
  let s: ServerStatus;
  try {
    s = (await request(seen, token, 'GET', '/api/status')).body as ServerStatus;
  } catch (err) {
    if (err instanceof NoAnswer) return null;
    throw err;
  }
  // While the socket is handed over both processes accept on it, so this request may reach the successor,
  // whose history has its own (successful) relaunch: only the old process's word counts.
  if (s.instance !== seen.running.instance) return null;
  const entry = newest(s, 'relaunch');
  if (s.state !== 'serving' || !entry || sameEntry(entry, before)) return null;
  const reason = failureText(entry) ?? (await failureFromLog(seen, token, since)) ?? 'the new process did not take over';
  return inWords(reason);
}

function failureText(entry: HistoryItem): string | null {
  for (const key of ['failed', 'failure', 'error', 'reason']) {
    const v = entry[key];
    if (typeof v === 'string' && v) return v;
  }
  if (entry.outcome === 'failed' || entry.ok === false) return typeof entry.detail === 'string' ? entry.detail : null;
  return typeof entry.detail === 'string' && /fail|exited|did not|could not|crash/i.test(entry.detail) ? entry.detail : null;
}

/** Servers that do not put the failure in their history log it: "relaunch failed (the successor exited with code 1); ...". */
async function failureFromLog(seen: RunningProbe, token: string, since: number): Promise<string | null> {
  try {
    const res = await request(seen, token, 'GET', '/api/logs?level=error&limit=50');
    const entries = Array.isArray(res.body.entries) ? (res.body.entries as { time?: number; msg?: string }[]) : [];
    // Newest first.
    for (const e of entries) {
      if ((e.time ?? 0) < since - 1000 || typeof e.msg !== 'string') continue;
      const m = /relaunch failed \((.+)\)/i.exec(e.msg);
      if (m) return m[1]!;
    }
  } catch {
    // the reason is a nicety; the failure itself is already known
  }
  return null;
}

/** The server speaks of "the successor"; the user started "the new process". */
function inWords(reason: string): string {
  return reason
    .replace(/^relaunch failed:\s*/i, '')
    .replace(/\bthe successor\b/gi, 'the new process')
    .replace(/\s*before serving$/i, '')
    .replace(/\.$/, '');
}

function logHint(s: ServerStatus): string {
  return typeof s.logFile === 'string' && s.logFile ? ` (${s.logFile})` : '';
}
