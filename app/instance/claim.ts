import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode, errorCode } from '../errors';
import { isRunning } from '../processes';
import type { Logger } from '../log';
import { observe, probeAddresses, probePort, type ProbeResult } from './probe';
import { parseHealth } from './verdict';
import { refuseToTerminate } from './holder';

export interface ClaimOptions {
  host: string;
  port: number;
  /** Our own instance id, for the post-bind self-check. */
  instance: string;
  /** One bind attempt; rejects with the socket error (EADDRINUSE...). */
  listen: () => Promise<void>;
  /** Close what `listen` opened (used when the self-check fails). */
  unlisten: () => Promise<void>;
  /**
   * The predecessor we were launched to replace, proven (lifecycle/successor-protocol.ts):
   * only it is told to let go (the probe carries `proof`, for a successor it did not
   * start itself; its own hears on its channel), and only its pid may ever be
   * terminated. An unproven claim is not passed here at all.
   */
  handoff?: { instance: string; pid: number; proof?: string; ready?: () => void; stillHandingOver?: () => boolean } | null;
  probeTimeout?: number;
  /** How long to wait for a predecessor or a silent holder to free the port (default 10 s). */
  handoffDeadline?: number;
  /**
   * performance.now() of this start's first probe, when it came before the claim (`berth serve`
   * looks once before loading the server): the deadline counts from there, so the time Berth
   * says it waited is the time the user waited.
   */
  since?: number;
  log: Logger;
  /** Every probe, as it happens: the UI shows what was on the port and what Berth did. */
  onProbe?: (result: ProbeResult, action: string) => void;
  /** Injected for tests of the kill path; defaults to process.kill. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /** Whether a pid holds the port (Linux /proc; null elsewhere); injected for tests. */
  holdsPort?: (pid: number, port: number) => boolean | null;
}

export interface ClaimResult {
  probes: ProbeResult[];
  bindAttempts: number;
  waitedMs: number;
  terminatedPredecessor?: number;
}

/**
 * Take the port the way the instance protocol says: probe, act on the verdict,
 * bind (waiting for a predecessor or a silent holder to let go), then check that
 * the server answering on the port is really us.
 */
export async function claimPort(opts: ClaimOptions): Promise<ClaimResult> {
  const started = opts.since ?? performance.now();
  const deadline = started + (opts.handoffDeadline ?? 10_000);
  const log = opts.log;
  const probes: ProbeResult[] = [];
  let bindAttempts = 0;
  let terminatedPredecessor: number | undefined;
  const probe = async () => {
    const r = await probePort(opts.host, opts.port, { timeout: opts.probeTimeout, handoffFrom: opts.handoff?.instance, handoffProof: opts.handoff?.proof });
    probes.push(r);
    return r;
  };
  const tryListen = async (): Promise<boolean> => {
    bindAttempts++;
    try {
      await opts.listen();
      return true;
    } catch (err) {
      if (errorCode(err) === 'EADDRINUSE') return false;
      throw bindError(err, opts.host, opts.port);
    }
  };

  let verdict = await probe();
  // Loaded and ready to bind: a successor on its predecessor's channel says so now (the others' first probe carried the proof).
  opts.handoff?.ready?.();
  let reprobed = false;
  for (;;) {
    const where = `${opts.host}:${opts.port}`;
    if (verdict.verdict === 'duplicate' || verdict.verdict === 'foreign') {
      opts.onProbe?.(verdict, verdict.verdict === 'duplicate' ? 'exit: already running' : 'exit: port held by another program');
      throw refusalFor(verdict)!;
    }
    if (verdict.verdict === 'free') {
      opts.onProbe?.(verdict, 'bind');
      if (await tryListen()) break;
      if (!reprobed) {
        // Another starter bound between our probe and our bind: ask who it is.
        reprobed = true;
        log.info(`${where} was taken between probe and bind; probing again`);
        verdict = await probe();
        continue;
      }
      verdict = { ...verdict, verdict: 'silent', what: 'the port is in use but nothing answered the probe' };
    }
    // predecessor or silent: wait for the port to free, binding the moment it does.
    opts.onProbe?.(verdict, 'wait for the port');
    // A silent holder is worth a warning (the console shows it at once); a predecessor handing over is routine.
    const waiting = `waiting up to ${seconds(deadline - started)} s for ${where} to free (${seconds(Math.max(0, deadline - performance.now()))} s left): ${holderOf(verdict)}`;
    if (verdict.verdict === 'silent') log.warn(waiting);
    else log.info(waiting);
    const waited = await bindUntil(deadline, tryListen, probe);
    if (waited.bound) break;
    verdict = waited.last ?? verdict;
    if (verdict.verdict === 'foreign' || verdict.verdict === 'duplicate') {
      // Someone else took the port while we waited (it was freed, and another program bound it first).
      opts.onProbe?.(verdict, 'exit: the port was taken while waiting');
      throw refusalFor(verdict)!;
    }
    const handoff = opts.handoff;
    if (handoff && handoff.stillHandingOver && !handoff.stillHandingOver()) {
      // The predecessor withdrew its note: it gave up on us and serves on. It is not stuck, and is left alone.
      log.warn(`pid ${handoff.pid} withdrew its handoff and serves on; not terminating it`);
    } else if (handoff && isRunning(handoff.pid)) {
      // Only the exact process we were launched to replace is ever terminated, and only if it is what holds the port.
      const refusal = refuseToTerminate(handoff.pid, { port: opts.port, handoffFrom: handoff.instance, probes, holds: opts.holdsPort });
      if (refusal) {
        log.warn(`not terminating pid ${handoff.pid} to free ${where}: ${refusal}`);
      } else {
        log.warn(`predecessor pid ${handoff.pid} still holds ${where} after the handoff deadline; terminating it`);
        (opts.kill ?? process.kill)(handoff.pid, 'SIGKILL');
        terminatedPredecessor = handoff.pid;
        if ((await bindUntil(performance.now() + 5000, tryListen, probe)).bound) break;
      }
    }
    const why = holderOf(verdict);
    throw new BerthError(
      `Port ${opts.port} on ${opts.host} did not free within ${seconds(performance.now() - started)} s: ${why}. ` +
        `Stop that process, or choose another port with --port or BERTH_PORT.`,
      ExitCode.portTaken,
      { what: why },
    );
  }

  await selfCheck(opts);
  return { probes, bindAttempts, waitedMs: performance.now() - started, terminatedPredecessor };
}

/** Milliseconds as seconds with one decimal, the way the wait is reported to people. */
function seconds(ms: number): string {
  return (Math.round(ms / 100) / 10).toFixed(1);
}

function holderOf(v: ProbeResult): string {
  if (v.verdict === 'predecessor' || v.verdict === 'duplicate') return `Berth ${v.running.version} (pid ${v.running.pid}) is handing over`;
  if (v.verdict === 'free') return 'the port is in use but nothing answered the probe';
  return v.what;
}

/** How often a waiting starter asks the port again who holds it, so its message (and its decision) follows what is really there. */
const REPROBE_MS = 500;

/**
 * Bind the moment the port frees, until the deadline. Every REPROBE_MS it
 * probes again: a foreign program or another Berth that took the port ends
 * the wait at once, with its name.
 */
async function bindUntil(deadline: number, tryListen: () => Promise<boolean>, probe: () => Promise<ProbeResult>): Promise<{ bound: boolean; last?: ProbeResult }> {
  let delay = 2;
  let nextProbe = performance.now() + REPROBE_MS;
  let last: ProbeResult | undefined;
  for (;;) {
    if (await tryListen()) return { bound: true };
    const now = performance.now();
    if (now >= deadline) return { bound: false, last };
    if (now >= nextProbe) {
      last = await probe();
      if (last.verdict === 'foreign' || last.verdict === 'duplicate') return { bound: false, last };
      nextProbe = performance.now() + REPROBE_MS;
      continue;
    }
    await sleep(Math.min(delay, deadline - now, nextProbe - now));
    delay = Math.min(delay * 2, 10);
  }
}

/**
 * Windows lets a second process bind a port another one holds on a different
 * address, so a successful bind proves nothing there: ask the port who answers.
 */
async function selfCheck(opts: ClaimOptions): Promise<void> {
  const address = probeAddresses(opts.host)[0]!;
  // Our own server answering: only a busy machine makes it slow, so a short probe timeout is not used here.
  const seen = await observe(address, opts.port, Math.max(opts.probeTimeout ?? 2000, 2000));
  const health = seen.kind === 'http' && seen.statusCode === 200 ? parseHealth(seen.body) : null;
  if (health?.instance === opts.instance) return;
  await opts.unlisten().catch(() => undefined);
  const who = health ? `Berth pid ${health.pid} (instance ${health.instance})` : seen.kind === 'http' ? `"${seen.statusLine}"` : `nothing usable (${seen.kind})`;
  throw new BerthError(
    `Bound ${opts.host}:${opts.port}, but ${who} answers there instead of this process: another program shares the port ` +
      `(Windows allows this across addresses). Stop it, or choose another port with --port or BERTH_PORT.`,
    ExitCode.portTaken,
    { selfCheck: seen.kind },
  );
}

/** The error for a verdict that means "not ours to take" (duplicate, foreign); null for the others. */
export function refusalFor(verdict: ProbeResult): BerthError | null {
  if (verdict.verdict === 'duplicate') {
    const r = verdict.running;
    return new BerthError(
      `Berth ${r.version} is already running at ${r.url} (pid ${r.pid}). Open it, stop it, or take it over (serve --replace).`,
      ExitCode.alreadyRunning,
      { running: r },
    );
  }
  if (verdict.verdict === 'foreign') {
    return new BerthError(portTakenMessage(verdict.port, verdict.what), ExitCode.portTaken, { what: verdict.what, server: verdict.server });
  }
  return null;
}

export function portTakenMessage(port: number, what: string): string {
  // The command to run on a free port is the caller's to add (cli/hints.ts): it knows how Berth is run there.
  return `Port ${port} is in use by ${what}. Stop that program, or run Berth on another port (--port, BERTH_PORT, or "port" in settings.json).`;
}

function bindError(err: unknown, host: string, port: number): BerthError {
  const code = errorCode(err);
  if (code === 'EACCES') return new BerthError(`Not allowed to listen on ${host}:${port} (EACCES): ports below 1024 need privileges; choose a port above 1024.`, ExitCode.usage);
  if (code === 'EADDRNOTAVAIL') return new BerthError(`${host} is not an address of this machine (EADDRNOTAVAIL); use 127.0.0.1 or one of its own addresses.`, ExitCode.usage);
  return new BerthError(`Could not listen on ${host}:${port}: ${(err as Error).message}`, ExitCode.unexpected);
}
