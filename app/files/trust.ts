import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthError, ExitCode, errorCode } from '../errors';
import { shQuote } from '../shell-quote';

/**
 * Who may have written what Berth reads from its data directory. Berth trusts
 * its files the way OpenSSH's StrictModes trusts key files: the folder and
 * every file in it must belong to the user running Berth, and no other user
 * may be able to change them. Otherwise another account on the machine could
 * plant a token it knows, or settings that open Berth to the network.
 *
 * Windows: files have no POSIX owner or mode bits (Node reports uid 0 and
 * mode 0o666), and Node cannot read ACLs. There the boundary is the per-user
 * profile folder, whose default ACL grants only the user, SYSTEM and
 * Administrators: the data directory must resolve to a folder inside it.
 * Links and non-regular files are refused on every platform.
 */

export type EntryKind = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'device' | 'other';

/** What is known about one path: its type, owner and permission bits. */
export interface EntryFacts {
  kind: EntryKind;
  uid: number;
  mode: number;
}

/** The account Berth runs as: uid null where POSIX owners do not apply (Windows). */
export interface Runner {
  uid: number | null;
  user: string;
  platform: NodeJS.Platform;
}

export type ProblemKind = 'symlink' | 'not-regular' | 'not-dir' | 'foreign' | 'others-write' | 'outside-profile' | 'unsafe-parent' | 'no-access';

export interface TrustProblem {
  path: string;
  kind: ProblemKind;
  /** One sentence: what is wrong and why it matters. */
  message: string;
  /** The exact command (or step) that fixes it. */
  fix: string;
}

export function currentRunner(): Runner {
  let user = 'you';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry for this uid (a container): the uid still identifies us
  }
  return { uid: typeof process.geteuid === 'function' ? process.geteuid() : null, user, platform: process.platform };
}

export function kindOf(st: fs.Stats): EntryKind {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'other';
}

export function factsOf(st: fs.Stats): EntryFacts {
  return { kind: kindOf(st), uid: st.uid, mode: st.mode & 0o7777 };
}

const KIND_WORDS: Record<EntryKind, string> = {
  file: 'a regular file',
  dir: 'a folder',
  symlink: 'a symbolic link',
  fifo: 'a named pipe (FIFO)',
  socket: 'a socket',
  device: 'a device file',
  other: 'not a regular file',
};

function moveAside(p: string, suffix: string, platform: NodeJS.Platform): string {
  return platform === 'win32' ? `ren "${p}" "${path.win32.basename(p)}.${suffix}"` : `mv ${shQuote(p)} ${shQuote(`${p}.${suffix}`)}`;
}

const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

let passwd: Map<number, string> | null = null;
/** A user name for a uid, for messages only: /etc/passwd where there is one, else "uid N". */
export function ownerName(uid: number): string {
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && /^\d+$/.test(id) && !passwd.has(Number(id))) passwd.set(Number(id), name);
      }
    } catch {
      // no passwd file (macOS keeps users elsewhere, Windows has none)
    }
  }
  const name = passwd.get(uid);
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

export interface JudgeOptions {
  /** The path must be a file or a folder. */
  expect: 'file' | 'dir';
  /** The file holds a secret (the token): one another account could write is replaced, never adopted. */
  secret?: boolean;
  /** The data directory itself (its messages say "the data folder"). */
  isDataDir?: boolean;
}

/**
 * Pure: what is wrong with an entry Berth is about to trust, or null. A folder
 * that is merely readable by others is not a problem here: it is ours, and
 * `tightenedMode` says how to fix it.
 */
export function judgeEntry(p: string, facts: EntryFacts, runner: Runner, opts: JudgeOptions): TrustProblem | null {
  const label = opts.isDataDir ? `The data folder ${p}` : p;
  if (facts.kind === 'symlink') {
    return {
      path: p,
      kind: 'symlink',
      message: `${label} is a symbolic link; Berth uses only real files and folders here, so that nothing can redirect what it reads and writes.`,
      fix: opts.expect === 'file' ? `${moveAside(p, 'link', runner.platform)} (and copy the file it points to in its place, if you want its content)` : moveAside(p, 'link', runner.platform),
    };
  }
  if (facts.kind !== opts.expect) {
    return {
      path: p,
      kind: opts.expect === 'file' ? 'not-regular' : 'not-dir',
      message: `${label} is ${KIND_WORDS[facts.kind]}, not ${opts.expect === 'file' ? 'a regular file' : 'a folder'}.`,
      // A data folder given by mistake (a file, /dev/null) is someone's file: choose another, never move theirs.
      fix: opts.isDataDir ? 'choose a folder with --data-dir or BERTH_DATA_DIR' : moveAside(p, 'aside', runner.platform),
    };
  }
  // Windows: no owners or mode bits to check (see above).
  if (runner.uid === null || runner.platform === 'win32') return null;
  const q = shQuote(p);
  if (facts.uid !== runner.uid) {
    const message = `${label} belongs to ${ownerName(facts.uid)}, not to ${runner.user} (uid ${runner.uid}) who runs Berth: another account may have put it there.`;
    if (opts.expect === 'dir') return { path: p, kind: 'foreign', message, fix: `sudo chown -R ${runner.user} ${q} && chmod 700 ${q}` };
    if (opts.secret) return { path: p, kind: 'foreign', message: `${message} A token written by someone else is known to them.`, fix: `sudo rm ${q} (Berth then makes a new token)` };
    return { path: p, kind: 'foreign', message, fix: `check its content, then: sudo chown ${runner.user} ${q} && chmod 600 ${q}` };
  }
  if (facts.mode & 0o022) {
    if (opts.expect === 'dir') {
      return {
        path: p,
        kind: 'others-write',
        message: `${label} can be changed by other users (mode ${octal(facts.mode)}), so nothing in it can be trusted.`,
        fix: `chmod 700 ${q}`,
      };
    }
    if (opts.secret) {
      return { path: p, kind: 'others-write', message: `${label} can be changed by other users (mode ${octal(facts.mode)}), so its token may be one they chose.`, fix: `rm ${q} (Berth then makes a new token)` };
    }
    return { path: p, kind: 'others-write', message: `${label} can be changed by other users (mode ${octal(facts.mode)}).`, fix: `check its content, then: chmod 600 ${q}` };
  }
  return null;
}

/** The mode a folder of ours should have when others may read or enter it (never adds a bit), or null when it is fine. */
export function tightenedMode(facts: EntryFacts, runner: Runner): number | null {
  if (runner.uid === null || runner.platform === 'win32' || facts.kind !== 'dir') return null;
  return facts.mode & 0o077 ? facts.mode & 0o700 : null;
}

/**
 * Pure: what is wrong with a folder above the data folder (`role` says which
 * one, for the message), or null. As OpenSSH's StrictModes and git's
 * safe.directory judge them: it must belong to you or to root, and others
 * must not be able to write to it unless it is sticky (as /tmp is: there
 * only an entry's owner may rename or remove it). Otherwise whoever can
 * write to it can move the data folder away and put their own in its place.
 * A link on the way must be yours or root's, or its owner can point it
 * anywhere.
 */
export function judgeParent(p: string, facts: EntryFacts, runner: Runner, role: string): TrustProblem | null {
  if (runner.uid === null || runner.platform === 'win32') return null;
  const trusted = facts.uid === runner.uid || facts.uid === 0;
  const elsewhere = 'choose a data folder elsewhere with --data-dir (or BERTH_DATA_DIR), for example under your home folder';
  if (facts.kind === 'symlink') {
    if (trusted) return null;
    return {
      path: p,
      kind: 'unsafe-parent',
      message: `${p}, ${role}, is a symbolic link that belongs to ${ownerName(facts.uid)}: they can point it anywhere, and Berth would follow.`,
      fix: elsewhere,
    };
  }
  if (!trusted) {
    return {
      path: p,
      kind: 'unsafe-parent',
      message: `The folder ${p}, ${role}, belongs to ${ownerName(facts.uid)}, neither you nor root: they could move the data folder away and put their own in its place.`,
      fix: elsewhere,
    };
  }
  if (facts.mode & 0o022 && !(facts.mode & 0o1000)) {
    const mine = facts.uid === runner.uid;
    return {
      path: p,
      kind: 'unsafe-parent',
      message: `The folder ${p}, ${role}, can be changed by other users (mode ${octal(facts.mode)}) and is not sticky: they could move the data folder away and put their own in its place.`,
      fix: mine ? `chmod go-w ${shQuote(p)} (or ${elsewhere})` : elsewhere,
    };
  }
  return null;
}

/** Pure (Windows): whether `dir` is inside `profile`; both already resolved (realpath). */
export function insideProfile(dir: string, profile: string): boolean {
  const rel = path.win32.relative(profile.toLowerCase(), dir.toLowerCase());
  return !rel.startsWith('..') && !path.win32.isAbsolute(rel);
}

/** The data directory's own entries that Berth reads, and how each must look. */
export const CHECKED_ENTRIES: readonly { name: string; expect: 'file' | 'dir'; secret?: boolean }[] = [
  { name: 'auth-token', expect: 'file', secret: true },
  { name: 'settings.json', expect: 'file' },
  { name: 'window-state.json', expect: 'file' },
  { name: 'update-state.json', expect: 'file' },
  { name: 'handoff.json', expect: 'file' },
  { name: 'runtime.json', expect: 'file' },
  { name: 'logs', expect: 'dir' },
  { name: 'updates', expect: 'dir' },
];

/** Berth will not use the data directory: one or more problems, each with its fix. Exit 2 from `berth serve`. */
export class DataDirRefused extends BerthError {
  constructor(
    readonly dataDir: string,
    readonly problems: TrustProblem[],
  ) {
    super(refusalText(dataDir, problems), ExitCode.usage, { dataDir, problems: problems.map((p) => ({ path: p.path, problem: p.kind, fix: p.fix })) });
    this.name = 'DataDirRefused';
  }
}

export function refusalText(dataDir: string, problems: TrustProblem[]): string {
  const lines = problems.map((p) => `  ${p.message}\n    To fix it: ${p.fix}`);
  return `Berth will not use its data folder ${dataDir}:\n${lines.join('\n')}`;
}

export interface TrustResult {
  /** What was fixed on the way (a folder tightened to 0700), for the log. */
  warnings: string[];
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return null;
    throw err;
  }
}

/** A folder of ours that others may read or enter: said, with the chmod, but never changed (Berth did not make it so). */
function openFolderWarning(p: string, facts: EntryFacts, runner: Runner, label: string): string | null {
  const mode = tightenedMode(facts, runner);
  if (mode === null) return null;
  return `${label} ${p} is open to other users (mode ${octal(facts.mode)}): they can see what is in it, though not read Berth's files. Berth changes only what it creates; to close it, run: chmod ${octal(mode).slice(1)} ${shQuote(p)}`;
}

function lstatOrNullQuiet(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Pure over the file system's answers: the problems of every folder and link
 * the data folder hangs from, walking up from `dataDir` as given and from
 * its real path (links resolved), to the root. `lstat` answers for one path.
 */
export function parentProblems(dataDir: string, real: string, runner: Runner, lstat: (p: string) => fs.Stats | null = lstatOrNullQuiet): TrustProblem[] {
  const problems: TrustProblem[] = [];
  const seen = new Set<string>();
  for (const start of [path.dirname(dataDir), path.dirname(real)]) {
    for (let p = start; !seen.has(p); p = path.dirname(p)) {
      seen.add(p);
      const st = lstat(p);
      if (st) {
        const role = p === path.dirname(real) || p === path.dirname(dataDir) ? 'which holds the data folder' : 'above the data folder';
        const problem = judgeParent(p, factsOf(st), runner, role);
        if (problem) problems.push(problem);
      }
      if (path.dirname(p) === p) break;
    }
  }
  return problems;
}

/** The nearest folder that exists at or above `p` (where Berth would create the data folder). */
function nearestExisting(p: string): string {
  let dir = p;
  while (!lstatOrNullQuiet(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function realpathOr(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return p;
  }
}

/**
 * Check the data directory and the files Berth keeps in it, at start: throws
 * DataDirRefused when another account owns any of them or could change them,
 * when the data folder is a link that is not yours or leads to what is not
 * yours, and when a folder above it would let another account replace it. A
 * folder of ours that others can merely read is said, not changed: Berth
 * chmods only what it creates. A directory that does not exist yet is fine
 * when the folders it would be made in are: Berth creates it 0700.
 */
export function trustDataDir(dataDir: string, runner: Runner = currentRunner()): TrustResult {
  const warnings: string[] = [];
  if (runner.platform === 'win32') return trustWindowsDataDir(dataDir, runner);
  const abs = path.resolve(dataDir);
  let own: fs.Stats;
  try {
    own = fs.lstatSync(abs);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT' && errorCode(err) !== 'ENOTDIR') throw unreadable(dataDir, err);
    // Not made yet: the folders it would be made in must be safe, or someone could make it first.
    const existing = nearestExisting(path.dirname(abs));
    const real = realpathOr(existing);
    const problems = parentProblems(path.join(existing, path.basename(abs)), path.join(real, path.basename(abs)), runner);
    if (problems.length) throw new DataDirRefused(dataDir, dedupe(problems));
    return { warnings };
  }
  const problems: TrustProblem[] = [];
  let st = own;
  if (own.isSymbolicLink()) {
    // A link of yours to a folder of yours is fine (a dotfiles setup); anyone else's link, or a link to someone else's folder, is not.
    if (runner.uid !== null && own.uid !== runner.uid) {
      problems.push({
        path: dataDir,
        kind: 'symlink',
        message: `The data folder ${dataDir} is a symbolic link that belongs to ${ownerName(own.uid)}, not to ${runner.user}: they can point it anywhere, and Berth would write its token and logs there.`,
        fix: `choose another data folder with --data-dir (or BERTH_DATA_DIR)`,
      });
      throw new DataDirRefused(dataDir, problems);
    }
    try {
      st = fs.statSync(abs);
    } catch (err) {
      throw new DataDirRefused(dataDir, [{ path: dataDir, kind: 'symlink', message: `The data folder ${dataDir} is a symbolic link to something that cannot be looked at (${errorCode(err) ?? String(err)}).`, fix: `point it at a folder of yours, or choose another with --data-dir` }]);
    }
  }
  const real = realpathOr(abs);
  const dirFacts = factsOf(st);
  const dirProblem = judgeEntry(own.isSymbolicLink() ? `${dataDir} (a link to ${real})` : dataDir, dirFacts, runner, { expect: 'dir', isDataDir: true });
  if (dirProblem) problems.push({ ...dirProblem, path: dataDir });
  problems.push(...parentProblems(abs, real, runner));
  if (problems.length) throw new DataDirRefused(dataDir, dedupe(problems));
  const open = openFolderWarning(dataDir, dirFacts, runner, 'The data folder');
  if (open) warnings.push(open);
  // Ours, but shut to us (chmod 000): said of the folder, not as an unexpected error about a file in it.
  try {
    fs.accessSync(dataDir, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    const q = shQuote(dataDir);
    throw new DataDirRefused(dataDir, [
      { path: dataDir, kind: 'no-access', message: `The data folder ${dataDir} cannot be opened by this user (${errorCode(err) ?? String(err)}).`, fix: `chmod 700 ${q}, or choose another folder with --data-dir or BERTH_DATA_DIR` },
    ]);
  }
  checkEntries(dataDir, runner, warnings);
  return { warnings };
}

function dedupe(problems: TrustProblem[]): TrustProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.message) && !!seen.add(p.message));
}

function unreadable(dataDir: string, err: unknown): DataDirRefused {
  return new DataDirRefused(dataDir, [{ path: dataDir, kind: 'not-dir', message: `The data folder ${dataDir} cannot be looked at (${errorCode(err) ?? String(err)}).`, fix: `check the folder, or choose another with --data-dir` }]);
}

/** The data directory's own entries, as CHECKED_ENTRIES says each must look. */
function checkEntries(dataDir: string, runner: Runner, warnings: string[]): void {
  const problems: TrustProblem[] = [];
  for (const entry of CHECKED_ENTRIES) {
    const p = path.join(dataDir, entry.name);
    const est = lstatOrNull(p);
    if (!est) continue;
    const facts = factsOf(est);
    const problem = judgeEntry(p, facts, runner, entry);
    if (problem) problems.push(problem);
    else if (entry.expect === 'dir') {
      const open = openFolderWarning(p, facts, runner, 'The folder');
      if (open) warnings.push(open);
    }
  }
  if (problems.length) throw new DataDirRefused(dataDir, problems);
}

/** Windows: the data directory must resolve to a folder inside the user's profile; links and odd files are refused. */
function trustWindowsDataDir(dataDir: string, runner: Runner): TrustResult {
  const warnings: string[] = [];
  let st: fs.Stats;
  try {
    st = fs.statSync(dataDir);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { warnings };
    throw unreadable(dataDir, err);
  }
  const problems: TrustProblem[] = [];
  const profile = os.homedir();
  let real = dataDir;
  let realProfile = profile;
  try {
    real = fs.realpathSync.native(dataDir);
    realProfile = fs.realpathSync.native(profile);
  } catch {
    // compare the paths as given
  }
  if (!insideProfile(real, realProfile)) {
    problems.push({
      path: dataDir,
      kind: 'outside-profile',
      message: `On Windows Berth keeps its data inside your user profile (${realProfile}), which only you and administrators can change; ${real} is outside it.`,
      fix: `choose a folder under ${realProfile} with --data-dir or BERTH_DATA_DIR`,
    });
  }
  const dirProblem = judgeEntry(dataDir, factsOf(st), runner, { expect: 'dir', isDataDir: true });
  if (dirProblem) problems.push(dirProblem);
  if (problems.length) throw new DataDirRefused(dataDir, problems);
  checkEntries(dataDir, runner, warnings);
  return { warnings };
}

/**
 * For the desktop app: the message to show in a dialog when Berth must not
 * use this data directory, or null when it may (its warnings are dropped:
 * the start itself logs them).
 */
export function dataDirRefusal(dataDir: string): string | null {
  try {
    trustDataDir(dataDir);
    return null;
  } catch (err) {
    if (err instanceof BerthError) return err.message;
    throw err;
  }
}

/**
 * The folder a file is read from, checked at every read (one stat): another
 * account must not own it or be able to change it, or it could have swapped
 * the file since the start.
 */
export function judgeFolderOf(file: string, runner: Runner = currentRunner()): TrustProblem | null {
  const dir = path.dirname(file);
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return null; // a missing folder: the read finds no file
  }
  return judgeEntry(dir, factsOf(st), runner, { expect: 'dir' });
}

/** One of Berth's files is not Berth's to trust (see judgeEntry); the API answers it with this message. */
export class FileRefused extends BerthError {
  constructor(readonly problem: TrustProblem) {
    super(`${problem.message} Berth will not read it. To fix it: ${problem.fix}`, ExitCode.usage, {
      path: problem.path,
      problem: problem.kind,
      fix: problem.fix,
      error: 'untrusted-file',
      httpStatus: 500,
    });
    this.name = 'FileRefused';
  }
}
