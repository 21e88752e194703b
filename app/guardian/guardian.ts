/**
 * The guardian: a small detached watcher for a handover that ends this
 * process before its successor serves (the desktop's Restart app, the
 * close-and-rebind relaunch, an installer that runs after we exit). After
 * this process has gone nothing of Berth is left to notice a successor, or
 * an installer, that fails; the guardian is.
 *
 * How to use it (the API for every handover path):
 *
 *   // the predecessor, before it lets go of the port (resolves once the guardian runs):
 *   const g = await startGuardian({ dataDir, host, port, fromVersion: '1.0.0',
 *     waitForPid: installer.pid,           // optional: an installer to wait for first
 *     allowanceMs: 30_000,                 // then how long a Berth may take to serve
 *     relaunch: { command, args },         // how to start the installed Berth, once (no secret)
 *     what: 'The update to 1.0.1', toVersion: '1.0.1' });
 *   g.cancel();                            // called off while we still serve (createBerth does it for you)
 *
 *   // every Berth that serves (createBerth): announceServing(dataDir);
 *   // one that stops on purpose (createBerth): releaseGuardians(dataDir);
 *   // the next start (createBerth): takeGuardianReports(dataDir, version)
 *   //   -> "The update to 1.0.1 failed (installer exit 2); Berth 1.0.0 is running."
 *   //   -> a history row (kind 'recovered'), the console banner, a desktop notification.
 *
 * What it does (scripts.ts has the two scripts, /bin/sh and PowerShell):
 * 1. If given an installer's pid, wait for it to exit (at most
 *    `installerBoundMs`). Windows also learns its exit code; on Linux and
 *    macOS a process that is not our child gives none.
 * 2. Then wait up to `allowanceMs` for a Berth to serve. "A Berth serves" is
 *    the successor's word through the data folder, not a network probe: a
 *    Berth writes its pid into `guardian/<id>.served` once it serves on its
 *    port (after its self-check, which proves the port is its own), for
 *    every pending guardian of its data folder. A probe would need curl or
 *    nc, which neither a minimal Linux nor dash has, and a connection that
 *    succeeds would not even say it is Berth. The guardian then watches that
 *    pid for `confirmMs`: a successor that dies in its first seconds, after
 *    the predecessor has gone, counts as none. A Berth that stops on purpose
 *    (quit, `berth stop`, or a relaunch of its own) removes the record first.
 * 3. If no Berth serves: write what happened (`guardian/<id>.outcome`), then
 *    start the installed Berth once, and end. That Berth, or the next one
 *    that serves, turns the record into a report.
 *
 * Its bound: installer bound + allowance + confirmation + a minute, after
 * which it ends whatever happened; its record is then stale, and the next
 * Berth removes it. It leaves nothing on disk from its first instant (the
 * script deletes its own folder), and ends at once when its record goes
 * (cancelled, or the data folder removed).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readOwnFile } from '../files/read';
import { writeFileAtomic } from '../files/write';
import { started } from '../lifecycle/plans';
import { randomBytes } from '../random';
import { psScript, scriptRunner, shScript, type GuardianCommand } from './scripts';

export type { GuardianCommand } from './scripts';

export interface GuardianSpec {
  dataDir: string;
  /** Where the port is; for the record and the words. */
  host: string;
  port: number;
  /** An installer's pid: wait for it to exit before the allowance starts. */
  waitForPid?: number | null;
  /** How long an installer may run before the guardian starts Berth anyway (default 15 min: a UAC prompt waits for a person). */
  installerBoundMs?: number;
  /** How long a Berth may take to serve, from now (or from the installer's exit). */
  allowanceMs: number;
  /** How long the Berth that serves must stay up before the guardian is done (default CONFIRM_MS). */
  confirmMs?: number;
  /** How to start the installed Berth, once: the AppImage, the installed executable, or node + bin/berth.js. No secret. */
  relaunch: GuardianCommand;
  /** Words for the report, as its subject: "The update to 1.0.1", "Restart app". */
  what: string;
  /** The version this handover should end with (an update's), if not this one. */
  toVersion?: string;
  /** This Berth's version (in the record, for the log). */
  fromVersion: string;
  /** This process, which may still take the port back while it runs (default process.pid). */
  predecessorPid?: number;
  /** Which script to write (default this platform's). */
  platform?: NodeJS.Platform;
  /** The guardian's environment, which the Berth it starts inherits (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long the guardian may take to show it runs (default 15 s: PowerShell can be slow to start on a busy machine). */
  startTimeoutMs?: number;
}

export interface Guardian {
  id: string;
  pid: number;
  /** Where its script was written: gone by the time startGuardian resolves. */
  folder: string;
  /** Call the guardian off (this process serves on): it ends without starting anything. */
  cancel(): void;
}

/**
 * A successor that serves this long is taken to have come up. Long enough
 * for what a new Berth does in its first seconds (its update service, the
 * first requests of reconnecting pages) and for its predecessor to drain and
 * exit (the predecessor's own watch ends there); short enough that the
 * guardian is gone well within a minute of a good handover.
 */
export const CONFIRM_MS = 10_000;
/**
 * How long a Berth may take to serve once the one before it has exited (or
 * its installer has): Electron's start, the single-instance lock, the
 * server's own start. A cold start from a slow disk under an antivirus scan
 * takes seconds; thirty is well past that, and still short for a person
 * left without Berth.
 */
export const START_ALLOWANCE_MS = 30_000;
export const INSTALLER_BOUND_MS = 15 * 60_000;
/** What the guardian's life adds to its bounds, and how long past it a record without an outcome is kept. */
const LIFE_MARGIN_MS = 60_000;
const RECORD_MAX_BYTES = 64 * 1024;
const ID = /^[0-9a-f]{12}$/;

interface GuardianRecord {
  v: 1;
  id: string;
  what: string;
  fromVersion: string;
  toVersion: string | null;
  host: string;
  port: number;
  predecessorPid: number;
  waitForPid: number | null;
  allowanceMs: number;
  confirmMs: number;
  installerBoundMs: number;
  startedAt: number;
  /** Wall-clock ms after which the guardian has certainly ended. */
  endsBy: number;
}

/** The guardians' folder in the data folder. */
export function guardianFolder(dataDir: string): string {
  return path.join(dataDir, 'guardian');
}

const file = (dataDir: string, id: string, ext: string) => path.join(guardianFolder(dataDir), `${id}.${ext}`);

function removeRecord(dataDir: string, id: string): void {
  for (const ext of ['json', 'served', 'outcome', 'outcome.tmp']) fs.rmSync(file(dataDir, id, ext), { force: true });
}

export async function startGuardian(spec: GuardianSpec): Promise<Guardian> {
  const platform = spec.platform ?? process.platform;
  const env = spec.env ?? process.env;
  const pred = spec.predecessorPid ?? process.pid;
  const id = randomBytes(6).toString('hex');
  const confirmMs = spec.confirmMs ?? CONFIRM_MS;
  const installerBoundMs = spec.waitForPid ? (spec.installerBoundMs ?? INSTALLER_BOUND_MS) : 0;
  const lifeMs = installerBoundMs + spec.allowanceMs + confirmMs + LIFE_MARGIN_MS;
  fs.mkdirSync(guardianFolder(spec.dataDir), { recursive: true, mode: 0o700 });
  // Earlier guardians watching this process are done: the new one covers what comes next.
  releaseGuardians(spec.dataDir, pred);
  const now = Date.now();
  const record: GuardianRecord = {
    v: 1,
    id,
    what: spec.what,
    fromVersion: spec.fromVersion,
    toVersion: spec.toVersion ?? null,
    host: spec.host,
    port: spec.port,
    predecessorPid: pred,
    waitForPid: spec.waitForPid ?? null,
    allowanceMs: spec.allowanceMs,
    confirmMs,
    installerBoundMs,
    startedAt: now,
    endsBy: now + lifeMs,
  };
  writeFileAtomic(file(spec.dataDir, id, 'json'), JSON.stringify(record), 0o600, { durable: false });

  // Its own private folder in the temporary folder (mkdtemp: 0700, a name no one could have prepared), never the install folder.
  let folder: string | null = null;
  try {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-guardian-'));
    const values = {
      folder,
      record: path.join(guardianFolder(spec.dataDir), id),
      predecessorPid: pred,
      waitForPid: spec.waitForPid ?? null,
      installerBoundMs,
      allowanceMs: spec.allowanceMs,
      confirmMs,
      lifeMs,
      relaunch: { ...spec.relaunch, cwd: spec.relaunch.cwd ?? process.cwd() },
    };
    const script = path.join(folder, platform === 'win32' ? 'guardian.ps1' : 'guardian.sh');
    // Windows PowerShell 5.1 reads a script without a byte order mark in the ANSI code page: mark it UTF-8.
    const text = platform === 'win32' ? '\uFEFF' + psScript(values) : shScript(values);
    fs.writeFileSync(script, text, { mode: 0o600, flag: 'wx' });
    const run = scriptRunner(platform, script, env);
    const child = spawn(run.command, run.args, { detached: true, stdio: 'ignore', windowsHide: true, cwd: os.tmpdir(), env });
    const s = await started(child);
    child.unref();
    // Its first act is to delete its folder: that is the sign it runs (and the script was readable).
    const until = performance.now() + (spec.startTimeoutMs ?? 15_000);
    let exited: number | null | undefined;
    void s.exited.then((c) => (exited = c));
    while (fs.existsSync(folder)) {
      if (exited !== undefined) throw new Error(`the guardian exited with code ${exited} before it ran`);
      if (performance.now() > until) {
        s.kill();
        throw new Error(`the guardian did not start within ${Math.round((spec.startTimeoutMs ?? 15_000) / 1000)} s`);
      }
      await sleep(10);
    }
    const dataDir = spec.dataDir;
    return { id, pid: child.pid!, folder, cancel: () => removeRecord(dataDir, id) };
  } catch (err) {
    removeRecord(spec.dataDir, id);
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Start a guardian for a handover, or say in the log why there is none. A
 * guardian is a safety net: a handover the user asked for goes on without
 * one (as it did before guardians existed).
 */
export async function guardHandover(spec: GuardianSpec, log: { info(m: string): void; warn(m: string): void }): Promise<Guardian | null> {
  try {
    const g = await startGuardian(spec);
    const installer = spec.waitForPid ? `the installer (pid ${spec.waitForPid}) to exit, then ` : '';
    log.info(`guardian ${g.id} (pid ${g.pid}) waits for ${installer}a Berth to serve port ${spec.port} within ${duration(spec.allowanceMs)}; if none does, it starts ${spec.relaunch.command}`);
    return g;
  } catch (err) {
    log.warn(`no guardian for this handover (${err instanceof Error ? err.message : String(err)}); it goes on without one`);
    return null;
  }
}

/** The records in the guardians' folder, by id. */
function ids(dataDir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(guardianFolder(dataDir));
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith('.json') && ID.test(n.slice(0, -5))).map((n) => n.slice(0, -5));
}

function readText(p: string): string | null {
  const got = readOwnFile(p, { maxBytes: RECORD_MAX_BYTES });
  return got.state === 'read' ? got.text : null;
}

function readRecord(dataDir: string, id: string): GuardianRecord | null {
  const text = readText(file(dataDir, id, 'json'));
  if (!text) return null;
  try {
    const r = JSON.parse(text) as Partial<GuardianRecord>;
    if (r.v !== 1 || r.id !== id || typeof r.what !== 'string' || typeof r.endsBy !== 'number' || typeof r.allowanceMs !== 'number') return null;
    return r as GuardianRecord;
  } catch {
    return null;
  }
}

/** This Berth serves: every pending guardian of its data folder now watches it, and ends once it has served for the confirmation window. */
export function announceServing(dataDir: string, pid = process.pid): void {
  for (const id of ids(dataDir)) {
    if (fs.existsSync(file(dataDir, id, 'outcome'))) continue;
    try {
      writeFileAtomic(file(dataDir, id, 'served'), `${pid}\n`, 0o600, { durable: false });
    } catch {
      // A read-only or vanished data folder: that guardian ends at its bound.
    }
  }
}

/** This Berth stops on purpose (or hands over again under a new guardian): guardians watching it are done. */
export function releaseGuardians(dataDir: string, pid = process.pid): void {
  for (const id of ids(dataDir)) {
    if (readText(file(dataDir, id, 'served'))?.trim() === String(pid) && !fs.existsSync(file(dataDir, id, 'outcome'))) removeRecord(dataDir, id);
  }
}

/** What a guardian did, for the history, the console banner and the desktop notification. */
export interface GuardianReport {
  id: string;
  /** One sentence: "The update to 1.0.1 failed (installer exit 2); Berth 1.0.0 is running." */
  message: string;
  /** The reason alone: "installer exit 2". */
  reason: string;
  /** When the guardian found no Berth serving and started one. */
  at: string;
  /** About how long no Berth served, until this one, to the second; null if unknown. */
  downtimeMs: number | null;
}

interface Outcome {
  why: 'no-serve' | 'stopped';
  installer: '' | 'exited' | 'running';
  installerExit: number | null;
  served: number | null;
  down: number | null;
  at: number | null;
}

function parseOutcome(text: string): Outcome | null {
  const v = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([a-z-]+)=([0-9a-z-]*)$/.exec(line.trim());
    if (m) v.set(m[1]!, m[2]!);
  }
  const why = v.get('why');
  if (why !== 'no-serve' && why !== 'stopped') return null;
  const num = (k: string) => (/^-?\d+$/.test(v.get(k) ?? '') ? Number(v.get(k)) : null);
  const installer = v.get('installer') ?? '';
  return {
    why,
    installer: installer === 'exited' || installer === 'running' ? installer : '',
    installerExit: num('installer-exit'),
    served: num('served'),
    down: num('down'),
    at: num('at'),
  };
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function reasonOf(r: GuardianRecord, o: Outcome): string {
  if (o.installer === 'running') return `the installer was still running after ${duration(r.installerBoundMs)}`;
  if (o.installerExit !== null && o.installerExit !== 0) return `installer exit ${o.installerExit}`;
  if (o.why === 'stopped') return `the Berth that took over${o.served ? ` (pid ${o.served})` : ''} stopped within ${duration(r.confirmMs)} of serving`;
  return `no Berth served within ${duration(r.allowanceMs)}${o.installer === 'exited' ? ' after the installer finished' : ''}`;
}

/** The report's sentence, as this Berth (`version`) says it. */
export function reportMessage(what: string, reason: string, toVersion: string | null, version: string): string {
  const subject = what.charAt(0).toUpperCase() + what.slice(1);
  // The version it was meant to reach runs after all: only its first start failed.
  if (toVersion && toVersion === version) return `${subject} needed a second start (${reason}); Berth ${version} is running.`;
  return `${subject} failed (${reason}); Berth ${version} is running.`;
}

/**
 * Called once a Berth serves: the reports of guardians that found no Berth
 * serving, each taken once (its files removed), and the records of guardians
 * that ended without a word (killed, or past their bound) cleared away.
 */
export function takeGuardianReports(dataDir: string, version: string, now = Date.now()): GuardianReport[] {
  const reports: GuardianReport[] = [];
  for (const id of ids(dataDir)) {
    const record = readRecord(dataDir, id);
    const outcomeText = readText(file(dataDir, id, 'outcome'));
    const outcome = outcomeText === null ? null : parseOutcome(outcomeText);
    if (!record) {
      removeRecord(dataDir, id);
      continue;
    }
    if (!outcome) {
      // Still watching (leave it), or ended without a word: nothing to report, nothing to keep.
      if (now > record.endsBy + LIFE_MARGIN_MS) removeRecord(dataDir, id);
      continue;
    }
    const reason = reasonOf(record, outcome);
    reports.push({
      id,
      reason,
      message: reportMessage(record.what, reason, record.toVersion, version),
      at: new Date(outcome.at !== null ? outcome.at * 1000 : now).toISOString(),
      // The scripts' clocks count seconds: so does the figure.
      downtimeMs: outcome.down !== null && outcome.down * 1000 <= now ? Math.max(1, Math.round((now - outcome.down * 1000) / 1000)) * 1000 : null,
    });
    removeRecord(dataDir, id);
  }
  return reports;
}
