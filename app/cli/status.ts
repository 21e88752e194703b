import { ExitCode } from '../errors';
import { isBerth, look, notBerth, type Context } from './find';
import { localTime } from './output';

/** `berth status`: what answers on Berth's address. Looks only; changes nothing anywhere. */
export async function status(ctx: Context): Promise<number> {
  const p = await look(ctx);
  if (isBerth(p)) {
    const r = p.running;
    // It ran short of file descriptors lately: said here, or a busy Berth looks like a broken one.
    if (r.descriptors) ctx.out.warn(`Berth ran short of file descriptors at ${r.descriptors.shortAt} (its limit is ${r.descriptors.limit} open files, ulimit -n): it closed ${r.descriptors.closedIdle} idle connection(s) to make room. See its log.`);
    ctx.out.result(`Berth ${r.version} is ${r.state} on ${r.url} (pid ${r.pid}, instance ${r.instance}, since ${localTime(r.startedAt)}).`, { running: true, ...r });
    return ExitCode.ok;
  }
  const err = notBerth(ctx, p);
  const data = p.verdict === 'free' ? { running: false, address: p.address, port: p.port } : { running: false, foreign: err.details.foreign, port: p.port };
  ctx.out.result(err.message, data);
  return err.exitCode;
}
