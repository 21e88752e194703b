// Another local user against your Berth: the threat docs/SECURITY.md is
// about. Berth runs as the user running the tests (root here); the attacker
// is `nobody`, started with setpriv, and does only what any local account
// can do: connect to loopback ports, read /proc, write in /tmp. Each case
// returns rows for the soak's fault table, like faults.mjs.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, logText, procs, readToken, rmDir, startServe, stopBerth, tempDir } from './common.mjs';

export const NOBODY_ID = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY_ID}`, `--regid=${NOBODY_ID}`, '--clear-groups'];

function row(name, expected, observed, ok, extra = {}) {
  return { name, expected, observed, ok: !!ok, ...extra };
}

/** Why this machine cannot run a case as another user, or null when it can (root, with setpriv). */
export function secondUserProblem() {
  if (process.getuid?.() !== 0) return 'needs root, to start the attacker as nobody with setpriv';
  try {
    execFileSync(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '-e', '0'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'setpriv cannot start a process as nobody here';
  }
}

/**
 * Run an ES module as nobody: `source` is fed on stdin (nobody may not be
 * able to read this checkout), `input` reaches it as process.env.ATTACK
 * (JSON). Resolves with its exit code and what it printed; the last line of
 * stdout is parsed as JSON when it is JSON.
 */
export function asNobody(source, input = {}, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(AS_NOBODY[0], [...AS_NOBODY.slice(1), process.execPath, '--input-type=module', '-'], {
      cwd: '/',
      env: { PATH: process.env.PATH, ATTACK: JSON.stringify(input) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      let result = null;
      try {
        result = JSON.parse(out.trim().split('\n').at(-1));
      } catch {
        // not JSON: the exit code and stderr say what happened
      }
      resolve({ code: code ?? signal, out, err, result });
    });
    child.stdin.end(source);
  });
}

const skipped = (name, expected, why) => [row(name, expected, `skipped: ${why}`, true, { skipped: true })];

// ---------------------------------------------------------------------------

/** Requests as fast as keep-alive allows: `n` of each kind, 8 connections at a time; prints the statuses seen. */
const FLOOD = `
import http from 'node:http';
const { port, n } = JSON.parse(process.env.ATTACK);
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const statuses = {};
const one = (opts) => new Promise((resolve) => {
  const req = http.request({ host: '127.0.0.1', port, agent, ...opts }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode));
  });
  req.on('error', (e) => resolve(e.code));
  req.end();
});
const kinds = [
  { path: '/health', headers: { 'X-Berth-Handoff': 'forged-instance not-a-proof' } },
  { method: 'POST', path: '/api/stop', headers: { 'Content-Length': 0 } },
];
for (const kind of kinds) {
  let left = n;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (left-- > 0) {
      const s = await one(kind);
      const k = kind.path + ' ' + s;
      statuses[k] = (statuses[k] ?? 0) + 1;
    }
  }));
}
console.log(JSON.stringify(statuses));
`;

/**
 * Another user floods the log: forged handoff proofs on /health and requests
 * without the token. Berth counts them: a line at the first, then at most one
 * a minute with the count, and what is left when it stops.
 */
export async function logFlood({ n = 2000 } = {}) {
  const name = `another user sends ${n} forged handoff proofs and ${n} requests without the token`;
  const expected = 'served and refused as usual; a few log lines that count them all, not one line each';
  const problem = secondUserProblem();
  if (problem) return skipped(name, expected, problem);
  const port = await freePort();
  const dataDir = tempDir('berth-attack-flood-');
  try {
    const p = await startServe(port, dataDir);
    const attack = await asNobody(FLOOD, { port, n });
    const statuses = attack.result ?? {};
    await stopBerth(p);
    const lines = logText(dataDir)
      .split('\n')
      .filter((l) => /handoff probe|refused/.test(l))
      .map((l) => JSON.parse(l).msg);
    // The first refusal of a spell is a line of its own; the summaries carry the count of the rest.
    const counted = lines.reduce((sum, l) => sum + (/^refused (?:a handoff probe|401 )/.test(l) ? 1 : 0) + Number(/^refused (\d+) more/.exec(l)?.[1] ?? 0), 0);
    const ok = statuses['/health 200'] === n && statuses['/api/stop 401'] === n && lines.length <= 4 && counted === 2 * n;
    return [
      row(
        name,
        expected,
        `as nobody: ${JSON.stringify(statuses)}; ${lines.length} log line(s) counting ${counted} refusal(s)${lines.length ? `: "${lines.at(-1).slice(0, 120)}"` : ''}`,
        ok,
      ),
    ];
  } finally {
    await procs.killAll();
    rmDir(dataDir);
  }
}

/** Every case, in the order the soak's fault table prints them. */
export const attackCases = [['another user floods the log', () => logFlood()]];

