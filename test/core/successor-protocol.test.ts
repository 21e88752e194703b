/**
 * The handoff value and its three encodings (command line, environment, the
 * note in the data directory), and the proof that only the real successor
 * can make.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
  resolveHandoff,
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
  return { v: 1, ...h, secret: newSecret(), version: '1.0.0', writtenAt: Date.now(), closedAt: null, history: [], ...over };
}

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

  it('a claim is proven only by a matching note in the same data directory', () => {
    const dir = tempDataDir();
    expect(resolveHandoff(h, dir)).toEqual({ proven: null, unproven: h });
    const n = note();
    writeHandoffNote(dir, n);
    expect(resolveHandoff(h, dir).proven).toMatchObject({ ...h, secret: n.secret });
    // Another instance or pid than the note's: unproven.
    expect(resolveHandoff({ ...h, pid: 1 }, dir)).toEqual({ proven: null, unproven: { ...h, pid: 1 } });
    // No claim at all (an installer's clean start): the note alone names the predecessor.
    expect(resolveHandoff(null, dir).proven).toMatchObject(h);
    // Another data directory knows nothing of it.
    expect(resolveHandoff(h, tempDataDir()).proven).toBeNull();
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
