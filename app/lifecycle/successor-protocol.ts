/**
 * The protocol between a Berth and the process that replaces it, in one
 * place: which Berth a new process replaces (the handoff), how that travels
 * (the command line with `--listen-fd`, the environment, the note in the data
 * directory), the proof only the real successor can make (the probe's
 * header), the messages on the IPC channel between the two, and the one
 * answer to "whom do I replace" that `berth serve` and the desktop both use.
 *
 * The command line and the environment carry no secret (anyone can read
 * them, and /health publishes the instance id). The secret is only in the
 * note, a 0600 file in the data directory that the predecessor writes before
 * it starts anything: a successor that can read it shares the data
 * directory, and only then may it make the predecessor let go of the port or
 * terminate it. An installer may start the new version with a clean
 * environment and none of our arguments, so the note alone is enough.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readOwnFile } from '../files/read';
import { writeFileAtomic } from '../files/write';
import { BerthError, ExitCode } from '../errors';
import { HANDOFF_HEADER, urlFor } from '../instance/probe';
import { isAlive, isRunning } from '../processes';
import type { HistoryEntry } from './history';

export { HANDOFF_HEADER };

export interface Handoff {
  /** The predecessor's instance id (public: /health shows it). */
  instance: string;
  pid: number;
  /** Where the predecessor serves, which may differ from its command line after a move from Settings. */
  host: string;
  port: number;
}

/**
 * The note: the handoff, how the successor proves itself, and the
 * predecessor's history, which would otherwise end with it. It is also how
 * any other start in this data directory learns that a relaunch is in
 * progress (a bystander: exit 3).
 */
export interface HandoffNote extends Handoff {
  v: 2;
  /** This handoff, among others in the same data directory (public). */
  id: string;
  /**
   * `channel`: the predecessor started the successor itself and talks to it
   * on its IPC channel; the note holds no secret and no one can claim it.
   * `note`: someone else starts it (an installer, Electron's relaunch, a
   * `berth serve --replace`); the note holds the secret, and the first start
   * that names this predecessor (or, once it has exited, any start) claims it.
   */
  proof: 'channel' | 'note';
  secret: string | null;
  version: string;
  writtenAt: number;
  /** Wall-clock ms when the predecessor closed its listener; null while it still listens (or handed its socket over). */
  closedAt: number | null;
  history: HistoryEntry[];
}

/** A handoff whose note was found and matched: this process is the real successor. */
export interface ProvenHandoff extends Handoff {
  note: HandoffNote;
  /** The note's secret, for the handoff probe's proof; null for a successor on a channel, which needs none. */
  secret: string | null;
  /** The channel to the predecessor that started us; null when someone else did (or it is gone). */
  channel: PredecessorChannel | null;
}

export const HANDOFF_ENV = 'BERTH_HANDOFF';
export const HANDOFF_NOTE_FILE = 'handoff.json';
/** Who claimed a `note`-proof handoff: the first start to create it (exclusively). */
export const HANDOFF_CLAIM_FILE = 'handoff-claim.json';
/** A note older than this is from a relaunch that never finished: ignored, and removed. */
export const NOTE_MAX_AGE_MS = 10 * 60_000;
const NOTE_MAX_BYTES = 256 * 1024;

const INSTANCE = /^[A-Za-z0-9_-]{1,64}$/;

export function validHandoff(h: Partial<Handoff> | null | undefined): boolean {
  return (
    !!h &&
    typeof h.instance === 'string' &&
    INSTANCE.test(h.instance) &&
    Number.isInteger(h.pid) &&
    h.pid! > 0 &&
    typeof h.host === 'string' &&
    h.host.length > 0 &&
    h.host.length <= 255 &&
    !/[\s\0]/.test(h.host) &&
    Number.isInteger(h.port) &&
    h.port! > 0 &&
    h.port! < 65536
  );
}

export function newSecret(): string {
  return crypto.randomBytes(32).toString('base64url');
}

export function newNoteId(): string {
  return crypto.randomBytes(9).toString('base64url');
}

// --- command line: --handoff=<instance> --handoff-pid=<pid>, with --host/--port set to the handoff's address,
// and --listen-fd=3 for a successor that inherits the listening socket as descriptor 3.

/** `--flag=value`: an instance id may begin with '-', which would read as another flag. */
export function handoffArgs(h: Handoff): string[] {
  return [`--host=${h.host}`, `--port=${h.port}`, `--handoff=${h.instance}`, `--handoff-pid=${h.pid}`];
}

/** The descriptor a successor finds the inherited listening socket on (stdio[3]). */
export const INHERITED_FD = 3;

export function listenFdArgs(fd: number = INHERITED_FD): string[] {
  return [`--listen-fd=${fd}`];
}

/** The flags a handoff replaces in a command line that is passed on. */
export const HANDOFF_FLAGS = ['--handoff', '--handoff-pid', '--listen-fd'] as const;

export function handoffFromArgs(v: { handoff?: string; handoffPid?: string; host?: string; port?: string }): Handoff | null {
  if (v.handoff === undefined) return null;
  const h: Handoff = { instance: v.handoff, pid: Number(v.handoffPid), host: v.host ?? '', port: Number(v.port) };
  return validHandoff(h) ? h : null;
}

const DROPPED_FLAGS = new Set(['--replace', '--host', '--port', ...HANDOFF_FLAGS]);

/**
 * The same command line, minus the previous handoff and address, plus this
 * handoff (which names the current address, so a server moved from Settings
 * relaunches where it is, not where it started).
 */
export function successorArgs(args: readonly string[], handoff: Handoff, extra: string[] = []): string[] {
  return [...dropFlags(args, DROPPED_FLAGS), ...handoffArgs(handoff), ...extra];
}

/** A command line with any earlier handoff taken out (a fresh start). */
export function withoutHandoff(args: readonly string[]): string[] {
  return dropFlags(args, new Set(['--replace', ...HANDOFF_FLAGS]));
}

/** The same command line for a fresh start where this handoff's Berth served (a guardian's relaunch): no handoff, the current address. */
export function freshArgs(args: readonly string[], at: { host: string; port: number }): string[] {
  return [...dropFlags(args, DROPPED_FLAGS), `--host=${at.host}`, `--port=${at.port}`];
}

function dropFlags(args: readonly string[], drop: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.split('=', 1)[0]!;
    if (drop.has(name)) {
      // `--port 9000`: the value goes too (`--replace` takes none).
      if (!a.includes('=') && name !== '--replace' && i + 1 < args.length) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

// --- environment: BERTH_HANDOFF=<instance>:<pid>:<port>:<host> (host last: an IPv6 address has colons).

export function encodeHandoffEnv(h: Handoff): string {
  return `${h.instance}:${h.pid}:${h.port}:${h.host}`;
}

/** Read and remove it, so it is not inherited further. */
export function takeHandoffEnv(env: NodeJS.ProcessEnv = process.env): Handoff | null {
  const raw = env[HANDOFF_ENV];
  delete env[HANDOFF_ENV];
  const m = /^([^:]+):(\d{1,10}):(\d{1,5}):(.+)$/.exec(raw ?? '');
  if (!m) return null;
  const h: Handoff = { instance: m[1]!, pid: Number(m[2]), port: Number(m[3]), host: m[4]! };
  return validHandoff(h) ? h : null;
}

// --- the note in the data directory.

function notePath(dataDir: string): string {
  return path.join(dataDir, HANDOFF_NOTE_FILE);
}

/**
 * Written before the successor is started (and again when the listener
 * closes, with closedAt). No fsync: it sits inside the relaunch, and a note
 * lost to a power cut costs one relaunch, which then starts fresh.
 */
export function writeHandoffNote(dataDir: string, note: HandoffNote): void {
  writeFileAtomic(notePath(dataDir), JSON.stringify(note), 0o600, { durable: false });
}

/** The note, if there is a usable one: a regular file of ours, not too big, not too old, well formed. */
export function readHandoffNote(dataDir: string, now = Date.now()): HandoffNote | null {
  // Opened without following links, and only if it is a regular file of ours that no one else can read.
  const got = readOwnFile(notePath(dataDir), { maxBytes: NOTE_MAX_BYTES, secret: true });
  if (got.state !== 'read') return null;
  // A secret others could have read is no proof of anything.
  if (process.platform !== 'win32' && (got.stat.mode & 0o077) !== 0) return null;
  const text = got.text;
  let n: Partial<HandoffNote>;
  try {
    n = JSON.parse(text) as Partial<HandoffNote>;
  } catch {
    return null;
  }
  const proof = n.proof === 'channel' || n.proof === 'note' ? n.proof : null;
  const secretOk = proof === 'channel' ? n.secret === null || n.secret === undefined : typeof n.secret === 'string' && n.secret.length >= 32;
  if (n.v !== 2 || !proof || !secretOk || !validHandoff(n) || typeof n.id !== 'string' || !INSTANCE.test(n.id) || typeof n.writtenAt !== 'number') return null;
  if (now - n.writtenAt > NOTE_MAX_AGE_MS || n.writtenAt - now > 60_000) return null;
  return {
    v: 2,
    instance: n.instance!,
    pid: n.pid!,
    host: n.host!,
    port: n.port!,
    id: n.id,
    proof,
    secret: proof === 'note' ? n.secret! : null,
    version: String(n.version ?? ''),
    writtenAt: n.writtenAt,
    closedAt: typeof n.closedAt === 'number' ? n.closedAt : null,
    history: Array.isArray(n.history) ? n.history.slice(-200) : [],
  };
}

export function removeHandoffNote(dataDir: string, instance?: string): void {
  if (instance !== undefined && readHandoffNote(dataDir)?.instance !== instance) return;
  fs.rmSync(notePath(dataDir), { force: true });
  fs.rmSync(path.join(dataDir, HANDOFF_CLAIM_FILE), { force: true });
}

/**
 * Claim a `note`-proof handoff, exactly once: the claim file is created
 * exclusively, so of two starts only one gets it. A claim by a process that
 * has since exited, or for an earlier note, is stale and taken over.
 */
export function claimHandoffNote(dataDir: string, note: HandoffNote): boolean {
  const file = path.join(dataDir, HANDOFF_CLAIM_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify({ id: note.id, pid: process.pid }), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    const got = readOwnFile(file, { maxBytes: 1024, secret: true });
    let claim: { id?: unknown; pid?: unknown } = {};
    try {
      claim = got.state === 'read' ? (JSON.parse(got.text) as typeof claim) : {};
    } catch {
      // unreadable: stale
    }
    const live = claim.id === note.id && typeof claim.pid === 'number' && claim.pid !== process.pid && isRunning(claim.pid);
    if (live) return false;
    fs.rmSync(file, { force: true });
  }
  return false;
}

/** What a start is, given what it was told and the note in its data directory. */
export type Succession =
  /** No relaunch concerns it: a start like any other (`unproven`: it named a predecessor that left no note for it). */
  | { kind: 'fresh'; unproven: Handoff | null }
  /** The real successor. */
  | { kind: 'successor'; handoff: ProvenHandoff }
  /** Another process's relaunch is in progress here: it is not ours to join (exit 3), and we signal no one. */
  | { kind: 'bystander'; note: HandoffNote };

/**
 * Whether this start is the successor of a relaunch in its data directory,
 * a bystander to one, or neither. Decided once per process (a `note` claim
 * is taken here). The note is a channel, not an identity:
 * - a `channel` note belongs to the process its predecessor started: the one
 *   whose parent it is and that holds the IPC channel it opened;
 * - a `note` note is claimed once, by a start that names the predecessor, or,
 *   once the predecessor has let go of the port or exited (an installer's
 *   clean start), by any;
 * - while the predecessor lives, every other start is a bystander;
 * - once it is gone, its note is no obstacle to anyone.
 */
export function resolveSuccession(claimed: Handoff | null, dataDir: string): Succession {
  const note = readHandoffNote(dataDir);
  if (!note) return { kind: 'fresh', unproven: claimed };
  const names = !claimed || (claimed.instance === note.instance && claimed.pid === note.pid);
  // A predecessor killed a moment ago may be a zombie until its parent reaps it: it lives no more.
  const predecessorLives = note.pid !== process.pid && isAlive(note.pid);
  const h: Handoff = claimed ?? { instance: note.instance, pid: note.pid, host: note.host, port: note.port };
  const successor = (secret: string | null, channel: PredecessorChannel | null): Succession => ({ kind: 'successor', handoff: { ...h, note, secret, channel } });
  if (note.proof === 'channel') {
    const channel = claimed && names ? PredecessorChannel.open(claimed) : null;
    if (channel) return successor(null, channel);
    if (predecessorLives) return { kind: 'bystander', note };
    // Started by a predecessor that has since gone: nothing of it is left to ask or to end.
    return claimed && names ? successor(null, null) : { kind: 'fresh', unproven: claimed };
  }
  // A start that names no one may claim it once the predecessor has let go of the port (it exits next) or exited.
  const mayClaim = claimed ? names : !predecessorLives || note.closedAt !== null;
  if (mayClaim && claimHandoffNote(dataDir, note)) return successor(note.secret, null);
  if (predecessorLives) return { kind: 'bystander', note };
  return { kind: 'fresh', unproven: claimed && !names ? claimed : null };
}

/**
 * The refusal a bystander gets: another process's relaunch is under way
 * here. Exit 3, like any start that finds Berth already running; it signals
 * no one.
 */
export function relaunchInProgress(note: HandoffNote): BerthError {
  const where = urlFor(note.host, note.port);
  return new BerthError(
    `A relaunch of Berth ${note.version} on ${where} is in progress (pid ${note.pid} is handing over to a new process), so this start leaves it alone. Try again in a moment.`,
    ExitCode.alreadyRunning,
    { running: { pid: note.pid, instance: note.instance, url: where }, relaunching: true },
  );
}

// --- the probe's proof: the X-Berth-Handoff header carries <instance> <hmac>, never the secret itself.

export function handoffProof(instance: string, secret: string): string {
  return `${instance} ${crypto.createHmac('sha256', secret).update(`berth-handoff:${instance}`).digest('base64url')}`;
}

export function checkHandoffProof(value: string, instance: string, secret: string | null): boolean {
  if (!secret) return false;
  const want = Buffer.from(handoffProof(instance, secret));
  const got = Buffer.from(value.trim());
  return got.length === want.length && crypto.timingSafeEqual(got, want);
}

// --- the IPC channel a predecessor opens to a successor it starts itself.

/** What a successor says to its predecessor. */
export type SuccessorMessage =
  /** Close and rebind: loaded, about to bind; let go of the port. */
  | { berth: 'ready' }
  /** Serving (on the socket handed over, or on the port it bound), with the relaunch as it recorded it. */
  | { berth: 'serving'; instance: string; pid: number; entry?: HistoryEntry }
  | { berth: 'pong'; n: number };

/** What a predecessor says to its successor. */
export type PredecessorMessage =
  /** Still answering? (the confirmation window) */
  | { berth: 'ping'; n: number }
  /** The window is over: the predecessor leaves, and the port is the successor's alone (`stop`: a stop was asked of it meanwhile, which is the successor's now). */
  | { berth: 'confirmed'; stop?: boolean };

export function isSuccessorMessage(m: unknown): m is SuccessorMessage {
  const v = m as { berth?: unknown; instance?: unknown; pid?: unknown; n?: unknown } | null;
  if (typeof v !== 'object' || v === null) return false;
  if (v.berth === 'ready') return true;
  if (v.berth === 'pong') return typeof v.n === 'number';
  return v.berth === 'serving' && typeof v.instance === 'string' && typeof v.pid === 'number';
}

function isPredecessorMessage(m: unknown): m is PredecessorMessage {
  const v = m as { berth?: unknown; n?: unknown } | null;
  return typeof v === 'object' && v !== null && ((v.berth === 'ping' && typeof v.n === 'number') || v.berth === 'confirmed');
}

/** The successor's end of the channel its predecessor opened. */
export class PredecessorChannel {
  /** Resolves when the predecessor confirms the handover, or is gone (its channel closed). */
  readonly confirmed: Promise<void>;
  /** The predecessor was asked to stop while it handed over: now that is ours to do. */
  stopAsked = false;

  /** The channel to the process that started us, if that process is the predecessor named in `h`. */
  static open(h: Handoff): PredecessorChannel | null {
    if (typeof process.send !== 'function' || !process.connected || process.ppid !== h.pid) return null;
    return new PredecessorChannel();
  }

  private constructor() {
    let confirm!: () => void;
    this.confirmed = new Promise<void>((r) => (confirm = r));
    const onMessage = (m: unknown) => {
      if (!isPredecessorMessage(m)) return;
      if (m.berth === 'ping') return this.say({ berth: 'pong', n: m.n });
      this.stopAsked = m.stop === true;
      confirm();
    };
    process.on('message', onMessage);
    process.once('disconnect', () => {
      process.off('message', onMessage);
      confirm();
    });
  }

  /** Say `m`; `socket` (a listening handle) goes with it, a copy for the predecessor to keep. */
  say(m: SuccessorMessage, socket?: object): void {
    if (!process.connected) return;
    if (socket) process.send!(m, socket as never, () => undefined);
    else process.send!(m, () => undefined);
  }
}

// --- whom do I replace.

/** What a starting Berth was told about its predecessor, before anything is proven. */
export interface Replaces {
  /** The Berth it says it replaces (command line, else environment); proven later (resolveSuccession). */
  claimed: Handoff | null;
  /** A listening socket handed over (`--listen-fd`). */
  inheritedFd: number | null;
  /** What was malformed in what it was told; `berth serve` refuses to start on it (exit 2), the desktop logs it. */
  problem: string | null;
}

/**
 * Who this process replaces, as it was told: the command line wins (a
 * relaunch passes --handoff with --host/--port), then the environment (an
 * installer that keeps it); with neither, an installer's clean start, the
 * note alone may name the predecessor (resolveSuccession). The environment
 * variable is read and removed, so it is not inherited further.
 */
export function whomDoIReplace(given: { handoff?: string | null; handoffPid?: string | number | null; host?: string; port?: string | number; listenFd?: string }, env: NodeJS.ProcessEnv = process.env): Replaces {
  const fromEnv = takeHandoffEnv(env);
  const named = given.handoff ?? undefined;
  const fromArgs = handoffFromArgs({ handoff: named, handoffPid: given.handoffPid == null ? undefined : String(given.handoffPid), host: given.host, port: given.port == null ? undefined : String(given.port) });
  let problem: string | null = null;
  if (named !== undefined && !fromArgs) problem = '--handoff needs --handoff-pid, --host and --port that name a real process and address.';
  let inheritedFd: number | null = null;
  if (given.listenFd !== undefined) {
    const fd = Number(given.listenFd);
    if (Number.isInteger(fd) && fd >= 3) inheritedFd = fd;
    else problem ??= '--listen-fd must be a descriptor number of 3 or more.';
  }
  return { claimed: fromArgs ?? fromEnv, inheritedFd, problem };
}
