/**
 * The handover engine: runs one relaunch plan (plans.ts) for a host and
 * enforces, in this one place, what every plan must end with:
 *
 * - never zero servers: until the successor serves, this process serves, or
 *   serves again (a spawn that fails, an installer that cannot start, a
 *   successor that crashes, stalls or serves elsewhere);
 * - never two: this process stops accepting only after the successor serves
 *   (socket handed over), or closes before it binds (probe, after exit);
 * - only the real successor: the port is let go on a proof made with the
 *   secret in the handoff note, never on the public instance id;
 * - a stolen port is a conflict, named, never a quiet exit 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, ExitCode } from '../errors';
import { probePort } from '../instance/probe';
import { within } from '../timeout';
import { newSecret, removeHandoffNote, writeHandoffNote, type Handoff, type HandoffNote } from './successor-protocol';
import type { History, HistoryEntry } from './history';
import type { Listener } from './listener';
import type { RelaunchPlan, SocketSuccessor, Started } from './plans';
import type { HostState } from './states';

/** What the engine needs of the host (ServerHost is one): its state, its listener, and where it serves. */
export interface HandoverHost {
  readonly opts: { readonly dataDir: string; readonly version: string; readonly handoffDeadline?: number };
  readonly instance: string;
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly history: History;
  readonly relaunchAddress: { host: string; port: number };
  readonly currentListener: Listener | null;
  readonly log: { info(m: string): void; error(m: string): void };
  setState(s: HostState): void;
  record(entry: Omit<HistoryEntry, 'at'>): HistoryEntry;
  expectProof(secret: string): { proven: Promise<void>; cancel: () => void };
  release(): Listener | null;
  adopt(listener: Listener): void;
  drainListener(listener: Listener, opts?: { unhurried?: boolean }): Promise<void>;
  claimListener(host: string, port: number): Promise<Listener>;
  settled(): Promise<void>;
  emit(event: 'exit', code: number): boolean;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function runRelaunch(host: HandoverHost, plan: RelaunchPlan): Promise<void> {
  const o = host.opts;
  const deadline = o.handoffDeadline ?? 10_000;
  const listener = host.currentListener!;
  const target = host.relaunchAddress;
  const handoff: Handoff = { instance: host.instance, pid: process.pid, host: target.host, port: target.port };
  const note: HandoffNote = { v: 1, ...handoff, secret: newSecret(), version: o.version, writtenAt: Date.now(), closedAt: null, history: host.history.recent(50) };
  host.setState('relaunching');
  host.log.info(`relaunching (${plan.label})`);

  /** The successor did not take over and this process never stopped: say so, and go on serving. */
  const keepServing = (reason: string): never => {
    removeHandoffNote(o.dataDir, host.instance);
    host.setState('serving');
    host.record({ kind: 'relaunch', downtimeMs: null, failed: reason });
    host.log.error(`relaunch failed: ${reason}; still serving ${host.url}`);
    throw new BerthError(`Relaunch failed: ${reason}. Berth pid ${process.pid} keeps serving ${host.url}.`, ExitCode.unexpected, { failed: reason });
  };

  try {
    writeHandoffNote(o.dataDir, note);
  } catch (err) {
    keepServing(`the handoff note could not be written in ${o.dataDir} (${message(err)})`);
  }
  if (plan.prepare) {
    try {
      await plan.prepare();
    } catch (err) {
      keepServing(message(err));
    }
  }

  const sameAddress = target.host === host.host && target.port === host.port;
  const fd = plan.kind === 'beside' && plan.handover === 'socket' && sameAddress ? listener.fd : null;

  // --- beside, socket handed over: the port never closes.
  if (plan.kind === 'beside' && fd !== null) {
    let s: SocketSuccessor;
    try {
      s = (await plan.start(handoff, fd)) as SocketSuccessor;
    } catch (err) {
      return keepServing(`the new process could not start (${message(err)})`);
    }
    const outcome = await within(
      s.serving.then(
        () => 'serving',
        (err: unknown) => message(err),
      ),
      deadline,
      () => `the new process did not serve within ${seconds(deadline)}`,
    );
    if (outcome !== 'serving') {
      s.kill();
      return keepServing(outcome);
    }
    host.log.info('the new process serves on the socket; draining');
    return finish(host, listener, undefined, { unhurried: true });
  }

  // --- beside, probe handoff: serve until the successor proves it is ready, then close so it can bind.
  if (plan.kind === 'beside') {
    const proof = host.expectProof(note.secret);
    let s: Started;
    try {
      s = await plan.start(handoff, null);
    } catch (err) {
      proof.cancel();
      return keepServing(`the new process could not start (${message(err)})`);
    }
    const outcome = await within(
      Promise.race([proof.proven.then(() => 'ready'), s.exited.then((code) => `the new process exited with code ${code} before it was ready`)]),
      deadline,
      () => `the new process was not ready within ${seconds(deadline)}`,
    );
    proof.cancel();
    if (outcome !== 'ready') {
      s.kill();
      return keepServing(outcome);
    }
    closeNote(o.dataDir, note);
    host.log.info('the new process is ready; closing the listener so it can bind');
    host.release();
    const drained = host.drainListener(listener);
    const failure = await successorServes(host, s, target, deadline);
    if (failure) {
      s.kill();
      await drained;
      return serveAgain(host, failure);
    }
    return finish(host, null, drained);
  }

  // --- after exit: make sure the successor will start (an installer has started) before anything closes.
  try {
    await plan.start(handoff);
  } catch (err) {
    return keepServing(`${plan.startedBy === 'installer' ? 'the installer' : 'the new process'} could not start (${message(err)})`);
  }
  closeNote(o.dataDir, note);
  return finish(host, listener);
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** The note now says when the listener closed, so the successor can tell how long the port was down. */
function closeNote(dataDir: string, note: HandoffNote): void {
  try {
    writeHandoffNote(dataDir, { ...note, closedAt: Date.now() });
  } catch {
    // The successor still has the first note: only the downtime figure is lost.
  }
}

/** The successor serves: drain what we still have, then tell the owner to exit. */
async function finish(host: HandoverHost, listener: Listener | null, drained?: Promise<void>, how: { unhurried?: boolean } = {}): Promise<void> {
  if (listener) {
    host.release();
    await host.drainListener(listener, how);
  }
  await drained;
  await host.settled();
  host.setState('stopped');
  host.emit('exit', 0);
}

/** Wait until a Berth other than us serves where the successor should; null when it does, else why not. */
async function successorServes(host: HandoverHost, s: Started, target: { host: string; port: number }, deadline: number): Promise<string | null> {
  let exitCode: number | null | undefined;
  void s.exited.then((c) => (exitCode = c));
  const until = performance.now() + deadline;
  while (performance.now() < until) {
    if (exitCode !== undefined) return `the new process exited with code ${exitCode} before serving`;
    const seen = await probePort(target.host, target.port, { timeout: 1000 });
    if ((seen.verdict === 'duplicate' || seen.verdict === 'predecessor') && seen.running.instance !== host.instance) return null;
    if (seen.verdict === 'foreign') return `port ${target.port} was taken by ${seen.what}`;
    await sleep(10);
  }
  return `the new process did not serve within ${seconds(deadline)}`;
}

/**
 * We closed, and the successor did not take the port: claim it again through
 * the probe. A Berth serving there after all is the successor, late: we are
 * done. Anything else holding the port is a conflict.
 */
async function serveAgain(host: HandoverHost, failure: string): Promise<never | void> {
  removeHandoffNote(host.opts.dataDir, host.instance);
  try {
    host.adopt(await host.claimListener(host.host, host.port));
  } catch (err) {
    const running = err instanceof BerthError ? (err.details.running as { instance?: string } | undefined) : undefined;
    if (running && running.instance !== host.instance) {
      host.log.info(`the new process serves after all (instance ${running.instance})`);
      return finish(host, null);
    }
    const reason = `${failure}, and Berth could not serve again: ${message(err)}`;
    host.setState('conflict');
    host.record({ kind: 'relaunch', downtimeMs: null, failed: reason });
    host.log.error(`relaunch failed: ${reason}`);
    throw new BerthError(`Relaunch failed: ${reason}`, err instanceof BerthError ? err.exitCode : ExitCode.unexpected, { failed: reason });
  }
  host.setState('serving');
  host.record({ kind: 'relaunch', downtimeMs: null, failed: failure });
  host.log.error(`relaunch failed: ${failure}; serving again on ${host.url}`);
  throw new BerthError(`Relaunch failed: ${failure}. Berth pid ${process.pid} serves ${host.url} again.`, ExitCode.unexpected, { failed: failure });
}
