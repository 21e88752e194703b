import { BerthError, ExitCode } from '../errors';
import { ask, checked, statusOf, tokenFor, type Answer, type HistoryItem, type ServerStatus } from './api';
import { isBerth, look, runningBerth, where, type Context, type RunningProbe } from './find';

/**
 * How long the answer may take: a relaunch first waits for requests in flight
 * (up to 30 s), then for its successor (the handoff deadline, 10 s) and the
 * confirmation window with its answer (2 s + 5 s).
 */
const ANSWER_MS = 60_000;

type Kind = 'restart' | 'relaunch';

/**
 * `berth restart [--app]`: restart the server in place, or relaunch the
 * process. One request, answered once the work is done with its history
 * entry (or what failed); nothing is polled.
 */
export async function restart(ctx: Context): Promise<number> {
  const target = await runningBerth(ctx);
  const token = tokenFor(ctx, target);
  const kind: Kind = ctx.flags.app ? 'relaunch' : 'restart';
  const since = Date.now();
  const res = await ask(ctx, target, 'POST', `/api/${kind}`, {
    token,
    timeoutMs: ANSWER_MS,
    // Asked only after a reset: whether Berth acted on the request anyway, so that it is not sent twice.
    acknowledged: async (seen) => isBerth(seen) && (await tookPlace(ctx, target, seen, token, kind, since)) !== null,
  });
  if (res === 'acknowledged') return cutOff(ctx, target, token, kind, since);
  return answered(ctx, target, kind, res);
}

function answered(ctx: Context, target: RunningProbe, kind: Kind, res: Answer): number {
  const body = res.body;
  const old = target.running;
  if (res.status === 500 && typeof body.failed === 'string') {
    const failure = inWords(body.failed);
    if (body.state !== 'serving') {
      throw new BerthError(`The ${kind} failed (${failure}), and Berth pid ${old.pid} could not serve again; see its log.`, ExitCode.unexpected, { pid: old.pid, failure });
    }
    throw new BerthError(`${capital(failure)}; Berth pid ${old.pid} keeps serving on ${old.url}.`, ExitCode.unexpected, { pid: old.pid, failure });
  }
  checked(res, target, kind);
  const entry = (typeof body.entry === 'object' && body.entry ? body.entry : {}) as HistoryItem;
  const url = typeof body.url === 'string' ? body.url : old.url;
  if (body.restarted === 'server') {
    ctx.out.result(`Restarted the server on ${url}${downtime(entry)}.`, { restarted: 'server', downtimeMs: entry.downtimeMs ?? null, url, entry });
    return ExitCode.ok;
  }
  const successor = body.successor as { pid?: number; instance?: string } | null | undefined;
  if (successor && typeof successor.pid === 'number') {
    // It has served through the confirmation window: serving is what it was confirmed doing.
    ctx.out.result(`Relaunched: Berth pid ${successor.pid} serves ${url}${downtime(entry)}.`, { restarted: 'app', pid: successor.pid, instance: successor.instance, state: 'serving', url, entry });
  } else {
    // After exit (the desktop's Restart app): the new process starts once this one has gone.
    ctx.out.result(`Relaunching: ${entry.detail ?? 'the new process starts once this one exits'}.`, { restarted: 'app', pid: null, instance: null, url, entry });
  }
  return ExitCode.ok;
}

/**
 * The answer was cut off after Berth acted on the request (a reset, which the
 * request's own drain should never cause): say what the server's history
 * holds now, from one look.
 */
async function cutOff(ctx: Context, target: RunningProbe, token: string, kind: Kind, since: number): Promise<number> {
  const seen = await look(ctx);
  if (!isBerth(seen)) throw new BerthError(`Berth took the ${kind} request, but its answer was cut off and nothing answers on ${where(target)} now; see its log.`, ExitCode.unexpected);
  const entry = await tookPlace(ctx, target, seen, token, kind, since);
  const body: Record<string, unknown> = { restarted: kind === 'restart' && entry?.kind !== 'relaunch' ? 'server' : 'app', entry, url: seen.running.url, state: 'serving' };
  if (seen.running.instance !== target.running.instance) body.successor = { pid: seen.running.pid, instance: seen.running.instance };
  if (entry && typeof entry.failed === 'string') return answered(ctx, target, kind, { status: 500, body: { ...body, failed: entry.failed } });
  if (!entry && !body.successor) throw new BerthError(`Berth took the ${kind} request, but its answer was cut off before it was done; \`berth status\` says how it went.`, ExitCode.unexpected);
  return answered(ctx, target, kind, { status: 200, body });
}

/**
 * Whether the request took effect, from what serves now: a new process (for a
 * relaunch), or an entry of that kind in the history written since it was sent
 * (the same clock: the server is on this computer). The entry, `{}` for a new
 * process whose entry is not at hand, or null.
 */
async function tookPlace(ctx: Context, target: RunningProbe, seen: RunningProbe, token: string, kind: Kind, since: number): Promise<HistoryItem | null> {
  const s: ServerStatus = await statusOf(ctx, seen, token);
  const entries = Array.isArray(s.history) ? s.history : [];
  const entry = entries.filter((h) => h && (h.kind === kind || h.kind === 'relaunch') && Date.parse(String(h.at)) >= since).at(-1);
  if (entry) return entry;
  if (kind === 'relaunch' && seen.running.instance !== target.running.instance) return {};
  return null;
}

function downtime(entry: HistoryItem): string {
  if (entry.downtimeMs === 0) return '; the listening socket stayed open';
  return typeof entry.downtimeMs === 'number' ? `; the port was unavailable for ${entry.downtimeMs} ms` : '';
}

/** The server speaks of "the successor"; the user started "the new process". */
function inWords(reason: string): string {
  return reason
    .replace(/^relaunch failed:\s*/i, '')
    .replace(/\bthe successor\b/gi, 'the new process')
    .replace(/\s*before serving$/i, '')
    .replace(/\.$/, '');
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
