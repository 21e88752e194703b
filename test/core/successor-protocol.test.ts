/**
 * The handoff value and its three encodings (command line, environment, the
 * note in the data directory), and the proof that only the real successor
 * can make.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HANDOFF_ENV,
  HANDOFF_NOTE_FILE,
  checkHandoffProof,
  encodeHandoffEnv,
  handoffArgs,
  handoffFromArgs,
  handoffProof,
  newSecret,
  readHandoffNote,
  HANDOFF_CLAIM_FILE,
  newNoteId,
  resolveSuccession,
  successorArgs,
  takeHandoffEnv,
  whomDoIReplace,
  withoutHandoff,
  writeHandoffNote,
  type Handoff,
  type HandoffNote,
} from '../../app/lifecycle/successor-protocol';
import { parseDesktopArgs } from '../../main/args';
import { tempDataDir } from '../helpers';

const h: Handoff = { instance: '-Ab_9xYz', pid: 4242, host: '::1', port: 9000 };

function note(over: Partial<HandoffNote> = {}): HandoffNote {
  return { v: 2, ...h, id: newNoteId(), proof: 'note', secret: newSecret(), version: '1.0.0', writtenAt: Date.now(), closedAt: null, history: [], ...over };
}

/** A pid that is alive for the whole file (a predecessor that lives), and one that has exited (one that is gone). */
const living = spawn('sleep', ['600'], { stdio: 'ignore' });
afterAll(() => void living.kill('SIGKILL'));
const gonePid = spawnSync('true').pid!;

describe('the handoff on the command line', () => {
  it('round-trips through successorArgs and both parsers, an instance id starting with a dash included', () => {
    const args = successorArgs(['serve', '--port', '8787', '--replace', '--handoff', 'old', '--handoff-pid=1', '--listen-fd=3', '--json'], h);
    expect(args).toEqual(['serve', '--json', '--host=::1', '--port=9000', '--handoff=-Ab_9xYz', '--handoff-pid=4242']);
    const d = parseDesktopArgs(args);
    expect(handoffFromArgs({ handoff: d.handoff ?? undefined, handoffPid: String(d.handoffPid), host: d.host, port: d.port })).toEqual(h);
    // A second relaunch replaces the first handoff instead of piling them up.
    const again = successorArgs(args, { ...h, instance: 'zzz', pid: 1 });
    expect(again.filter((a) => a.startsWith('--handoff='))).toEqual(['--handoff=zzz']);
    expect(withoutHandoff(args)).toEqual(['serve', '--json', '--host=::1', '--port=9000']);
  });

  it('relaunches where the server is now, not where its command line said (a move from Settings)', () => {
    expect(successorArgs(['serve', '--port', '8787', '--host=127.0.0.1', '--data-dir', '/d'], { instance: 'i', pid: 7, host: '0.0.0.0', port: 9000 })).toEqual([
      'serve',
      '--data-dir',
      '/d',
      '--host=0.0.0.0',
      '--port=9000',
      '--handoff=i',
      '--handoff-pid=7',
    ]);
  });

  it('refuses what is not a handoff', () => {
    for (const bad of [
      { handoff: 'a b', handoffPid: '1', host: 'h', port: '1' },
      { handoff: 'abc', handoffPid: '-3', host: 'h', port: '1' },
      { handoff: 'abc', handoffPid: 'x', host: 'h', port: '1' },
      { handoff: 'abc', handoffPid: '1', host: 'h', port: '70000' },
      { handoff: 'a'.repeat(65), handoffPid: '1', host: 'h', port: '1' },
    ]) {
      expect(handoffFromArgs(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(handoffFromArgs({})).toBeNull();
  });
});

describe('the handoff in the environment', () => {
  it('carries the address too, is read once and removed, so it is not inherited further', () => {
    const env: NodeJS.ProcessEnv = { [HANDOFF_ENV]: encodeHandoffEnv(h), OTHER: '1' };
    expect(env[HANDOFF_ENV]).toBe('-Ab_9xYz:4242:9000:::1');
    expect(takeHandoffEnv(env)).toEqual(h);
    expect(env[HANDOFF_ENV]).toBeUndefined();
    expect(takeHandoffEnv(env)).toBeNull();
  });

  it('garbage is ignored, not trusted', () => {
    for (const raw of ['', 'abc', 'abc:12', 'Ab-_9xYz:4242', 'a b:1:2:h', 'abc:12x:1:h', `${'a'.repeat(65)}:1:1:h`, 'abc:1:99999:h', 'abc:1:1:h h']) {
      expect(takeHandoffEnv({ [HANDOFF_ENV]: raw }), raw).toBeNull();
    }
  });
});

describe('the note and the proof', () => {
  it('the note is written 0600 and read back; the proof is checked against its secret', () => {
    const dir = tempDataDir();
    const n = note();
    writeHandoffNote(dir, n);
    expect(fs.statSync(path.join(dir, HANDOFF_NOTE_FILE)).mode & 0o777).toBe(0o600);
    expect(readHandoffNote(dir)).toEqual(n);
    const proof = handoffProof(h.instance, n.secret);
    expect(proof).not.toContain(n.secret);
    expect(checkHandoffProof(proof, h.instance, n.secret)).toBe(true);
    // The public instance id alone, another secret's proof, or no secret pending: no.
    expect(checkHandoffProof(h.instance, h.instance, n.secret)).toBe(false);
    expect(checkHandoffProof(handoffProof(h.instance, newSecret()), h.instance, n.secret)).toBe(false);
    expect(checkHandoffProof(proof, h.instance, null)).toBe(false);
  });

  it('a note-proof handoff is claimed once, by a start that names its predecessor (or by any, once the predecessor is gone)', () => {
    const dir = tempDataDir();
    const p: Handoff = { ...h, pid: living.pid! };
    expect(resolveSuccession(p, dir)).toEqual({ kind: 'fresh', unproven: p });
    const n = note({ pid: p.pid });
    writeHandoffNote(dir, n);
    // Naming another instance or pid, or no one, while the predecessor lives: a bystander.
    expect(resolveSuccession({ ...p, pid: gonePid }, dir)).toMatchObject({ kind: 'bystander', note: { id: n.id } });
    expect(resolveSuccession(null, dir)).toMatchObject({ kind: 'bystander' });
    // The one that names it claims it, with the secret for its proof.
    expect(resolveSuccession(p, dir)).toMatchObject({ kind: 'successor', handoff: { ...p, secret: n.secret, channel: null } });
    // Claimed by another live process: no second claim.
    fs.writeFileSync(path.join(dir, HANDOFF_CLAIM_FILE), JSON.stringify({ id: n.id, pid: living.pid }), { mode: 0o600 });
    expect(resolveSuccession(p, dir)).toMatchObject({ kind: 'bystander' });
    // A claim by a process that has exited is stale.
    fs.writeFileSync(path.join(dir, HANDOFF_CLAIM_FILE), JSON.stringify({ id: n.id, pid: gonePid }), { mode: 0o600 });
    expect(resolveSuccession(p, dir)).toMatchObject({ kind: 'successor' });
    // Another data directory knows nothing of it.
    expect(resolveSuccession(p, tempDataDir())).toEqual({ kind: 'fresh', unproven: p });
  });

  it('an installer that starts the new version with a clean environment: the note alone, once the predecessor has let go of the port or exited', () => {
    const dir = tempDataDir();
    writeHandoffNote(dir, note({ pid: gonePid }));
    expect(resolveSuccession(null, dir)).toMatchObject({ kind: 'successor', handoff: { instance: h.instance, pid: gonePid, host: h.host, port: h.port } });
    const closing = tempDataDir();
    writeHandoffNote(closing, note({ pid: living.pid!, closedAt: Date.now() }));
    expect(resolveSuccession(null, closing)).toMatchObject({ kind: 'successor', handoff: { pid: living.pid } });
  });

  it('a channel-proof handoff belongs to the child its predecessor started: anyone else is a bystander while it lives', () => {
    const dir = tempDataDir();
    const n = note({ pid: living.pid!, proof: 'channel', secret: null });
    writeHandoffNote(dir, n);
    expect(readHandoffNote(dir)).toEqual(n);
    // Naming it exactly is not enough without its channel (this process is not its child).
    expect(resolveSuccession({ ...h, pid: living.pid! }, dir)).toMatchObject({ kind: 'bystander' });
    expect(resolveSuccession(null, dir)).toMatchObject({ kind: 'bystander' });
    // Once it is gone, its note is no obstacle: a plain start is fresh; a child it started carries on.
    writeHandoffNote(dir, { ...n, pid: gonePid });
    expect(resolveSuccession(null, dir)).toEqual({ kind: 'fresh', unproven: null });
    expect(resolveSuccession({ ...h, pid: gonePid }, dir)).toMatchObject({ kind: 'successor', handoff: { secret: null, channel: null } });
  });

  it('an old, malformed, oversized, foreign-readable or linked note is not used', () => {
    const dir = tempDataDir();
    const file = path.join(dir, HANDOFF_NOTE_FILE);
    writeHandoffNote(dir, note({ writtenAt: Date.now() - 11 * 60_000 }));
    expect(readHandoffNote(dir)).toBeNull();
    fs.writeFileSync(file, '{"v":1', { mode: 0o600 });
    expect(readHandoffNote(dir)).toBeNull();
    fs.writeFileSync(file, JSON.stringify({ ...note(), secret: 'short' }), { mode: 0o600 });
    expect(readHandoffNote(dir)).toBeNull();
    fs.writeFileSync(file, JSON.stringify(note()), { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    expect(readHandoffNote(dir)).toBeNull();
    fs.rmSync(file);
    const elsewhere = path.join(tempDataDir(), 'n.json');
    fs.writeFileSync(elsewhere, JSON.stringify(note()), { mode: 0o600 });
    fs.symlinkSync(elsewhere, file);
    expect(readHandoffNote(dir)).toBeNull();
    fs.rmSync(file);
    fs.writeFileSync(file, JSON.stringify({ ...note(), history: 'x'.repeat(300 * 1024) }), { mode: 0o600 });
    expect(readHandoffNote(dir)).toBeNull();
  });
});

describe('whom do I replace', () => {
  it('the command line wins over the environment, which is read once and removed', () => {
    const env: NodeJS.ProcessEnv = { [HANDOFF_ENV]: encodeHandoffEnv({ ...h, instance: 'from-env' }) };
    expect(whomDoIReplace({ handoff: h.instance, handoffPid: String(h.pid), host: h.host, port: h.port }, env)).toEqual({ claimed: h, inheritedFd: null, problem: null });
    expect(env[HANDOFF_ENV]).toBeUndefined();
    const env2: NodeJS.ProcessEnv = { [HANDOFF_ENV]: encodeHandoffEnv(h) };
    expect(whomDoIReplace({}, env2)).toEqual({ claimed: h, inheritedFd: null, problem: null });
    expect(whomDoIReplace({}, {})).toEqual({ claimed: null, inheritedFd: null, problem: null });
  });

  it('says what is malformed: a handoff without its pid, a descriptor below 3', () => {
    expect(whomDoIReplace({ handoff: 'abc', host: 'h', port: 1 }, {}).problem).toMatch(/--handoff needs --handoff-pid/);
    expect(whomDoIReplace({ listenFd: '2' }, {}).problem).toMatch(/--listen-fd must be a descriptor number of 3 or more/);
    expect(whomDoIReplace({ listenFd: '3', handoff: h.instance, handoffPid: h.pid, host: h.host, port: h.port }, {})).toEqual({ claimed: h, inheritedFd: 3, problem: null });
  });
});
