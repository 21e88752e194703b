/**
 * Safe file handling (app/files): what Berth trusts in its data directory,
 * how it reads its own files (no links followed, no FIFO hangs, bounded
 * sizes) and how it writes them (atomic, cleaned up on every failure).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readOwnFile } from '../../app/files/read';
import { DataDirRefused, dataDirRefusal, insideProfile, judgeEntry, judgeParent, parentProblems, tightenedMode, trustDataDir, type EntryFacts, type Runner } from '../../app/files/trust';
import { createFileAtomic, describeFsError, writeFileAtomic } from '../../app/files/write';
import { ensureToken } from '../../app/server/token';
import { createLogSink } from '../../app/log';
import * as faults from '../../soak/lib/faults.mjs';
import { ROOT, tempDataDir } from '../helpers';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const me: Runner = { uid: 1000, user: 'ann', platform: 'linux' };
const facts = (kind: EntryFacts['kind'], mode: number, uid = 1000): EntryFacts => ({ kind, mode, uid });

describe('what Berth trusts (pure decisions)', () => {
  it('a file must be a regular file of ours that no one else can change', () => {
    expect(judgeEntry('/d/settings.json', facts('file', 0o600), me, { expect: 'file' })).toBeNull();
    expect(judgeEntry('/d/settings.json', facts('file', 0o644), me, { expect: 'file' })).toBeNull();
    expect(judgeEntry('/d/settings.json', facts('symlink', 0o777), me, { expect: 'file' })).toMatchObject({ kind: 'symlink', fix: expect.stringContaining(`mv '/d/settings.json' '/d/settings.json.link'`) });
    expect(judgeEntry('/d/settings.json', facts('fifo', 0o600), me, { expect: 'file' })).toMatchObject({ kind: 'not-regular', message: expect.stringContaining('named pipe (FIFO)') });
    expect(judgeEntry('/d/settings.json', facts('file', 0o666), me, { expect: 'file' })).toMatchObject({ kind: 'others-write', fix: `check its content, then: chmod 600 '/d/settings.json'` });
    expect(judgeEntry('/d/settings.json', facts('file', 0o620), me, { expect: 'file' })).toMatchObject({ kind: 'others-write' });
    expect(judgeEntry('/d/settings.json', facts('file', 0o600, 0), me, { expect: 'file' })).toMatchObject({ kind: 'foreign', fix: `check its content, then: sudo chown ann '/d/settings.json' && chmod 600 '/d/settings.json'` });
  });

  it('a token someone else wrote or could write is removed, never adopted or chowned', () => {
    expect(judgeEntry('/d/auth-token', facts('file', 0o644, 0), me, { expect: 'file', secret: true })?.fix).toBe(`sudo rm '/d/auth-token' (Berth then makes a new token)`);
    expect(judgeEntry('/d/auth-token', facts('file', 0o606), me, { expect: 'file', secret: true })?.fix).toBe(`rm '/d/auth-token' (Berth then makes a new token)`);
  });

  it('a folder: ours and closed is fine; readable by others is tightened; writable by others or someone else\'s is refused', () => {
    expect(judgeEntry('/d', facts('dir', 0o700), me, { expect: 'dir' })).toBeNull();
    expect(judgeEntry('/d', facts('dir', 0o755), me, { expect: 'dir' })).toBeNull();
    expect(tightenedMode(facts('dir', 0o755), me)).toBe(0o700);
    expect(tightenedMode(facts('dir', 0o555), me)).toBe(0o500); // never adds a bit
    expect(tightenedMode(facts('dir', 0o700), me)).toBeNull();
    expect(judgeEntry('/d', facts('dir', 0o777), me, { expect: 'dir', isDataDir: true })).toMatchObject({ kind: 'others-write', fix: `chmod 700 '/d'` });
    expect(judgeEntry('/d', facts('dir', 0o700, 0), me, { expect: 'dir', isDataDir: true })).toMatchObject({ kind: 'foreign', fix: `sudo chown -R ann '/d' && chmod 700 '/d'` });
    expect(judgeEntry('/d/logs', facts('file', 0o600), me, { expect: 'dir' })).toMatchObject({ kind: 'not-dir' });
    expect(judgeEntry(`/it's`, facts('dir', 0o777), me, { expect: 'dir' })?.fix).toBe(`chmod 700 '/it'\\''s'`);
  });

  it('the folders above the data folder: yours or root\'s, and not writable by others unless sticky (as OpenSSH and git judge them)', () => {
    const role = 'which holds the data folder';
    expect(judgeParent('/home/ann', facts('dir', 0o755), me, role)).toBeNull();
    expect(judgeParent('/home', facts('dir', 0o755, 0), me, role)).toBeNull();
    expect(judgeParent('/tmp', facts('dir', 0o1777, 0), me, role)).toBeNull();
    expect(judgeParent('/srv/shared', facts('dir', 0o777, 0), me, role)).toMatchObject({ kind: 'unsafe-parent', message: expect.stringContaining('mode 0777) and is not sticky') });
    expect(judgeParent('/home/ann/x', facts('dir', 0o775), me, role)?.fix).toMatch(/^chmod go-w '\/home\/ann\/x'/);
    expect(judgeParent('/tmp/bob', facts('dir', 0o755, 1001), me, role)).toMatchObject({ kind: 'unsafe-parent', message: expect.stringContaining('belongs to uid 1001, neither you nor root') });
    expect(judgeParent('/tmp/link', facts('symlink', 0o777, 1001), me, role)?.message).toContain('is a symbolic link that belongs to uid 1001');
    expect(judgeParent('/home/ann/link', facts('symlink', 0o777), me, role)).toBeNull();
    // Windows has no owners or modes to judge here: the profile folder is the boundary there.
    expect(judgeParent('C:\\Users', facts('dir', 0o777, 0), { uid: null, user: 'ann', platform: 'win32' }, role)).toBeNull();
  });

  it('every folder the data folder hangs from is judged, through the path as given and through its real path', () => {
    const table: Record<string, EntryFacts> = {
      '/': facts('dir', 0o755, 0),
      '/tmp': facts('dir', 0o1777, 0),
      '/tmp/bob': facts('dir', 0o777, 1001),
      '/tmp/link': facts('symlink', 0o777, 1001),
      '/home': facts('dir', 0o755, 0),
      '/home/ann': facts('dir', 0o700),
    };
    const lstat = (p: string) => (table[p] ? ({ ...table[p], isSymbolicLink: () => table[p]!.kind === 'symlink', isFile: () => false, isDirectory: () => table[p]!.kind === 'dir', isFIFO: () => false, isSocket: () => false, isBlockDevice: () => false, isCharacterDevice: () => false } as never) : null);
    expect(parentProblems('/home/ann/Berth', '/home/ann/Berth', me, lstat)).toEqual([]);
    expect(parentProblems('/tmp/bob/Berth', '/tmp/bob/Berth', me, lstat).map((p) => p.path)).toEqual(['/tmp/bob']);
    // A link on the way that someone else owns, to a folder of yours: the link is the problem.
    expect(parentProblems('/tmp/link/Berth', '/home/ann/Berth', me, lstat).map((p) => p.path)).toEqual(['/tmp/link']);
  });

  it('Windows: no owners or mode bits to judge; links and odd files still refused; the profile folder is the boundary', () => {
    const win: Runner = { uid: null, user: 'ann', platform: 'win32' };
    expect(judgeEntry('C:\\u\\Berth\\settings.json', facts('file', 0o666, 0), win, { expect: 'file' })).toBeNull();
    expect(judgeEntry('C:\\u\\Berth\\settings.json', facts('symlink', 0o666, 0), win, { expect: 'file' })?.kind).toBe('symlink');
    expect(tightenedMode(facts('dir', 0o777), win)).toBeNull();
    expect(insideProfile('C:\\Users\\Ann\\AppData\\Roaming\\Berth', 'c:\\users\\ann')).toBe(true);
    expect(insideProfile('C:\\Users\\Ann', 'C:\\Users\\Ann')).toBe(true);
    expect(insideProfile('C:\\Users\\Bob\\Berth', 'C:\\Users\\Ann')).toBe(false);
    expect(insideProfile('D:\\Berth', 'C:\\Users\\Ann')).toBe(false);
    expect(insideProfile('C:\\Users\\Anna\\Berth', 'C:\\Users\\Ann')).toBe(false);
  });
});

describe('the data directory at start', () => {
  it.skipIf(process.platform === 'win32')('refuses a folder others can write, with the chmod; says of one others can read how to close it, and leaves it as it is', () => {
    const dir = tempDataDir();
    fs.chmodSync(dir, 0o777);
    expect(() => trustDataDir(dir)).toThrow(DataDirRefused);
    expect(dataDirRefusal(dir)).toContain(`To fix it: chmod 700 '${dir}'`);
    fs.chmodSync(dir, 0o755);
    expect(trustDataDir(dir).warnings).toEqual([
      `The data folder ${dir} is open to other users (mode 0755): they can see what is in it, though not read Berth's files. Berth changes only what it creates; to close it, run: chmod 700 '${dir}'`,
    ]);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);
    expect(dataDirRefusal(dir)).toBeNull();
  });

  it.skipIf(process.platform === 'win32')('a link of yours to a folder of yours is used; the folder is judged, not the link', () => {
    const target = tempDataDir();
    const link = path.join(tempDataDir(), 'Berth');
    fs.symlinkSync(target, link);
    expect(trustDataDir(link).warnings).toEqual([]);
    fs.chmodSync(target, 0o777);
    expect(dataDirRefusal(link)).toContain(`The data folder ${link} (a link to ${fs.realpathSync(target)}) can be changed by other users`);
  });

  it.skipIf(!isRoot)('refuses files another account put there, naming each with its fix', () => {
    const dir = tempDataDir();
    for (const f of ['auth-token', 'settings.json']) {
      fs.writeFileSync(path.join(dir, f), 'x', { mode: 0o644 });
      fs.chownSync(path.join(dir, f), NOBODY, NOBODY);
    }
    const err = (() => {
      try {
        trustDataDir(dir);
      } catch (e) {
        return e as DataDirRefused;
      }
    })()!;
    expect(err).toBeInstanceOf(DataDirRefused);
    expect(err.exitCode).toBe(2);
    expect(err.problems.map((p) => [path.basename(p.path), p.kind])).toEqual([
      ['auth-token', 'foreign'],
      ['settings.json', 'foreign'],
    ]);
    expect(err.message).toContain(`sudo rm '${path.join(dir, 'auth-token')}'`);
  });

  it('a fresh data directory is created 0700 by the first thing that creates it (the log sink)', async () => {
    const parent = tempDataDir();
    const dataDir = path.join(parent, 'Berth');
    const sink = createLogSink({ dir: path.join(dataDir, 'logs'), console: null });
    await sink.close();
    if (process.platform === 'win32') return;
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'logs')).mode & 0o777).toBe(0o700);
  });
});

describe('reading one of Berth\'s files', () => {
  it.skipIf(process.platform === 'win32')('a FIFO is refused at once, not waited on', () => {
    const dir = tempDataDir();
    execFileSync('mkfifo', [path.join(dir, 'settings.json')]);
    const r = readOwnFile(path.join(dir, 'settings.json'), { maxBytes: 1024 });
    expect(r).toMatchObject({ state: 'refused', problem: { kind: 'not-regular' } });
  });

  it('a symbolic link is not followed', () => {
    const dir = tempDataDir();
    const outside = path.join(tempDataDir(), 'secret');
    fs.writeFileSync(outside, 'elsewhere');
    fs.symlinkSync(outside, path.join(dir, 'auth-token'));
    expect(readOwnFile(path.join(dir, 'auth-token'), { maxBytes: 1024 })).toMatchObject({ state: 'refused', problem: { kind: 'symlink' } });
  });

  it('a file larger than its bound is not read; a missing one is missing; a good one is read', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'window-state.json');
    expect(readOwnFile(file, { maxBytes: 10 })).toEqual({ state: 'missing' });
    fs.writeFileSync(file, 'x'.repeat(11), { mode: 0o600 });
    expect(readOwnFile(file, { maxBytes: 10 })).toEqual({ state: 'too-large', size: 11, limit: 10 });
    fs.writeFileSync(file, '{"a":1}', { mode: 0o600 });
    expect(readOwnFile(file, { maxBytes: 10 })).toMatchObject({ state: 'read', text: '{"a":1}' });
  });

  it.skipIf(!isRoot)('a file of another account is refused, even for root; so is a folder others can write', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'update-state.json');
    fs.writeFileSync(file, '{}', { mode: 0o600 });
    fs.chownSync(file, NOBODY, NOBODY);
    expect(readOwnFile(file, { maxBytes: 1024 })).toMatchObject({ state: 'refused', problem: { kind: 'foreign' } });
    fs.chownSync(file, 0, 0);
    fs.chmodSync(dir, 0o777);
    expect(readOwnFile(file, { maxBytes: 1024 })).toMatchObject({ state: 'refused', problem: { kind: 'others-write', path: dir } });
  });
});

describe('writing one of Berth\'s files', () => {
  const disk = faults.smallDisk();
  afterAll(() => disk.dir && disk.unmount());

  it.skipIf(!disk.dir)(`on a full disk, a failed save leaves the old file and no temp file; a failed create leaves no file${disk.dir ? '' : ` (skipped: ${disk.reason})`}`, () => {
    const dir = path.join(disk.dir!, 'data');
    fs.mkdirSync(dir, { mode: 0o700 });
    writeFileAtomic(path.join(dir, 'settings.json'), '{"port": 9000}\n');
    disk.fill();
    for (let i = 0; i < 21; i++) expect(() => writeFileAtomic(path.join(dir, 'settings.json'), JSON.stringify({ pad: 'x'.repeat(8192) }))).toThrow(/ENOSPC/);
    expect(() => createFileAtomic(path.join(dir, 'auth-token'), 'a'.repeat(43) + '\n')).toThrow(/ENOSPC/);
    expect(fs.readdirSync(dir)).toEqual(['settings.json']);
    expect(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8')).toBe('{"port": 9000}\n');
    disk.free();
  });

  it('a write that need not survive a power cut (durable: false) is still atomic and leaves no temp file', () => {
    const dir = tempDataDir();
    writeFileAtomic(path.join(dir, 'handoff-history.json'), '{"a":1}', 0o600, { durable: false });
    writeFileAtomic(path.join(dir, 'handoff-history.json'), '{"a":2}', 0o600, { durable: false });
    expect(fs.readdirSync(dir)).toEqual(['handoff-history.json']);
    expect(fs.readFileSync(path.join(dir, 'handoff-history.json'), 'utf8')).toBe('{"a":2}');
  });

  it('an exclusive create never replaces what is there', () => {
    const dir = tempDataDir();
    createFileAtomic(path.join(dir, 'auth-token'), 'first\n');
    expect(() => createFileAtomic(path.join(dir, 'auth-token'), 'second\n')).toThrow(/EEXIST/);
    expect(fs.readFileSync(path.join(dir, 'auth-token'), 'utf8')).toBe('first\n');
    expect(fs.readdirSync(dir)).toEqual(['auth-token']);
  });

  it('errors are said in words, with their code', () => {
    expect(describeFsError(Object.assign(new Error('x'), { code: 'ENOSPC' }))).toBe('the disk is full (ENOSPC)');
    expect(describeFsError(Object.assign(new Error('x'), { code: 'EROFS' }))).toBe('the file system is read-only (EROFS)');
    expect(describeFsError(Object.assign(new Error('odd'), { code: 'EWHATEVER' }))).toBe('EWHATEVER');
  });

  // Root writes through a read-only folder, so this runs as nobody, on the built code.
  it.skipIf(!isRoot)('as an ordinary user: a token that cannot be written is kept in memory, with the reason, and no file is left', () => {
    const dir = tempDataDir();
    fs.chownSync(dir, NOBODY, NOBODY);
    fs.chmodSync(dir, 0o500);
    const script = `const { ensureToken } = require(${JSON.stringify(path.join(ROOT, 'out', 'app', 'server', 'token.js'))}); const t = ensureToken(${JSON.stringify(dir)}); console.log(JSON.stringify({ persisted: t.persisted, warning: t.warning }));`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { persisted: boolean; warning: string };
    expect(out).toEqual({ persisted: false, warning: `Could not create ${path.join(dir, 'auth-token')}: permission denied (EACCES); using a token kept in memory for this run, so 'berth stop' and friends cannot authenticate.` });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('the token file', () => {
  it('an empty token file (an interrupted first start) is replaced, and the message says so', () => {
    const dir = tempDataDir();
    fs.writeFileSync(path.join(dir, 'auth-token'), '', { mode: 0o600 });
    const t = ensureToken(dir);
    expect(t.persisted).toBe(true);
    expect(t.warning).toBe(`${path.join(dir, 'auth-token')} was empty (an earlier start could not finish writing it); a new token was created.`);
    expect(fs.readFileSync(path.join(dir, 'auth-token'), 'utf8').trim()).toBe(t.token);
  });

  it.skipIf(!isRoot)('a token another account planted is refused (exit 2), not adopted or tightened', () => {
    const dir = tempDataDir();
    const file = path.join(dir, 'auth-token');
    fs.writeFileSync(file, 'k'.repeat(43) + '\n', { mode: 0o644 });
    fs.chownSync(file, NOBODY, NOBODY);
    expect(() => ensureToken(dir)).toThrow(/belongs to nobody \(uid 65534\).*sudo rm/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
  });
});
