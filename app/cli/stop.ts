import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode } from '../errors';
import { ask, checked, tokenFor } from './api';
import { isBerth, look, notBerth, where, type Context } from './find';

const WAIT_MS = 15_000;

/** `berth stop`: ask the running Berth to drain and exit, and wait until the port is free. */
export async function stop(ctx: Context): Promise<number> {
  const first = await look(ctx);
  if (first.verdict === 'free') {
    ctx.out.result(`Berth is not running on ${where(first)}.`, { stopped: false, running: false });
    return ExitCode.ok;
  }
  if (!isBerth(first)) throw notBerth(ctx, first);
  const target = first;
  const token = tokenFor(ctx, target);
  const res = await ask(ctx, target, 'POST', '/api/stop', {
    token,
    // Reset before an answer: the stop went through if the port is free now or that Berth is draining.
    acknowledged: async (seen) => seen.verdict === 'free' || (isBerth(seen) && seen.running.instance === target.running.instance && seen.running.state === 'draining'),
  });
  if (res !== 'acknowledged') checked(res, target, 'stop');
  const until = performance.now() + WAIT_MS;
  while (performance.now() < until) {
    if ((await look(ctx, 500)).verdict === 'free') {
      ctx.out.result(`Stopped Berth (pid ${target.running.pid}).`, { stopped: true, pid: target.running.pid });
      return ExitCode.ok;
    }
    await sleep(50);
  }
  throw new BerthError(`Berth (pid ${target.running.pid}) accepted the stop but still holds ${where(target)} after ${WAIT_MS / 1000} s; see its log, or end the process.`, ExitCode.unexpected);
}
