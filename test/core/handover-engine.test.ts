/**
 * The handover engine's promises, each on a real host, a real port and real
 * processes: never zero servers whatever the successor does, a stolen port
 * is a conflict (exit 4 headless), and only the real successor can make a
 * Berth let go of its port.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBerth } from '../../app/berth';
import { BerthError } from '../../app/errors';
import { HANDOFF_HEADER, probePort } from '../../app/instance/probe';
import { handoffProof, readHandoffNote, HANDOFF_NOTE_FILE } from '../../app/lifecycle/successor-protocol';
import { started, type RelaunchPlan, type Started } from '../../app/lifecycle/plans';
import { startSuccessor, type SuccessorProcess } from '../../app/lifecycle/successor-process';
import { memoryLogSink } from '../../app/log';
import { rendererDir } from '../../app/paths';
import { headlessUpdates } from '../../app/update/headless';
import { alive, freePort, health, runBerth, startServe, tempDataDir, waitFor } from '../helpers';
import { closeServer, makeHost } from './fixtures';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});

async function serving(opts: Parameters<typeof makeHost>[1] = {}) {
  const port = await freePort();
  const logs = memoryLogSink();
  const host = await makeHost(port, { logs, handoffDeadline: 1500, ...opts });
  await host.start();
  cleanups.push(() => host.stop());
  return { port, host, logs, dataDir: host.opts.dataDir, log: () => logs.ring.tail(1000).map((e) => e.msg).join('\n') };
}

/** A process started for real, as a plan's `start` would start it. */
function spawned(command: string, args: string[] = []): Promise<Started> {
  const child = spawn(command, args, { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return started(child);
}

const never = new Promise<number | null>(() => undefined);

/** Our own successor, as headlessRelaunchPlan starts one: from a worker thread, with a channel. */
function own(command: string, args: string[] = []): SuccessorProcess {
  const s = startSuccessor(command, args, { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  cleanups.push(() => s.kill());
  return s;
}

/** What a client sees: whether the port answered as this instance at every probe while `during` ran. */
async function watchWhile(port: number, instance: string, during: Promise<unknown>): Promise<{ probes: number; other: string[] }> {
  let done = false;
  void during.finally(() => (done = true)).catch(() => undefined);
  const seen = { probes: 0, other: [] as string[] };
  while (!done) {
    // A generous timeout: on a busy machine a slow answer is still an answer from this instance.
    const p = await probePort('127.0.0.1', port, { timeout: 10_000 });
    seen.probes++;
    const who = p.verdict === 'duplicate' || p.verdict === 'predecessor' ? p.running.instance : p.verdict;
    if (who !== instance) seen.other.push(who);
  }
  return seen;
}

describe('never zero servers: a successor that does not serve leaves the predecessor serving', () => {
  // The handoff deadline is generous where the successor fails by itself, so a busy machine is not mistaken for a stall.
  const cases: { name: string; plan: (port: number) => RelaunchPlan; failure: RegExp; deadline?: number }[] = [
    {
      name: 'beside (socket): the new process cannot be spawned',
      plan: () => ({ kind: 'beside', handover: 'socket', startedBy: 'berth', label: 't', start: () => own('/nonexistent/berth') }),
      failure: /the new process could not start \(spawn \/nonexistent\/berth ENOENT\)/,
    },
    {
      name: 'beside (socket): the new process crashes before serving',
      plan: () => ({ kind: 'beside', handover: 'socket', startedBy: 'berth', label: 't', start: () => own(process.execPath, ['-e', 'process.exit(1)']) }),
      failure: /the new process exited with code 1 before serving/,
    },
    {
      name: 'beside (socket): the new process never serves',
      plan: () => ({ kind: 'beside', handover: 'socket', startedBy: 'berth', label: 't', start: () => own(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']) }),
      // On a busy machine the start itself may take the whole deadline: either way it never served.
      failure: /the new process did not (start|serve) within 3 s/,
      deadline: 3000,
    },
    {
      name: 'beside (probe): the new process crashes before it is ready',
      plan: () => ({ kind: 'beside', handover: 'probe', startedBy: 'berth', label: 't', start: () => own(process.execPath, ['-e', 'process.exit(3)']) }),
      failure: /the new process exited with code 3 before it was ready/,
    },
    {
      name: 'beside (probe): the new process never gets ready',
      plan: () => ({ kind: 'beside', handover: 'probe', startedBy: 'berth', label: 't', start: () => own(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']) }),
      // On a busy machine the start itself may take the whole deadline: either way it was never ready.
      failure: /the new process (did not start|was not ready) within 3 s/,
      deadline: 3000,
    },
    {
      name: 'beside (probe, an updater): the new process crashes before it is ready',
      plan: () => ({ kind: 'beside', handover: 'probe', startedBy: 'updater', label: 't', start: () => spawned(process.execPath, ['-e', 'process.exit(3)']) }),
      failure: /the new process exited with code 3 before it was ready/,
    },
    {
      name: 'after exit: the installer cannot be started',
      plan: () => ({ kind: 'after-exit', startedBy: 'installer', label: 't', start: () => spawned('/nonexistent/installer.exe') }),
      failure: /the installer could not start \(spawn \/nonexistent\/installer\.exe ENOENT\)/,
    },
    {
      name: 'after exit: a package install is cancelled (the password prompt)',
      plan: () => ({
        kind: 'after-exit',
        startedBy: 'installer',
        label: 't',
        prepare: async () => Promise.reject(new Error('the password prompt was cancelled; nothing was installed')),
        start: async () => undefined,
      }),
      failure: /the password prompt was cancelled/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const s = await serving({ handoffDeadline: c.deadline ?? 20_000 });
      const exits: number[] = [];
      s.host.on('exit', (code) => exits.push(code));
      const relaunch = s.host.relaunch(c.plan(s.port));
      const seen = watchWhile(s.port, s.host.instance, relaunch);
      const err = await relaunch.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BerthError);
      expect((err as Error).message, String(err)).toMatch(c.failure);
      expect((err as Error).message).toContain(`Berth pid ${process.pid} keeps serving http://127.0.0.1:${s.port}`);
      // The port answered as this instance at every look, before, during and after.
      expect((await seen).other).toEqual([]);
      expect(s.host.state).toBe('serving');
      expect(exits).toEqual([]);
      expect(s.host.status().history.at(-1)).toMatchObject({ kind: 'relaunch', failed: expect.stringMatching(c.failure) });
      expect(fs.existsSync(path.join(s.dataDir, HANDOFF_NOTE_FILE))).toBe(false);
      // And it can relaunch again afterwards (nothing is left half-done).
      expect(s.host.state).toBe('serving');
    });
  }

  it('a successor that proves itself, then serves somewhere else: the predecessor serves again', async () => {
    const s = await serving();
    const elsewhere = await freePort();
    const plan: RelaunchPlan = {
      kind: 'beside',
      handover: 'probe',
      startedBy: 'updater',
      label: 't',
      start: async (h) => {
        // A successor that says it is ready, then binds another port.
        const note = readHandoffNote(s.dataDir)!;
        void probePort('127.0.0.1', h.port, { handoffFrom: h.instance, handoffProof: handoffProof(h.instance, note.secret) });
        const other = await makeHost(elsewhere);
        await other.start();
        cleanups.push(() => other.stop());
        return { exited: never, kill: () => void other.stop() };
      },
    };
    await expect(s.host.relaunch(plan)).rejects.toThrow(`Relaunch failed: the new process did not serve within 1.5 s. Berth pid ${process.pid} serves http://127.0.0.1:${s.port} again.`);
    expect(s.host.state).toBe('serving');
    expect(await health(s.port)).toMatchObject({ instance: s.host.instance, state: 'serving' });
  });
});

describe('a port stolen between close and rebind', () => {
  it('is a conflict named in one log line, and a headless Berth exits 4 (never 0) within the handoff deadline', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const logs = memoryLogSink();
    const exits: number[] = [];
    let thief: http.Server | null = null;
    const berth = await createBerth({
      host: '127.0.0.1',
      port,
      dataDir,
      version: '1.0.0',
      logs,
      rendererDir: rendererDir(),
      handoffDeadline: 1500,
      probeTimeout: 300,
      updates: headlessUpdates({ dataDir, version: '1.0.0', logs, env: {} }),
      relaunchPlan: () => ({
        kind: 'beside',
        handover: 'probe',
        startedBy: 'updater',
        label: 't',
        start: async (h) => {
          // It proves itself; then another program binds the port the moment Berth lets go of it.
          const note = readHandoffNote(dataDir)!;
          void probePort('127.0.0.1', h.port, { handoffFrom: h.instance, handoffProof: handoffProof(h.instance, note.secret) });
          void stealPort(port).then((srv) => {
            thief = srv;
            cleanups.push(() => closeServer(srv));
          });
          return { exited: never, kill: () => undefined };
        },
      }),
      exit: (code) => exits.push(code),
      exitOnConflict: true,
    });
    await berth.start();
    cleanups.push(() => berth.host.stop());
    const err = await berth.host.relaunch().catch((e: Error) => e);
    expect(String(err)).toMatch(/Relaunch failed: port \d+ was taken by another web server: "HTTP\/1\.1 200 OK" \(Server: NotBerth\/1\.0\), and Berth could not serve again: Port \d+ is in use by another web server/);
    expect(thief).not.toBeNull();
    expect(berth.host.state).toBe('conflict');
    expect(exits).toEqual([4]);
    const lines = logs.ring.tail(1000).map((e) => e.msg);
    expect(lines.filter((l) => l.startsWith('relaunch failed:'))).toHaveLength(1);
    expect(lines.filter((l) => /EADDRINUSE/.test(l))).toEqual([]);
  });

  it('a waiting starter probes again, and names the program that took the port instead of blaming its predecessor', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    // The port is held by something silent (a stuck process), which then turns into a web server: the port
    // never frees in between, so the starter can only learn of the change by probing again.
    let answering = false;
    const held = new Set<net.Socket>();
    const holder = net.createServer((sock) => {
      held.add(sock);
      sock.on('error', () => undefined);
      if (answering) sock.end('HTTP/1.1 200 OK\r\nServer: NotBerth/1.0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    });
    await new Promise<void>((r) => holder.listen(port, '127.0.0.1', r));
    cleanups.push(() => {
      for (const sock of held) sock.destroy();
      return new Promise((r) => holder.close(r));
    });
    const p = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dir, '--probe-timeout', '300', '--handoff-timeout', '20000']);
    cleanups.push(() => p.child.kill('SIGKILL'));
    await waitFor(() => p.stderr().includes('waiting up to'), 'the starter to wait for the port');
    answering = true;
    // Before the 20 s deadline: exit 4, naming what holds the port now.
    expect(await p.exited).toBe(4);
    const out = JSON.parse(p.stdout().trim().split('\n').pop()!);
    expect(out).toMatchObject({ exitCode: 4 });
    expect(out.error).toMatch(/^Port \d+ is in use by another web server: "HTTP\/1\.1 200 OK" \(Server: NotBerth\/1\.0\)/);
  });
});

describe('only the real successor', () => {
  it('a handoff probe without the secret changes nothing: the relaunch waits for the real proof and the port never closes', async () => {
    const s = await serving();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    cleanups.push(() => child.kill('SIGKILL'));
    const relaunch = s.host.relaunch({ kind: 'beside', handover: 'probe', startedBy: 'updater', label: 't', start: () => started(child) });
    await waitFor(() => fs.existsSync(path.join(s.dataDir, HANDOFF_NOTE_FILE)), 'the note');
    // What anyone can send: the public instance id, a made-up proof, a proof made with another secret.
    for (const value of [s.host.instance, `${s.host.instance} AAAA`, handoffProof(s.host.instance, 'x'.repeat(43))]) {
      const reply = await rawHealth(s.port, value);
      expect(reply).toMatch(/^HTTP\/1\.1 200/);
      expect(reply).toContain('"state":"serving"');
    }
    const seen = watchWhile(s.port, s.host.instance, relaunch);
    await expect(relaunch).rejects.toThrow(/was not ready within/);
    expect((await seen).other).toEqual([]);
    // Said once, then counted (a flood of them writes a line a minute, not a line each).
    expect(s.log().match(/refused a handoff probe without a valid proof/g)).toHaveLength(1);
  });

  it('--handoff flags copied from /health, from another data directory, change nothing: exit 3, and nobody is killed', async () => {
    const port = await freePort();
    const running = await startServe(port, tempDataDir());
    cleanups.push(() => running.child.kill('SIGKILL'));
    const h = (await health(port))!;
    const attacker = runBerth(['serve', '--json', '--port', String(port), '--data-dir', tempDataDir(), `--handoff=${h.instance}`, `--handoff-pid=${h.pid}`, '--probe-timeout', '300', '--handoff-timeout', '1000']);
    expect(await attacker.exited).toBe(3);
    expect(attacker.stderr()).toContain('no handoff note from it');
    expect(await health(port)).toMatchObject({ instance: h.instance, state: 'serving' });

    // Even against a stuck Berth (the kill path): it waits, gives up with exit 4, and kills nothing.
    running.child.kill('SIGSTOP');
    const again = runBerth(['serve', '--json', '--port', String(port), '--data-dir', tempDataDir(), `--handoff=${h.instance}`, `--handoff-pid=${h.pid}`, '--probe-timeout', '300', '--handoff-timeout', '1000']);
    expect(await again.exited).toBe(4);
    expect(alive(h.pid)).toBe(true);
    running.child.kill('SIGCONT');
    expect(await waitFor(() => health(port), 'the resumed Berth to answer')).toMatchObject({ instance: h.instance });
  });
});

/** A web server that is not Berth, binding `port` the moment it is free (tried on every turn of the event loop). */
function stealPort(port: number): Promise<http.Server> {
  return new Promise((resolve) => {
    const srv = http.createServer((_req, res) => {
      res.setHeader('Server', 'NotBerth/1.0');
      res.end('hello');
    });
    srv.on('error', () => setImmediate(() => srv.listen(port, '127.0.0.1')));
    srv.once('listening', () => resolve(srv));
    srv.listen(port, '127.0.0.1');
  });
}

function rawHealth(port: number, handoff: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.on('data', (d) => (reply += d));
    sock.on('end', () => resolve(reply));
    sock.on('error', reject);
    sock.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${HANDOFF_HEADER}: ${handoff}\r\nConnection: close\r\n\r\n`);
  });
}
