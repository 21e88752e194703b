// Faults, each with the outcome Berth promises, checked against real
// processes: kills and stops at bad moments, a port stolen between probe and
// bind, a read-only or damaged data directory, and crashes during a save.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  LIB, alive, api, health, jsonLines, logText, procs, rawExchange, readText, readToken, runBerth, runNode, sleep, startServe, stopBerth,
  tempDir, freePort, rmDir, waitFor,
} from './common.mjs';
import { listenersAsync } from './procfs.mjs';

const FIXTURES = path.join(LIB, '..', 'fixtures');

function row(name, expected, observed, ok, extra = {}) {
  return { name, expected, observed, ok: !!ok, ...extra };
}

/** `berth serve` without --json, so warnings reach stderr; resolves once its own pid answers /health. */
async function serveHuman(port, dataDir, extra = [], opts = {}) {
  const p = runBerth(['serve', '--port', String(port), '--data-dir', dataDir, ...extra], opts);
  await Promise.race([
    waitFor(async () => (await health(port))?.pid === p.pid, `berth serve pid ${p.pid} to serve`, 20_000),
    p.exited.then((code) => {
      throw new Error(`berth serve exited ${code} before serving:\n${p.stdout()}\n${p.stderr()}`);
    }),
  ]);
  return p;
}

/** The handoff note a relaunching Berth leaves in its data directory (the built app's own writer). */
function leaveNoteFor(dataDir, handoff) {
  const { writeHandoffNote, newSecret } = createRequire(import.meta.url)(path.join(LIB, '..', '..', 'out', 'app', 'lifecycle', 'handoff.js'));
  writeHandoffNote(dataDir, { v: 1, ...handoff, secret: newSecret(), version: '', writtenAt: Date.now(), closedAt: null, history: [] });
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
    await waitFor(async () => (await health(port, '127.0.0.1', 300))?.pid !== a.pid, 'the predecessor to close its listener', 10_000, 2);
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
    const ok = accepted.status === 202 && aliveMidDrain && aExit === 'SIGKILL' && successor && status?.handoffFrom === a.info.instance && (await listenersAsync(port)) !== 0;
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
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o444);
    fs.chmodSync(dir, 0o555);
  }
}

function makeWritable(dir, method) {
  if (method === 'chattr') tryRun('chattr', ['-R', '-i', dir]);
  else fs.chmodSync(dir, 0o755);
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
      if (how.method === 'nobody') {
        fs.chmodSync(dataDir, 0o755);
        for (const f of Object.keys(c.files)) fs.chownSync(path.join(dataDir, f), 65534, 65534);
      }
      const before = snapshot(dataDir);
      makeReadOnly(dataDir, how.method);
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
          mode === '600' && code === 2 && /No token in/.test(stop.stderr()) && still,
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
