/**
 * The handover engine: runs one relaunch plan (plans.ts) and returns what
 * came of it. It enforces, in this one place, what every plan must end with:
 *
 * - never zero servers: until the successor serves, this process serves, or
 *   serves again (a spawn that fails or hangs before its exec, an installer
 *   that cannot start, a successor that crashes, stalls or serves elsewhere);
 *   and until this process exits, it can take the port back: the successor
 *   must serve through a confirmation window first (CONFIRM_WINDOW_MS);
 * - never two: this process stops accepting only after the successor has
 *   served through that window (socket handed over), or closes before it
 *   binds (probe, after exit);
 * - only the real successor: the port is let go on word from the process we
 *   started ourselves (its IPC channel), or on a proof made with the secret in
 *   the handoff note for one started by someone else; never on the public
 *   instance id;
 * - a stolen port is a conflict, named, never a quiet exit 0.
 *
 * The host is told nothing along the way: it gets an outcome, and applies it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../errors';
import { holdsPort } from '../instance/holder';
import { probePort } from '../instance/probe';
import { isRunning } from '../processes';
import { within } from '../timeout';
import type { HistoryEntry } from './history';
import type { Listener } from './listener';
import type { NoteSuccessorPlan, OwnSuccessorPlan, RelaunchPlan, Started } from './plans';
import type { SuccessorProcess } from './successor-process';
import { newNoteId, newSecret, removeHandoffNote, writeHandoffNote, type Handoff, type HandoffNote, type SuccessorMessage } from './successor-protocol';

/**
 * How long a successor must serve before this process lets go for good.
 * Two seconds covers a new process's first second, when it does the work a
 * start leaves for after serving (the next app generation is built, the
 * compile cache is written, the update service starts), with room on a busy
 * machine; a successor that exits in that time is seen at once (its IPC
 * channel closes, or the port stops answering). After the window it must
 * still answer (ANSWER_MS), or it is taken for hung: its predecessor ends it
 * and serves again. Every relaunch's old process lives this much longer,
 * and `berth restart --app` answers this much later.
 */
export const CONFIRM_WINDOW_MS = 2000;
/** How long a successor has to answer at the end of the window: generous, so a busy machine is not taken for a hang. */
export const ANSWER_MS = 5000;

/** Who and where this Berth is, and its bounds: plain data, read once. */
export interface HandoverSelf {
  instance: string;
  version: string;
  dataDir: string;
  host: string;
  port: number;
  url: string;
  /** Where the successor serves: a saved address this process could not move to, or where it is. */
  relaunchAddress: { host: string; port: number };
  /** The history the successor carries on (it goes in the note). */
  history: HistoryEntry[];
  /** How long a successor may take to serve (default 10 s). */
  handoffDeadline?: number;
  /** CONFIRM_WINDOW_MS and ANSWER_MS, shorter in tests. */
  confirmWindow?: number;
  answerMs?: number;
  /** Whether a stop was asked while this ran: it goes to the successor with the confirmation. */
  stopAsked?: () => boolean;
}

/** What the engine needs of the host: five things, and it changes none of the host's state. */
export interface HandoverHost {
  readonly self: HandoverSelf;
  /** The listener serving now. */
  readonly listener: Listener;
  readonly log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Resolves when a handoff probe carries the proof made with `secret`. */
  expectProof(secret: string): { proven: Promise<void>; cancel(): void };
  /** Serve again after a successor failed: on the socket it had (`fd`, a copy kept for this), or on the port claimed afresh. Throws BerthError when it is not ours to take. */
  serveAgain(fd: number | null): Promise<Listener>;
  /** Drain a listener this process no longer serves on (tracked, so a stop waits for it). */
  drain(listener: Listener, opts?: { unhurried?: boolean }): Promise<void>;
}

/** The process that took over, where it is known (not after exit). */
export interface Successor {
  pid: number;
  instance: string;
}

export type HandoverOutcome =
  /** The successor serves (or, after exit, is certain to start): drain what is left, then exit. `entry` is the relaunch as the successor recorded it. */
  | { kind: 'handed-over'; entry: Omit<HistoryEntry, 'at'> & { at?: string }; successor?: Successor; drained: Promise<void> }
  /** The successor did not take over; this process serves on `listener` (`again`: after it had let go). */
  | { kind: 'kept'; failure: string; listener: Listener; again: boolean }
  /** The successor did not take over, and the port could not be claimed again. */
  | { kind: 'lost'; failure: string; error: BerthError };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

export async function runHandover(host: HandoverHost, plan: RelaunchPlan): Promise<HandoverOutcome> {
  const self = host.self;
  const listener = host.listener;
  const target = self.relaunchAddress;
  const handoff: Handoff = { instance: self.instance, pid: process.pid, host: target.host, port: target.port };
  const own = plan.kind === 'beside' && plan.startedBy === 'berth';
  // Our own successor hears from us on its channel: the note carries no secret, and no one else can claim it.
  const note: HandoffNote = {
    v: 2,
    ...handoff,
    id: newNoteId(),
    proof: own ? 'channel' : 'note',
    secret: own ? null : newSecret(),
    version: self.version,
    writtenAt: Date.now(),
    closedAt: null,
    history: self.history,
  };
  const kept = (failure: string): HandoverOutcome => {
    removeHandoffNote(self.dataDir, self.instance);
    return { kind: 'kept', failure, listener, again: false };
  };

  try {
    writeHandoffNote(self.dataDir, note);
  } catch (err) {
    return kept(`the handoff note could not be written in ${self.dataDir} (${message(err)})`);
  }
  if (plan.prepare) {
    try {
      await plan.prepare();
    } catch (err) {
      return kept(message(err));
    }
  }
  const run = new Run(host, note);
  if (plan.kind === 'after-exit') return run.afterExit(plan, handoff);
  if (own) return run.own(plan as OwnSuccessorPlan, handoff);
  return run.noted(plan as NoteSuccessorPlan, handoff);
}

/** One handover under way: the note it wrote, and the ways it ends. */
class Run {
  private readonly deadline: number;
  private readonly window: number;
  private readonly answerMs: number;

  constructor(
    private readonly host: HandoverHost,
    private readonly note: HandoffNote,
  ) {
    this.deadline = host.self.handoffDeadline ?? 10_000;
    this.window = host.self.confirmWindow ?? CONFIRM_WINDOW_MS;
    this.answerMs = host.self.answerMs ?? ANSWER_MS;
  }

  private get listener(): Listener {
    return this.host.listener;
  }

  /** The successor did not take over and this process never stopped: it serves on. */
  private kept(failure: string): HandoverOutcome {
    removeHandoffNote(this.host.self.dataDir, this.host.self.instance);
    return { kind: 'kept', failure, listener: this.listener, again: false };
  }

  /** The note now says when the listener closed, so the successor can tell how long the port was down. */
  private closeNote(): void {
    try {
      writeHandoffNote(this.host.self.dataDir, { ...this.note, closedAt: Date.now() });
    } catch {
      // The successor still has the first note: only the downtime figure is lost.
    }
  }

  // --- our own successor, started from a worker thread, with an IPC channel.

  async own(plan: OwnSuccessorPlan, handoff: Handoff): Promise<HandoverOutcome> {
    const fd = plan.handover === 'socket' && sameAddress(this.host.self) ? this.listener.fd : null;
    let s: SuccessorProcess;
    try {
      s = plan.start(handoff, fd);
    } catch (err) {
      return this.kept(`the new process could not start (${message(err)})`);
    }
    const words = new Words(s, this.deadline);
    const failed = await words.started();
    if (failed) {
      s.kill();
      s.release();
      return this.kept(failed);
    }
    return fd !== null ? this.socket(s, words) : this.ownProbe(s, words, plan);
  }

  /**
   * Socket handed over: the port never closes. Once the successor serves,
   * this process stops accepting, but holds a copy of the socket it sent
   * back until the window is over: if the successor fails, this process
   * serves on that socket again, with what is queued on it.
   */
  private async socket(s: SuccessorProcess, words: Words): Promise<HandoverOutcome> {
    const serving = await words.said('serving');
    if (typeof serving === 'string') {
      s.kill();
      s.release();
      return this.kept(serving);
    }
    const old = this.listener;
    old.windDown();
    await old.unlisten();
    this.host.log.info(`the new process (pid ${serving.pid}) serves on the socket; confirming for ${seconds(this.window)}`);
    // Only the successor accepts now, so the port says whether it answers.
    const failure = await this.confirm(s, words, serving.instance);
    if (failure) {
      s.kill();
      const fd = words.socketFd;
      if (fd === null) s.release();
      else s.keepSocket();
      this.host.log.error(`${failure}; serving ${fd === null ? 'again' : 'on the socket again'}`);
      const drained = this.host.drain(old, { unhurried: true });
      if (fd !== null) {
        try {
          removeHandoffNote(this.host.self.dataDir, this.host.self.instance);
          return { kind: 'kept', failure, listener: await this.host.serveAgain(fd), again: false };
        } catch (err) {
          this.host.log.error(`could not serve on the socket the new process had (${message(err)}); claiming the port again`);
        }
      }
      return this.again(failure, drained);
    }
    const drained = this.host.drain(old, { unhurried: true });
    s.send({ berth: 'confirmed', stop: this.host.self.stopAsked?.() ?? false });
    s.release();
    return { kind: 'handed-over', entry: serving.entry ?? relaunchEntry(serving.pid, 'socket handed over'), successor: { pid: serving.pid, instance: serving.instance }, drained };
  }

  /** Close and rebind, our own successor: it says on its channel when it is ready to bind; we close, it binds. */
  private async ownProbe(s: SuccessorProcess, words: Words, plan: OwnSuccessorPlan): Promise<HandoverOutcome> {
    const ready = await words.said('ready');
    if (typeof ready === 'string') {
      s.kill();
      s.release();
      return this.kept(ready);
    }
    const letGo = await this.letGo(plan, s);
    if (letGo) return letGo;
    const giveUp = (failure: string) => {
      s.kill();
      s.release();
      return this.again(failure, this.drained!);
    };
    const serving = await words.said('serving');
    if (typeof serving === 'string') return giveUp(serving);
    const failure = await this.confirm(s, words, serving.instance);
    if (failure) return giveUp(failure);
    s.send({ berth: 'confirmed', stop: this.host.self.stopAsked?.() ?? false });
    s.release();
    return { kind: 'handed-over', entry: serving.entry ?? relaunchEntry(serving.pid, 'port closed and bound again'), successor: { pid: serving.pid, instance: serving.instance }, drained: this.drained! };
  }

  // --- a successor someone else starts beside us (an updater, a `berth serve --replace`): it proves itself with the note.

  async noted(plan: NoteSuccessorPlan, handoff: Handoff): Promise<HandoverOutcome> {
    const proof = this.host.expectProof(this.note.secret!);
    let s: Started;
    try {
      s = await plan.start(handoff);
    } catch (err) {
      proof.cancel();
      return this.kept(`the new process could not start (${message(err)})`);
    }
    const outcome = await within(
      Promise.race([proof.proven.then(() => 'ready'), s.exited.then((code) => `the new process exited with code ${code} before it was ready`)]),
      this.deadline,
      () => `the new process was not ready within ${seconds(this.deadline)}`,
    );
    proof.cancel();
    if (outcome !== 'ready') {
      s.kill();
      return this.kept(outcome);
    }
    const letGo = await this.letGo(plan, s);
    if (letGo) return letGo;
    const seen = await this.successorServes(s);
    if (typeof seen === 'string') {
      s.kill();
      return this.again(seen, this.drained!);
    }
    const failure = await this.confirmThroughPort(s, seen);
    if (failure) {
      this.killHung(seen.pid);
      s.kill();
      return this.again(failure, this.drained!);
    }
    return { kind: 'handed-over', entry: relaunchEntry(seen.pid, 'port closed and bound again'), successor: seen, drained: this.drained! };
  }

  // --- after exit: make sure the successor will start (an installer has started) before anything closes.

  async afterExit(plan: Extract<RelaunchPlan, { kind: 'after-exit' }>, handoff: Handoff): Promise<HandoverOutcome> {
    try {
      await plan.start(handoff);
    } catch (err) {
      return this.kept(`${plan.startedBy === 'installer' ? 'the installer' : 'the new process'} could not start (${message(err)})`);
    }
    if (plan.beforeLettingGo) {
      try {
        await plan.beforeLettingGo(handoff);
      } catch (err) {
        return this.kept(message(err));
      }
    }
    this.closeNote();
    return { kind: 'handed-over', entry: { kind: 'relaunch', downtimeMs: null, detail: `${plan.label}: the new process starts once this one exits` }, drained: this.host.drain(this.listener) };
  }

  // --- the shared steps.

  private drained: Promise<void> | null = null;

  /** The successor is ready to bind: the plan's last word (a guardian), then close so it can. Null when let go. */
  private async letGo(plan: { beforeLettingGo?: (h: Handoff) => Promise<void> }, s: { kill(): void; release?(): void }): Promise<HandoverOutcome | null> {
    if (plan.beforeLettingGo) {
      try {
        await plan.beforeLettingGo({ instance: this.note.instance, pid: this.note.pid, host: this.note.host, port: this.note.port });
      } catch (err) {
        s.kill();
        s.release?.();
        return this.kept(message(err));
      }
    }
    this.closeNote();
    this.host.log.info('the new process is ready; closing the listener so it can bind');
    this.drained = this.host.drain(this.listener);
    return null;
  }

  /**
   * The successor serves: watch it through the window. It must not exit (its
   * channel closing says so at once), and at the end it must still answer:
   * on its channel, and, where only it listens (`instance`), through the port.
   * Null when confirmed, else why not.
   */
  private async confirm(s: SuccessorProcess, words: Words, instance: string | null): Promise<string | null> {
    const gone = s.exited.then(() => `the new process ${s.ended} within ${seconds(this.window)} of serving`);
    const early = await Promise.race([gone, sleep(this.window).then(() => null)]);
    if (early) return early;
    const answered = (async () => {
      const pong = await words.ping(this.answerMs);
      if (!pong) return `the new process stopped answering (nothing on its channel within ${seconds(this.answerMs)})`;
      if (instance === null) return null;
      const seen = await probePort(this.host.self.relaunchAddress.host, this.host.self.relaunchAddress.port, { timeout: this.answerMs });
      if (seen.verdict === 'duplicate' || seen.verdict === 'predecessor') return seen.running.instance === instance ? null : `the new process was replaced on the port by Berth pid ${seen.running.pid}`;
      return seen.verdict === 'silent' ? `the new process stopped answering on port ${seen.port}` : `the new process no longer serves port ${seen.port} (${seen.verdict === 'free' ? 'nothing answers there' : seen.what})`;
    })();
    return Promise.race([gone, answered]);
  }

  /** The window for a successor we did not start: only it listens now, so the port says whether it still serves. */
  private async confirmThroughPort(s: Started, seen: { pid: number; instance: string }): Promise<string | null> {
    const gone = s.exited.then((code) => `the new process exited with code ${code} within ${seconds(this.window)} of serving`);
    const watched = (async () => {
      const until = performance.now() + this.window;
      for (;;) {
        if (!isRunning(seen.pid)) return `the new process (pid ${seen.pid}) exited within ${seconds(this.window)} of serving`;
        if (performance.now() >= until) break;
        await sleep(Math.min(100, until - performance.now()));
      }
      const p = await probePort(this.host.self.relaunchAddress.host, this.host.self.relaunchAddress.port, { timeout: this.answerMs });
      if ((p.verdict === 'duplicate' || p.verdict === 'predecessor') && p.running.instance === seen.instance) return null;
      if (p.verdict === 'silent') return `the new process (pid ${seen.pid}) stopped answering on port ${p.port}`;
      return `the new process (pid ${seen.pid}) no longer serves port ${p.port}`;
    })();
    return Promise.race([gone, watched]);
  }

  /** A successor we did not start, hung on the port: ended only if it is what holds the port (Linux can tell). */
  private killHung(pid: number): void {
    if (pid === process.pid || holdsPort(pid, this.host.self.relaunchAddress.port) === false) return;
    try {
      process.kill(pid, 'SIGKILL');
      this.host.log.warn(`the new process (pid ${pid}) stopped answering on the port; ended it`);
    } catch {
      // gone already
    }
  }

  /** Wait until a Berth other than us serves where the successor should; its pid and instance, else why not. */
  private async successorServes(s: Started): Promise<{ pid: number; instance: string } | string> {
    let exitCode: number | null | undefined;
    void s.exited.then((c) => (exitCode = c));
    const target = this.host.self.relaunchAddress;
    const until = performance.now() + this.deadline;
    while (performance.now() < until) {
      if (exitCode !== undefined) return `the new process exited with code ${exitCode} before serving`;
      const seen = await probePort(target.host, target.port, { timeout: 1000 });
      if ((seen.verdict === 'duplicate' || seen.verdict === 'predecessor') && seen.running.instance !== this.host.self.instance) return { pid: seen.running.pid, instance: seen.running.instance };
      if (seen.verdict === 'foreign') return `port ${target.port} was taken by ${seen.what}`;
      await sleep(10);
    }
    return `the new process did not serve within ${seconds(this.deadline)}`;
  }

  /**
   * We closed, and the successor did not take the port, or did not keep it:
   * claim it again through the probe. A Berth serving there after all is
   * the successor, late: we are done. Anything else holding the port is a
   * conflict.
   */
  private async again(failure: string, drained: Promise<void>): Promise<HandoverOutcome> {
    removeHandoffNote(this.host.self.dataDir, this.host.self.instance);
    try {
      const listener = await this.host.serveAgain(null);
      return { kind: 'kept', failure, listener, again: true };
    } catch (err) {
      const running = err instanceof BerthError ? (err.details.running as { instance?: string; pid?: number } | undefined) : undefined;
      if (running?.instance && running.instance !== this.host.self.instance) {
        this.host.log.info(`the new process serves after all (instance ${running.instance})`);
        return { kind: 'handed-over', entry: relaunchEntry(running.pid ?? 0, 'port closed and bound again'), successor: running.pid ? { pid: running.pid, instance: running.instance } : undefined, drained };
      }
      const reason = `${failure}, and Berth could not serve again: ${message(err)}`;
      return { kind: 'lost', failure: reason, error: err instanceof BerthError ? err : new BerthError(reason, 1) };
    }
  }
}

/** The successor's channel, read as a sequence of words: `serving`, `ready`, and the answers to pings. */
class Words {
  private readonly heard: SuccessorMessage[] = [];
  /** The descriptor of a socket it sent with a message (its copy of the one it was handed), kept on the worker thread. */
  socketFd: number | null = null;
  private readonly waiting = new Set<() => void>();
  private pings = 0;
  /** Starting, getting ready and serving share one deadline, counted from the start. */
  private readonly until: number;

  constructor(
    private readonly s: SuccessorProcess,
    private readonly deadline: number,
  ) {
    this.until = performance.now() + deadline;
    s.onMessage((m, fd) => {
      if (fd !== null) this.socketFd = fd;
      this.heard.push(m);
      for (const fn of [...this.waiting]) fn();
    });
  }

  /** The first `berth: kind` message, or why it did not come: the process exited, or the deadline passed. */
  async said<K extends 'ready' | 'serving'>(kind: K): Promise<Extract<SuccessorMessage, { berth: K }> | string> {
    const said = this.next((m): m is Extract<SuccessorMessage, { berth: K }> => m.berth === kind);
    const [before, late] = kind === 'serving' ? ['before serving', 'did not serve'] : ['before it was ready', 'was not ready'];
    return within(
      Promise.race([said, this.s.exited.then(() => `the new process ${this.s.ended} ${before}`)]),
      Math.max(0, this.until - performance.now()),
      () => `the new process ${late} within ${seconds(this.deadline)}`,
    );
  }

  /** Started at all, within the deadline: a spawn that fails, or a fork stopped before its exec, never freezes this process. */
  async started(): Promise<string | null> {
    return within(
      this.s.started.then(
        () => null,
        (err: unknown) => `the new process could not start (${message(err)})`,
      ),
      Math.max(0, this.until - performance.now()),
      () => `the new process did not start within ${seconds(this.deadline)}`,
    );
  }

  /** Ask on the channel; true when it answers within `ms`. */
  async ping(ms: number): Promise<boolean> {
    const n = ++this.pings;
    const pong = this.next((m): m is SuccessorMessage => m.berth === 'pong' && m.n === n);
    this.s.send({ berth: 'ping', n });
    return within(
      pong.then(() => true),
      ms,
      () => false,
    );
  }

  private next<T extends SuccessorMessage>(match: (m: SuccessorMessage) => m is T): Promise<T> {
    return new Promise<T>((resolve) => {
      const look = () => {
        const i = this.heard.findIndex(match);
        if (i < 0) return false;
        this.waiting.delete(check);
        resolve(this.heard.splice(i, 1)[0] as T);
        return true;
      };
      const check = () => void look();
      if (!look()) this.waiting.add(check);
    });
  }
}

function sameAddress(self: HandoverSelf): boolean {
  return self.relaunchAddress.host === self.host && self.relaunchAddress.port === self.port;
}

function relaunchEntry(pid: number, how: string): Omit<HistoryEntry, 'at'> {
  return { kind: 'relaunch', downtimeMs: how === 'socket handed over' ? 0 : null, detail: `pid ${process.pid} -> pid ${pid}, ${how}` };
}
