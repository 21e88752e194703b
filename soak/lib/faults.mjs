// Faults, each with the outcome Berth promises, checked against real
// processes: kills and stops at bad moments, a port stolen between probe and
// bind, a read-only or damaged data directory, and crashes during a save.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  LIB, alive, api, health, jsonLines, logText, procs, rawExchange, readText, readToken, runBerth, runNode, serveOrExit, sleep, startServe, stopBerth,
  tempDir, freePort, rmDir, waitFor,
} from './common.mjs';
import { listenersAsync } from './procfs.mjs';
import { attackCases } from './attacks.mjs';

const FIXTURES = path.join(LIB, '..', 'fixtures');

function row(name, expected, observed, ok, extra = {}) {
  return { name, expected, observed, ok: !!ok, ...extra };
}

/**
 * `berth serve` without --json, so warnings reach stderr; resolves once its own pid answers /health and it
 * has said it serves (its signal handlers are in place from then on: a SIGTERM before would simply kill it).
 */
async function serveHuman(port, dataDir, extra = [], opts = {}) {
  const p = runBerth(['serve', '--port', String(port), '--data-dir', dataDir, ...extra], opts);
  await Promise.race([
    waitFor(async () => p.stdout().includes(' is serving on ') && (await health(port))?.pid === p.pid, `berth serve pid ${p.pid} to serve`, 20_000),
    p.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${p.stdout()}\n${p.stderr()}`);
    }),
  ]);
  return p;
}

/**
 * The handoff note a relaunching Berth leaves in its data directory for a
 * successor it does not start itself (an installer's): the built app's own
 * writer.
 */
function leaveNoteFor(dataDir, handoff) {
  const { writeHandoffNote, newSecret, newNoteId } = createRequire(import.meta.url)(path.join(LIB, '..', '..', 'out', 'app', 'lifecycle', 'successor-protocol.js'));
  writeHandoffNote(dataDir, { v: 2, ...handoff, id: newNoteId(), proof: 'note', secret: newSecret(), version: '', writtenAt: Date.now(), closedAt: null, history: [] });
}

/** Exit code (or signal) of a process, waiting at most `ms`. */
async function exitWithin(p, ms) {
  return Promise.race([p.exited, sleep(ms).then(() => 'still running')]);
}

// ---------------------------------------------------------------------------

/** Predecessor SIGKILLed mid-drain (an in-flight request holds its drain open): its successor serves. */
export async function killMidDrain() {
  const port = await freePort();
  const dataDir = tempDir('berth-fault-drain-');
  const outFile = path.join(dataDir, 'serve-output.txt');
  try {
    const a = await startServe(port, dataDir, ['--drain-timeout', '8000'], { outFile });
    const token = readToken(dataDir);
    // A request still arriving (its headers unfinished): the drain must wait for it. A GET, so it is not
    // a restart blocker, which the relaunch would wait for before it starts draining at all.
    const slow = rawExchange({
      port,
      parts: [`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: 1\r\n`],
      timeoutMs: 20_000,
    });
    await sleep(200);
    const accepted = await api(port, token, 'POST', '/api/relaunch');
    // The listener closes first; from then on the predecessor is draining.
    // A successor answers (a probe that timed out is no answer: on a busy machine the successor may not have started yet).
    await waitFor(async () => {
      const h = await health(port, '127.0.0.1', 300);
      return h && h.pid !== a.pid;
    }, 'the successor to answer', 20_000, 2);
    // Past the idle grace: the predecessor is alive only because the unfinished request holds its drain.
    await sleep(300);
    const aliveMidDrain = alive(a.pid);
    procs.signal(a.pid, 'SIGKILL');
    const aExit = await exitWithin(a, 5000);
    const successor = await waitFor(async () => {
      const h = await health(port);
      return h && h.pid !== a.pid && h.state === 'serving' ? h : null;
    }, 'the successor to serve', 20_000).catch(() => null);
    if (successor) procs.track(successor.pid, dataDir);
    const status = successor ? (await api(port, token, 'GET', '/api/status')).json : null;
    const slowResult = await slow;
    const ok = accepted.status === 200 && aliveMidDrain && aExit === 'SIGKILL' && successor && status?.handoffFrom === a.info.instance && (await listenersAsync(port)) !== 0;
    return row(
      'predecessor SIGKILLed mid-drain',
      'successor serves (handoff from the killed instance)',
      successor ? `pid ${successor.pid} serves, handoffFrom ${status?.handoffFrom === a.info.instance ? 'matches' : status?.handoffFrom}; predecessor ${aExit}; unfinished request ${slowResult.why}` : `nothing serves; predecessor ${aExit}`,
      ok,
    );
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

/** Predecessor SIGSTOPped while holding the port: the successor launched to replace it kills that pid after the deadline. */
export async function stoppedPredecessor() {
  const port = await freePort();
  const dataDir = tempDir('berth-fault-stopped-');
  try {
    const a = await startServe(port, dataDir);
    // A hangs in the middle of its own relaunch: its handoff note (with the secret) is written, then it stops.
    leaveNoteFor(dataDir, { instance: a.info.instance, pid: a.pid, host: '127.0.0.1', port });
    procs.signal(a.pid, 'SIGSTOP');
    const t0 = performance.now();
    const b = await startServe(port, dataDir, [`--handoff=${a.info.instance}`, '--handoff-pid', String(a.pid), '--handoff-timeout', '1500', '--probe-timeout', '300'], { timeoutMs: 30_000 });
    const tookMs = Math.round(performance.now() - t0);
    const aExit = await exitWithin(a, 5000);
    const h = await health(port);
    const said = /predecessor pid \d+ still holds .* terminating it/.test(logText(dataDir));
    const ok = aExit === 'SIGKILL' && h?.pid === b.pid && said;
    return row(
      'predecessor SIGSTOPped holding the port',
      'successor kills exactly that pid after the handoff deadline, then serves',
      `predecessor ${aExit}; pid ${h?.pid} serves after ${tookMs} ms${said ? '; logged why' : '; no log line'}`,
      ok,
    );
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

/**
 * The kill path must never reach anything but the exact predecessor: a plain
 * start waits and gives up, a handoff naming another Berth's pid leaves it
 * alone, and a handoff for an instance that is not the one serving exits 3.
 */
export async function neverKillsOthers() {
  const port = await freePort();
  const otherPort = await freePort();
  const dataDir = tempDir('berth-fault-nokill-');
  const otherDir = tempDir('berth-fault-other-');
  const rows = [];
  try {
    const a = await startServe(port, dataDir);
    const other = await startServe(otherPort, otherDir);
    procs.signal(a.pid, 'SIGSTOP');

    const plain = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, '--handoff-timeout', '1000', '--probe-timeout', '300']);
    const plainExit = await exitWithin(plain, 30_000);
    const plainMsg = jsonLines(plain.stdout()).find((l) => l.error)?.error ?? '';
    rows.push(
      row(
        'plain start vs a stopped Berth',
        'exit 4 with a message; the stopped Berth is not killed',
        `exit ${plainExit}; stopped Berth ${alive(a.pid) ? 'alive' : 'GONE'}; "${plainMsg.slice(0, 90)}..."`,
        plainExit === 4 && alive(a.pid) && /did not free within/.test(plainMsg),
      ),
    );

    const wrongPid = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, `--handoff=${a.info.instance}`, '--handoff-pid', String(other.pid), '--handoff-timeout', '1000', '--probe-timeout', '300']);
    const wrongExit = await exitWithin(wrongPid, 30_000);
    const otherServing = (await health(otherPort))?.pid === other.pid;
    rows.push(
      row(
        'handoff naming another Berth\'s pid',
        'exit 4; the other Berth (another port) is never killed',
        `exit ${wrongExit}; other Berth ${otherServing ? 'still serving' : 'KILLED'}; stopped Berth ${alive(a.pid) ? 'alive' : 'GONE'}`,
        wrongExit === 4 && otherServing && alive(a.pid),
      ),
    );

    procs.signal(a.pid, 'SIGCONT');
    await waitFor(async () => (await health(port))?.pid === a.pid, 'the resumed Berth to answer');
    const wrongInstance = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, '--handoff', 'not-the-running-instance', '--handoff-pid', String(a.pid), '--handoff-timeout', '1000']);
    const wiExit = await exitWithin(wrongInstance, 30_000);
    const aServing = (await health(port))?.pid === a.pid;
    rows.push(
      row(
        'handoff for an instance that is not the one serving',
        'exit 3 (already running); the serving Berth is not killed',
        `exit ${wiExit}; serving Berth ${aServing ? 'untouched' : 'KILLED'}`,
        wiExit === 3 && aServing,
      ),
    );
  } finally {
    await procs.killAll();
    rmDir(dataDir);
    rmDir(otherDir);
  }
  return rows;
}

/** A foreign program takes the port after Berth's probe said "free" and before its bind. */
export async function foreignBetweenProbeAndBind(kind = 'http') {
  const port = await freePort();
  const dataDir = tempDir('berth-fault-grab-');
  const pidFile = path.join(dataDir, 'foreign.pid');
  try {
    const p = runBerth(['serve', '--json', '--port', String(port), '--data-dir', dataDir, '--handoff-timeout', '1000', '--probe-timeout', '500'], {
      nodeArgs: ['--require', path.join(FIXTURES, 'grab-port-preload.cjs')],
      env: { SOAK_GRAB_PORT: String(port), SOAK_GRAB_KIND: kind, SOAK_GRAB_PIDFILE: pidFile },
    });
    const code = await exitWithin(p, 30_000);
    const foreignPid = Number(readText(pidFile)) || null;
    if (foreignPid) procs.track(foreignPid, 'foreign-server.mjs');
    const err = jsonLines(p.stdout()).find((l) => l.error);
    const msg = err?.error ?? p.stderr();
    const probeSaidFree = /probe 127\.0\.0\.1:\d+: free/.test(logText(dataDir));
    const clear = kind === 'http' ? new RegExp(`Port ${port} is in use by another web server.*NotBerth.*--port`).test(msg) : /did not free within .*--port/.test(msg);
    const foreignAlive = foreignPid !== null && alive(foreignPid);
    return row(
      `foreign ${kind === 'http' ? 'web server' : 'silent listener'} grabs the port between probe and bind`,
      'exit 4 with a clear message; the foreign program untouched',
      `exit ${code}; probe said free: ${probeSaidFree}; foreign ${foreignAlive ? 'untouched' : 'gone'}; "${msg.slice(0, 100)}..."`,
      code === 4 && probeSaidFree && clear && foreignAlive,
    );
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

// ---------------------------------------------------------------------------
// The data directory. Tests run as root, and root ignores file permissions, so
// "read-only" uses the immutable attribute (chattr +i) where the filesystem has
// it, or runs Berth as `nobody` (setpriv) over a folder it may not write.

function snapshot(dir) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      const st = fs.statSync(f);
      out[path.relative(dir, f)] = e.isDirectory() ? `dir ${(st.mode & 0o777).toString(8)}` : `${(st.mode & 0o777).toString(8)} ${crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex')}`;
      if (e.isDirectory()) walk(f);
    }
  };
  walk(dir);
  return out;
}

function tryRun(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** How this machine can make a folder read-only for Berth: 'chattr', 'nobody', or null (with the reason). */
export function readOnlyMethod() {
  const probe = tempDir('berth-ro-probe-');
  try {
    if (process.getuid?.() !== 0) {
      fs.chmodSync(probe, 0o555);
      const ok = !tryRun('touch', [path.join(probe, 'x')]);
      fs.chmodSync(probe, 0o755);
      return ok ? { method: 'chmod' } : { method: null, reason: 'chmod 555 did not stop writes' };
    }
    if (tryRun('chattr', ['+i', probe])) {
      const blocked = !tryRun('touch', [path.join(probe, 'x')]);
      tryRun('chattr', ['-i', probe]);
      if (blocked) return { method: 'chattr' };
    }
    if (tryRun('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', '0'])) return { method: 'nobody' };
    return { method: null, reason: 'running as root without chattr +i support or setpriv: no way to make a folder read-only for this process' };
  } finally {
    rmDir(probe);
  }
}

function makeReadOnly(dir, method) {
  if (method === 'chattr') execFileSync('chattr', ['-R', '+i', dir]);
  else {
    // Owner-only bits: Berth would tighten anything more open (a change to the folder this case forbids).
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o400);
    fs.chmodSync(dir, 0o500);
  }
}

function makeWritable(dir, method) {
  if (method === 'chattr') tryRun('chattr', ['-R', '-i', dir]);
  else fs.chmodSync(dir, 0o700);
}

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * Read-only data directory, three ways: with valid files, empty (no token
 * yet), and with a corrupt settings file that cannot be set aside. Berth
 * serves with defaults and says why; nothing in the folder changes.
 */
export async function readOnlyDataDir() {
  const how = readOnlyMethod();
  if (!how.method) return [row('read-only data dir', 'serves with a warning; nothing changed', `skipped: ${how.reason}`, true, { skipped: true })];
  const rows = [];
  const cases = [
    { name: 'read-only data dir (token and settings present)', files: { 'settings.json': '{"launchAtLogin": true}\n', 'auth-token': crypto.randomBytes(32).toString('base64url') + '\n' }, expect: /Logs cannot be written/ },
    { name: 'read-only data dir (empty: no token yet)', files: {}, expect: /token kept in memory/ },
    { name: 'read-only data dir (corrupt settings)', files: { 'settings.json': '{"port": 80' }, expect: /is not valid JSON and could not be set aside/ },
  ];
  for (const c of cases) {
    const port = await freePort();
    const dataDir = tempDir('berth-fault-ro-');
    try {
      for (const [f, text] of Object.entries(c.files)) fs.writeFileSync(path.join(dataDir, f), text, { mode: 0o600 });
      // The folder and its files belong to the user Berth runs as (it refuses anyone else's).
      if (how.method === 'nobody') for (const f of ['', ...Object.keys(c.files)]) fs.chownSync(path.join(dataDir, f), 65534, 65534);
      makeReadOnly(dataDir, how.method);
      const before = snapshot(dataDir);
      const p = await serveHuman(port, dataDir, [], { wrap: how.method === 'nobody' ? NOBODY : undefined, marker: dataDir }).catch((err) => ({ failed: String(err) }));
      if (p.failed) {
        rows.push(row(c.name, 'serves with a warning; nothing changed', p.failed.slice(0, 200), false));
        continue;
      }
      const stopped = await stopBerth(p);
      const after = snapshot(dataDir);
      const unchanged = JSON.stringify(before) === JSON.stringify(after);
      const warned = c.expect.test(p.stderr());
      rows.push(
        row(
          c.name,
          'serves with defaults and a clear warning; exits 0; folder unchanged',
          `served; warning ${warned ? 'shown' : 'MISSING'}; exit ${stopped}; folder ${unchanged ? 'unchanged' : 'CHANGED'} (via ${how.method})`,
          warned && stopped === 0 && unchanged,
          { warning: p.stderr().split('\n').find((l) => c.expect.test(l)) ?? p.stderr().slice(0, 300) },
        ),
      );
    } finally {
      makeWritable(dataDir, how.method);
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  return rows;
}

/** A corrupt settings file is set aside byte for byte (never deleted) and defaults are used. */
export async function corruptSettings() {
  const port = await freePort();
  const dataDir = tempDir('berth-fault-corrupt-');
  const corrupt = '{"port": 9999, "host": "127.0.0.1",';
  try {
    fs.writeFileSync(path.join(dataDir, 'settings.json'), corrupt);
    const p = await serveHuman(port, dataDir);
    const aside = fs.readdirSync(dataDir).find((f) => f.startsWith('settings.json.corrupt-'));
    const kept = aside ? fs.readFileSync(path.join(dataDir, aside), 'utf8') === corrupt : false;
    const token = readToken(dataDir);
    const s = await api(port, token, 'GET', '/api/settings');
    const warned = /was not valid JSON; it was kept as/.test(p.stderr());
    await stopBerth(p);
    return row(
      'settings file corrupt',
      'kept aside byte for byte, defaults used, warning shown',
      `aside ${kept ? 'identical' : 'MISSING'}; defaults ${s.json?.settings?.port === 8787 ? 'in use' : 'NOT used'}; warning ${warned ? 'shown' : 'MISSING'}`,
      kept && warned && s.json?.settings?.port === 8787,
    );
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

/** Token file missing, loose, or garbage: a clear message and a safe outcome, nothing deleted. */
export async function tokenFaults() {
  const rows = [];
  // Missing while a server runs: the CLI says where it looked; the server keeps serving.
  {
    const port = await freePort();
    const dataDir = tempDir('berth-fault-token-');
    try {
      const p = await serveHuman(port, dataDir);
      const mode = (fs.statSync(path.join(dataDir, 'auth-token')).mode & 0o777).toString(8);
      fs.rmSync(path.join(dataDir, 'auth-token'));
      const stop = runBerth(['stop', '--port', String(port), '--data-dir', dataDir]);
      const code = await exitWithin(stop, 20_000);
      const still = (await health(port))?.pid === p.pid;
      rows.push(
        row(
          'token file missing (berth stop)',
          'exit 2 naming the folder; server keeps serving',
          `token created ${mode}; stop exit ${code}: "${stop.stderr().trim().slice(0, 80)}"; server ${still ? 'serving' : 'GONE'}`,
          mode === '600' && code === 2 && /no token in/i.test(stop.stderr()) && still,
        ),
      );
      await stopBerth(p);
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  // Readable by others: tightened to 0600, the same token kept.
  {
    const port = await freePort();
    const dataDir = tempDir('berth-fault-token-');
    try {
      const token = crypto.randomBytes(32).toString('base64url');
      fs.writeFileSync(path.join(dataDir, 'auth-token'), token + '\n', { mode: 0o644 });
      fs.chmodSync(path.join(dataDir, 'auth-token'), 0o644);
      const p = await serveHuman(port, dataDir);
      const mode = (fs.statSync(path.join(dataDir, 'auth-token')).mode & 0o777).toString(8);
      const works = (await api(port, token, 'GET', '/api/status')).status === 200;
      const warned = /readable by other users \(mode 644\); it is now 0600/.test(p.stderr());
      await stopBerth(p);
      rows.push(
        row('token file with loose permissions (0644)', 'tightened to 0600, same token, warning', `mode ${mode}; same token ${works ? 'accepted' : 'REFUSED'}; warning ${warned ? 'shown' : 'MISSING'}`, mode === '600' && works && warned),
      );
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  // Garbage content: kept aside, a new token made.
  {
    const port = await freePort();
    const dataDir = tempDir('berth-fault-token-');
    try {
      fs.writeFileSync(path.join(dataDir, 'auth-token'), 'not a token\n', { mode: 0o600 });
      const p = await serveHuman(port, dataDir);
      const aside = fs.readdirSync(dataDir).find((f) => f.startsWith('auth-token.invalid-'));
      const kept = aside && fs.readFileSync(path.join(dataDir, aside), 'utf8') === 'not a token\n';
      const fresh = readToken(dataDir);
      const works = (await api(port, fresh, 'GET', '/api/status')).status === 200;
      const warned = /did not hold a valid token; it was kept as/.test(p.stderr());
      await stopBerth(p);
      rows.push(row('token file with garbage content', 'kept aside, new token works, warning', `aside ${kept ? 'identical' : 'MISSING'}; new token ${works ? 'works' : 'REFUSED'}; warning ${warned ? 'shown' : 'MISSING'}`, kept && works && warned));
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  return rows;
}

/** SIGKILL a process saving settings in a loop, `times` times: the file is always whole and valid. */
export async function killDuringSave({ times = 200 } = {}) {
  const dataDir = tempDir('berth-fault-save-');
  const { loadSettings } = await import(path.join(LIB, '..', '..', 'out', 'app', 'settings', 'settings.js'));
  let valid = 0;
  let missing = 0;
  const problems = [];
  let maxTemp = 0;
  try {
    for (let i = 0; i < times; i++) {
      const saver = runBerthLike(dataDir);
      await waitFor(() => saver.out().includes('saving') || saver.done(), 'the saver to start', 20_000, 1);
      // Kill somewhere inside a save: the loop saves continuously, at varied offsets.
      await sleep(Math.random() * 15);
      procs.signal(saver.pid, 'SIGKILL');
      await saver.exited;
      const file = path.join(dataDir, 'settings.json');
      if (!fs.existsSync(file)) {
        missing++;
        continue;
      }
      const loaded = loadSettings(dataDir);
      if (loaded.warnings.length || ![10001, 10002].includes(loaded.settings.port)) problems.push(`kill ${i}: ${loaded.warnings.join('; ') || `port ${loaded.settings.port}`}`);
      else valid++;
      maxTemp = Math.max(maxTemp, fs.readdirSync(dataDir).filter((f) => f.endsWith('.tmp')).length);
    }
    const leftovers = fs.readdirSync(dataDir).filter((f) => f.endsWith('.tmp')).length;
    return {
      row: row(
        `SIGKILL during a settings save (${times}x)`,
        'settings.json always whole and valid; no temp files pile up',
        `${valid}/${times} valid, ${missing} missing, ${problems.length} bad; temp files left ${leftovers} (max ${maxTemp})`,
        valid === times && problems.length === 0 && maxTemp <= 2,
      ),
      problems: problems.slice(0, 5),
      leftovers,
    };
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

function runBerthLike(dataDir) {
  // Not `berth` itself: a small script calling saveSettings from out/, tracked like the others.
  const p = runNode(path.join(FIXTURES, 'settings-saver.cjs'), [dataDir], { marker: dataDir });
  return { ...p, out: p.stdout, done: () => p.child.exitCode !== null || p.child.signalCode !== null };
}

// ---------------------------------------------------------------------------
// Trust: the data directory and its files must belong to the user running
// Berth, and no one else may be able to change them (app/files/trust.ts).
// Ownership is checked for root too, so most cases run as root; where root
// would write through a permission that stops a user, Berth runs as `nobody`.

const NOBODY_ID = 65534;
const isRoot = () => process.getuid?.() === 0;
const me = () => os.userInfo().username;
const firstLine = (text) => text.split('\n').find((l) => l.trim())?.trim().slice(0, 160) ?? '';

/**
 * A tiny tmpfs (root only), for a full disk and a read-only file system:
 * `fill()` writes until ENOSPC, `free()` gives the space back. `dir` is null
 * (with the reason) where nothing can be mounted.
 */
export function smallDisk({ sizeKiB = 8, uid } = {}) {
  const dir = tempDir('berth-disk-');
  const options = [`size=${sizeKiB}k`, 'mode=0700', ...(uid === undefined ? [] : [`uid=${uid}`, `gid=${uid}`])].join(',');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmDir(dir);
    return { dir: null, reason: `cannot mount a small tmpfs here (${String(err.stderr ?? err.message).trim().slice(0, 120)}), and a full disk needs one` };
  }
  const filler = path.join(dir, '.filler');
  return {
    dir,
    fill() {
      const fd = fs.openSync(filler, 'a');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(1024));
      } catch (err) {
        if (err.code !== 'ENOSPC') throw err;
      } finally {
        fs.closeSync(fd);
      }
    },
    free() {
      fs.rmSync(filler, { force: true });
    },
    readOnly(on) {
      execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, dir], { stdio: 'pipe' });
    },
    unmount() {
      if (!tryRun('umount', [dir])) tryRun('umount', ['-l', dir]);
      rmDir(dir);
    },
  };
}

const temps = (dir) => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

/** The attack from the report, and the folders Berth must refuse or fix. */
export async function untrustedDataDir() {
  if (!isRoot()) return [row('data folder of another account', 'exit 2 with the fix', 'skipped: making files of another account needs root', true, { skipped: true })];
  const rows = [];
  {
    const port = await freePort();
    const dataDir = tempDir('berth-trust-open-');
    const token = path.join(dataDir, 'auth-token');
    const settings = path.join(dataDir, 'settings.json');
    try {
      fs.writeFileSync(token, crypto.randomBytes(32).toString('base64url') + '\n', { mode: 0o644 });
      fs.writeFileSync(settings, '{"host": "0.0.0.0"}\n', { mode: 0o644 });
      for (const f of [token, settings]) fs.chownSync(f, NOBODY_ID, NOBODY_ID);
      fs.chmodSync(dataDir, 0o777);
      const r = await serveOrExit(port, dataDir);
      const msg = r.p.stderr();
      const st = fs.statSync(token);
      const untouched = st.uid === NOBODY_ID && (st.mode & 0o777) === 0o644;
      rows.push(
        row(
          'world-writable data folder; token and "host": "0.0.0.0" planted by another account',
          'exit 2 with the chmod to run; the token is not adopted; nothing listens',
          `exit ${r.code}${r.served ? ' (it SERVED)' : ''}; planted token ${untouched ? 'untouched' : 'ADOPTED'}; "${firstLine(msg.split('\n').slice(1).join('\n'))}"`,
          r.code === 2 && msg.includes(`chmod 700 '${dataDir}'`) && untouched && !(await health(port)),
        ),
      );
      await procs.killAll();
      fs.chmodSync(dataDir, 0o700);
      const r2 = await serveOrExit(port, dataDir);
      const msg2 = r2.p.stderr();
      rows.push(
        row(
          'folder fixed, files still planted by another account',
          'exit 2 naming both files, each with its fix (rm the token, chown the settings)',
          `exit ${r2.code}${r2.served ? ' (it SERVED)' : ''}; token fix ${msg2.includes(`sudo rm '${token}'`) ? 'given' : 'MISSING'}; settings fix ${msg2.includes(`sudo chown ${me()} '${settings}'`) ? 'given' : 'MISSING'}`,
          r2.code === 2 && msg2.includes(`sudo rm '${token}'`) && msg2.includes(`sudo chown ${me()} '${settings}'`) && !(await health(port)),
        ),
      );
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  {
    const port = await freePort();
    const dataDir = tempDir('berth-trust-theirs-');
    try {
      fs.chownSync(dataDir, NOBODY_ID, NOBODY_ID);
      const r = await serveOrExit(port, dataDir);
      const fix = `sudo chown -R ${me()} '${dataDir}' && chmod 700 '${dataDir}'`;
      rows.push(
        row('data folder that belongs to another account', 'exit 2 with the chown to run', `exit ${r.code}; fix ${r.p.stderr().includes(fix) ? 'given' : 'MISSING'}`, r.code === 2 && r.p.stderr().includes(fix)),
      );
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  {
    // The same from the other side: Berth runs as an ordinary user, the folder is root's.
    const port = await freePort();
    const dataDir = tempDir('berth-trust-root-');
    try {
      fs.chmodSync(dataDir, 0o755);
      const r = await serveOrExit(port, dataDir, [], { wrap: NOBODY });
      const fix = `sudo chown -R nobody '${dataDir}'`;
      rows.push(
        row('as user nobody: data folder that belongs to root', 'exit 2 with the chown to run', `exit ${r.code}; fix ${r.p.stderr().includes(fix) ? 'given' : 'MISSING'}: "${firstLine(r.p.stderr().split('\n').slice(1).join('\n'))}"`, r.code === 2 && r.p.stderr().includes(fix)),
      );
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  {
    const port = await freePort();
    const dataDir = tempDir('berth-trust-loose-');
    const fresh = path.join(tempDir('berth-trust-fresh-'), 'a', 'Berth');
    try {
      fs.chmodSync(dataDir, 0o755);
      const p = await serveHuman(port, dataDir);
      const mode = (fs.statSync(dataDir).mode & 0o777).toString(8);
      const said = p.stderr().includes(`The data folder ${dataDir} is open to other users (mode 0755)`) && p.stderr().includes(`chmod 700 '${dataDir}'`);
      await stopBerth(p);
      // Berth changes only what it creates: a folder someone else made 0755 is theirs to close.
      rows.push(row('our data folder, readable by others (0755), not made by Berth', 'left as it is, with the chmod that closes it; serves', `mode now ${mode}; ${said ? 'said so' : 'SILENT'}`, mode === '755' && said));
      const q = await serveHuman(port, fresh);
      const modes = [fresh, path.join(fresh, 'logs')].map((d) => (fs.statSync(d).mode & 0o777).toString(8));
      await stopBerth(q);
      rows.push(row('a fresh data folder', 'created 0700 (and its logs folder)', `data folder ${modes[0]}, logs ${modes[1]}`, modes.every((m) => m === '700')));
    } finally {
      await procs.killAll();
      rmDir(dataDir);
      rmDir(path.dirname(path.dirname(fresh)));
    }
  }
  return rows;
}

/** Links, FIFOs and oversized files where Berth keeps its own: refused or set aside, never followed, never a hang. */
export async function unsafeFiles() {
  const rows = [];
  const inDir = async (prefix, fn) => {
    const port = await freePort();
    const dataDir = tempDir(prefix);
    try {
      await fn(port, dataDir);
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  };
  await inDir('berth-unsafe-fifo-', async (port, dataDir) => {
    execFileSync('mkfifo', [path.join(dataDir, 'settings.json')]);
    const r = await serveOrExit(port, dataDir);
    const said = /settings\.json is a named pipe \(FIFO\)/.test(r.p.stderr());
    rows.push(row('settings.json is a FIFO at start', 'exit 2 at once, naming it (no hang)', `exit ${r.code}; ${said ? 'named' : 'NOT named'}`, r.code === 2 && said));
  });
  await inDir('berth-unsafe-fifo-live-', async (port, dataDir) => {
    const p = await serveHuman(port, dataDir);
    const token = readToken(dataDir);
    execFileSync('mkfifo', [path.join(dataDir, 'settings.json')]);
    const res = await api(port, token, 'GET', '/api/settings').catch((err) => ({ status: err.code, json: null }));
    const still = (await health(port))?.pid === p.pid;
    rows.push(
      row(
        'settings.json becomes a FIFO while serving; GET /api/settings',
        'an error naming the file, at once; the server keeps serving',
        `HTTP ${res.status}: "${String(res.json?.message ?? '').slice(0, 90)}"; server ${still ? 'serving' : 'STALLED'}`,
        res.status === 500 && /named pipe \(FIFO\)/.test(res.json?.message ?? '') && still,
      ),
    );
  });
  await inDir('berth-unsafe-link-', async (port, dataDir) => {
    const outside = tempDir('berth-unsafe-outside-');
    try {
      fs.writeFileSync(path.join(outside, 'token'), crypto.randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
      fs.symlinkSync(path.join(outside, 'token'), path.join(dataDir, 'auth-token'));
      const r = await serveOrExit(port, dataDir);
      const said = /auth-token is a symbolic link/.test(r.p.stderr());
      rows.push(row('auth-token is a symbolic link to a token elsewhere', 'exit 2; the linked token is not adopted', `exit ${r.code}${r.served ? ' (it SERVED)' : ''}; ${said ? 'named' : 'NOT named'}`, r.code === 2 && said));
    } finally {
      rmDir(outside);
    }
  });
  await inDir('berth-unsafe-log-', async (port, dataDir) => {
    const outside = tempDir('berth-unsafe-outside-');
    const target = path.join(outside, 'precious.txt');
    try {
      fs.writeFileSync(target, 'precious\n');
      fs.mkdirSync(path.join(dataDir, 'logs'), { mode: 0o700 });
      fs.symlinkSync(target, path.join(dataDir, 'logs', 'berth.log'));
      const p = await serveHuman(port, dataDir);
      await stopBerth(p);
      const intact = fs.readFileSync(target, 'utf8') === 'precious\n';
      const aside = fs.readdirSync(path.join(dataDir, 'logs')).some((f) => f.startsWith('berth.log.aside-'));
      const real = fs.lstatSync(path.join(dataDir, 'logs', 'berth.log')).isFile();
      rows.push(row('logs/berth.log is a symbolic link to another file', 'the link is set aside and said so; the other file is untouched', `other file ${intact ? 'untouched' : 'WRITTEN'}; link ${aside ? 'set aside' : 'NOT set aside'}; new log ${real ? 'is a file' : 'MISSING'}`, intact && aside && real && /It was moved to/.test(p.stderr())));
    } finally {
      rmDir(outside);
    }
  });
  await inDir('berth-unsafe-big-', async (port, dataDir) => {
    const big = '{"pad":"' + 'x'.repeat(40 * 1000 * 1000) + '"}';
    fs.writeFileSync(path.join(dataDir, 'settings.json'), big, { mode: 0o600 });
    const p = await serveHuman(port, dataDir);
    const s = await api(port, readToken(dataDir), 'GET', '/api/settings');
    const aside = fs.readdirSync(dataDir).find((f) => f.startsWith('settings.json.corrupt-'));
    const kept = aside ? fs.statSync(path.join(dataDir, aside)).size === big.length : false;
    const said = /settings\.json was 40\.0 MB, far more than a settings file may be/.test(p.stderr());
    await stopBerth(p);
    rows.push(row('a 40 MB settings.json', 'not read: kept aside whole, defaults used, said so', `aside ${kept ? 'whole' : 'MISSING'}; defaults ${s.json?.settings?.port === 8787 ? 'in use' : 'NOT used'}; ${said ? 'said so' : 'SILENT'}`, kept && said && s.json?.settings?.port === 8787));
  });
  return rows;
}

/** A full disk: the first start, the start after, and saves that cannot be written. */
export async function fullDisk({ saves = 21 } = {}) {
  const disk = smallDisk();
  if (!disk.dir) return [row('full disk', 'clear messages; no empty or temp files', `skipped: ${disk.reason}`, true, { skipped: true })];
  const rows = [];
  const port = await freePort();
  const dataDir = path.join(disk.dir, 'data');
  try {
    fs.mkdirSync(dataDir, { mode: 0o700 });
    disk.fill();
    const a = await serveHuman(port, dataDir);
    await stopBerth(a);
    const left = fs.readdirSync(dataDir);
    const said = /Could not create .*auth-token: the disk is full \(ENOSPC\); using a token kept in memory/.test(a.stderr());
    rows.push(
      row(
        'first start on a full disk',
        'serves with a token in memory and says the disk is full; leaves no auth-token and no temp file',
        `auth-token ${left.includes('auth-token') ? `LEFT (${fs.statSync(path.join(dataDir, 'auth-token')).size} bytes)` : 'not left'}; temp files ${temps(dataDir).length}; ${said ? 'said why' : 'SILENT'}`,
        !left.includes('auth-token') && temps(dataDir).length === 0 && said,
      ),
    );
    disk.free();
    const b = await serveHuman(port, dataDir);
    const token = readToken(dataDir);
    const misleading = /Could not (read|create)|did not hold a valid token/.test(b.stderr());
    rows.push(row('the next start, with space again', 'makes the token, no misleading message', `token ${/^[\w-]{43}$/.test(token) ? 'made' : 'MISSING'}; message ${misleading ? `MISLEADING: "${firstLine(b.stderr())}"` : 'none'}`, /^[\w-]{43}$/.test(token) && !misleading));
    disk.fill();
    const statuses = new Map();
    let named = 0;
    const settingsFile = path.join(dataDir, 'settings.json');
    for (let i = 0; i < saves; i++) {
      const r = await api(port, token, 'PUT', '/api/settings', { launchAtLogin: i % 2 === 0 });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.json?.message?.startsWith(`Could not save settings to ${settingsFile}: the disk is full (ENOSPC).`)) named++;
    }
    const left2 = temps(dataDir).length;
    rows.push(
      row(
        `${saves} settings saves on a full disk`,
        'each answered 507 naming the file and the cause; no temp files left',
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${named}/${saves} named file and cause; temp files left ${left2}`,
        statuses.get(507) === saves && named === saves && left2 === 0,
      ),
    );
    await stopBerth(b);
  } finally {
    await procs.killAll();
    disk.unmount();
  }
  return rows;
}

/** Saves that cannot be written say what failed and where. */
export async function saveFailures() {
  const rows = [];
  const put = (port, token) => api(port, token, 'PUT', '/api/settings', { launchAtLogin: true });
  const judge = (name, r, re, file, status = 500) =>
    row(name, `HTTP ${status} naming the file and the cause`, `HTTP ${r.status}: "${String(r.json?.message ?? r.text).slice(0, 110)}"`, r.status === status && String(r.json?.message).includes(file) && re.test(r.json?.message ?? ''));
  if (isRoot() && tryRun('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', '0'])) {
    // Root writes through a read-only folder: run Berth as nobody, in a folder of nobody's.
    const port = await freePort();
    const dataDir = tempDir('berth-save-ro-');
    try {
      fs.chownSync(dataDir, NOBODY_ID, NOBODY_ID);
      const p = await serveHuman(port, dataDir, [], { wrap: NOBODY, marker: dataDir });
      fs.chmodSync(dataDir, 0o500);
      const r = await put(port, readToken(dataDir));
      rows.push(judge('as user nobody: save into a read-only data folder', r, /permission denied \(EACCES\)/, path.join(dataDir, 'settings.json')));
      fs.chmodSync(dataDir, 0o700);
      await stopBerth(p);
    } finally {
      fs.chmodSync(dataDir, 0o700);
      await procs.killAll();
      rmDir(dataDir);
    }
  } else rows.push(row('as user nobody: save into a read-only data folder', 'HTTP 500 naming the file and the cause', 'skipped: needs root and setpriv to run as nobody', true, { skipped: true }));
  if (readOnlyMethod().method === 'chattr') {
    const port = await freePort();
    const dataDir = tempDir('berth-save-immutable-');
    const file = path.join(dataDir, 'settings.json');
    try {
      fs.writeFileSync(file, '{}\n', { mode: 0o600 });
      const p = await serveHuman(port, dataDir);
      execFileSync('chattr', ['+i', file]);
      const r = await put(port, readToken(dataDir));
      tryRun('chattr', ['-i', file]);
      rows.push(judge('save over an immutable settings.json (chattr +i)', r, /not permitted .*immutable.*\(EPERM\)/, file));
      await stopBerth(p);
    } finally {
      tryRun('chattr', ['-i', file]);
      await procs.killAll();
      rmDir(dataDir);
    }
  } else rows.push(row('save over an immutable settings.json (chattr +i)', 'HTTP 500 naming the file and the cause', 'skipped: no chattr +i here', true, { skipped: true }));
  const disk = smallDisk({ sizeKiB: 64 });
  if (disk.dir) {
    const port = await freePort();
    const dataDir = path.join(disk.dir, 'data');
    try {
      fs.mkdirSync(dataDir, { mode: 0o700 });
      const token = crypto.randomBytes(32).toString('base64url');
      fs.writeFileSync(path.join(dataDir, 'auth-token'), token + '\n', { mode: 0o600 });
      disk.readOnly(true);
      const p = await serveHuman(port, dataDir);
      const r = await put(port, token);
      rows.push(judge('save on a read-only file system', r, /the file system is read-only \(EROFS\)/, path.join(dataDir, 'settings.json')));
      await stopBerth(p);
    } finally {
      await procs.killAll();
      disk.unmount();
    }
  } else rows.push(row('save on a read-only file system', 'HTTP 500 naming the file and the cause', `skipped: ${disk.reason}`, true, { skipped: true }));
  return rows;
}

/** A host beyond loopback from the settings file or the environment: refused without the opt-in, said out loud with it. */
export async function remoteHost() {
  const rows = [];
  const refused = async (name, { settings, env }, re) => {
    const port = await freePort();
    const dataDir = tempDir('berth-remote-');
    try {
      if (settings) fs.writeFileSync(path.join(dataDir, 'settings.json'), JSON.stringify(settings), { mode: 0o600 });
      const r = await serveOrExit(port, dataDir, [], { env });
      const msg = r.p.stderr();
      rows.push(row(name, 'exit 2 with the reason, before listening', `exit ${r.code}${r.served ? ' (it SERVED)' : ''}: "${firstLine(msg).slice(0, 120)}"`, r.code === 2 && re.test(msg)));
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  };
  await refused('settings.json says "host": "0.0.0.0", no opt-in', { settings: { host: '0.0.0.0' } }, /Host 0\.0\.0\.0 from the settings file would let other machines reach Berth.*"allowRemote": true/);
  await refused('BERTH_HOST=0.0.0.0, no opt-in', { env: { BERTH_HOST: '0.0.0.0' } }, /Host 0\.0\.0\.0 from BERTH_HOST would let other machines reach Berth.*BERTH_ALLOW_REMOTE=1/);
  await refused('BERTH_HOST=192.0.2.1 (not this machine), opted in', { env: { BERTH_HOST: '192.0.2.1', BERTH_ALLOW_REMOTE: '1' } }, /Host 192\.0\.2\.1 .*is not an address of this (machine|computer)/);
  {
    const port = await freePort();
    const dataDir = tempDir('berth-remote-');
    try {
      const p = await startServe(port, dataDir, [], { env: { BERTH_HOST: '0.0.0.0', BERTH_ALLOW_REMOTE: '1' } });
      const status = await api(port, readToken(dataDir), 'GET', '/api/status');
      const warned = /Berth listens on every address of this machine \(0\.0\.0\.0\) port \d+ \(from BERTH_HOST, allowed by BERTH_ALLOW_REMOTE\)/.test(p.stderr());
      const printed = p.info.listenAddress === `0.0.0.0:${port}` && p.info.exposed === true;
      const shown = status.json?.exposed === true && status.json?.listenAddress === `0.0.0.0:${port}`;
      await stopBerth(p);
      rows.push(
        row(
          'BERTH_HOST=0.0.0.0 with BERTH_ALLOW_REMOTE=1',
          'serves; warns; prints the real address; the status says exposed',
          `printed ${p.info.listenAddress ?? 'NO listenAddress'} (exposed ${p.info.exposed}); warning ${warned ? 'shown' : 'MISSING'}; status exposed ${status.json?.exposed} at ${status.json?.listenAddress}`,
          warned && printed && shown,
        ),
      );
    } finally {
      await procs.killAll();
      rmDir(dataDir);
    }
  }
  return rows;
}

/** A foreign program's status line and Server header full of escape sequences never reach the terminal raw. */
export async function terminalEscapes() {
  const port = await freePort();
  const dataDir = tempDir('berth-escapes-');
  const reply =
    'HTTP/1.1 200 \x1b[2J\x1b]0;owned\x07OK\r\nServer: evil\x1b[31m\x9b1m\rX\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi';
  const evil = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(Buffer.from(reply, 'latin1')));
  });
  await new Promise((r) => evil.listen(port, '127.0.0.1', r));
  const raw = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
  try {
    const serve = runBerth(['serve', '--port', String(port), '--data-dir', dataDir]);
    const serveCode = await exitWithin(serve, 20_000);
    const status = runBerth(['status', '--port', String(port), '--data-dir', dataDir]);
    const statusCode = await exitWithin(status, 20_000);
    const serveText = serve.stderr() + serve.stdout();
    const statusText = status.stdout() + status.stderr();
    const logs = logText(dataDir);
    const escaped = (t) => t.includes('\\x1b[2J') && t.includes('\\x07');
    return row(
      'foreign server with escape sequences in its status line and Server header',
      'exit 4 and `berth status` print them escaped (\\x1b...), never raw',
      `serve exit ${serveCode}, ${raw.test(serveText) ? 'RAW control bytes' : 'no raw control bytes'}; status exit ${statusCode}, ${raw.test(statusText) ? 'RAW control bytes' : 'no raw control bytes'}: "${firstLine(statusText).slice(0, 80)}"`,
      serveCode === 4 && statusCode === 4 && !raw.test(serveText) && !raw.test(statusText) && escaped(serveText) && escaped(statusText) && !raw.test(logs),
    );
  } finally {
    await new Promise((r) => evil.close(r));
    await procs.killAll();
    rmDir(dataDir);
  }
}

/** Every trust case, in the order the soak's fault table prints them. */
export const trustCases = [
  ['untrusted data folder', untrustedDataDir],
  ['links, FIFOs and oversized files', unsafeFiles],
  ['full disk', () => fullDisk()],
  ['saves that cannot be written', saveFailures],
  ['host beyond loopback', remoteHost],
  ['escape sequences from a foreign server', terminalEscapes],
  ...attackCases,
];
