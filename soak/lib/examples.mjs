// The example apps (examples/) under load, as a person's own app would run:
// its own command (`notes serve`), in-place restarts, relaunches and, for the
// child server, restarts of the child, while keep-alive and new-connection
// clients count every request that fails (soak/lib/strict-load.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, alive, api, freePort, health, jsonLines, logText, readToken, rmDir, runNode, sleep, tempDir, waitFor } from './common.mjs';
import { startLoad } from './strict-load.mjs';

export const EXAMPLES = {
  notes: { dir: path.join(ROOT, 'examples', 'notes'), cli: 'out/cli.js', paths: ['/api/notes', '/', '/notes.js', '/health'] },
  bookmarks: { dir: path.join(ROOT, 'examples', 'bookmarks-python'), cli: 'cli.js', paths: ['/api/bookmarks', '/', '/healthz', '/health'] },
};

/** The Python interpreter itself (`python3` may be a version manager's shim that takes a second to start). */
export function pythonExecutable() {
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/**
 * Make an example runnable from this checkout: `berth` in its node_modules is
 * this repo (what `npm install` does for its "file:../.." dependency), and the
 * TypeScript one is compiled with the repo's compiler. `npm run build` first.
 */
export function prepareExample(name) {
  const { dir } = EXAMPLES[name];
  const link = path.join(dir, 'node_modules', 'berth');
  if (!fs.existsSync(link)) {
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.relative(path.dirname(link), ROOT), link, 'dir');
  }
  if (fs.existsSync(path.join(dir, 'tsconfig.json'))) compileExample(dir);
}

/**
 * Compile a TypeScript example, unless its out/ was compiled after its
 * sources and Berth's types (out/types, from `npm run build`) last changed:
 * several test files prepare the same example, and tsc takes long on a loaded
 * machine. The compiler writes into a folder of its own and each file is
 * renamed into out/, so an example started by one test file never reads a
 * file another is still writing.
 */
function compileExample(dir) {
  const out = path.join(dir, 'out');
  const stamp = path.join(out, '.compiled');
  const inputs = Math.max(newestIn(path.join(dir, 'src')), fs.statSync(path.join(dir, 'tsconfig.json')).mtimeMs, newestIn(path.join(ROOT, 'out', 'types')));
  if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs > inputs) return;
  fs.mkdirSync(out, { recursive: true });
  const next = fs.mkdtempSync(path.join(out, '.next-'));
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--outDir', next], { stdio: 'inherit' });
    for (const entry of fs.readdirSync(next, { recursive: true, withFileTypes: true })) {
      const rel = path.relative(next, path.join(entry.parentPath ?? entry.path, entry.name));
      if (entry.isDirectory()) fs.mkdirSync(path.join(out, rel), { recursive: true });
      else fs.renameSync(path.join(next, rel), path.join(out, rel));
    }
    fs.writeFileSync(stamp, '');
  } finally {
    fs.rmSync(next, { recursive: true, force: true });
  }
}

/** The latest modification time of the files under `dir` (0 when there are none). */
function newestIn(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) latest = Math.max(latest, fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return latest;
}

/**
 * Serve an example and put it through `restarts` in-place restarts,
 * `relaunches` relaunches and `childRestarts` restarts of its child server,
 * one after another, under load. Returns the load's count of failed
 * requests and the latencies (the longest is the longest a request waited).
 */
export async function runExample(name, { restarts = 0, relaunches = 0, childRestarts = 0, log = () => undefined } = {}) {
  const ex = EXAMPLES[name];
  const dataDir = tempDir(`berth-example-${name}-`);
  const port = await freePort();
  const outFile = path.join(dataDir, 'serve.out');
  const env = { BERTH_PYTHON: pythonExecutable() };
  const first = runNode(path.join(ex.dir, ex.cli), ['serve', '--json', '--port', String(port), '--data-dir', dataDir], { env, outFile, marker: dataDir });
  const pids = new Set([first.pid]);
  try {
    await waitFor(() => jsonLines(first.stdout()).find((l) => l.event === 'serving'), `${name} to serve`, 30_000);
    const token = readToken(dataDir);
    const auth = { Authorization: `Bearer ${token}` };
    // Serving, and (for a child server) its child answering, before the clock starts.
    await waitFor(async () => (await api(port, token, 'GET', ex.paths[0])).status === 200, `${name} to answer ${ex.paths[0]}`, 30_000);
    const load = startLoad({ port, paths: ex.paths, headers: auth, keepAlive: 4, fresh: 4 });
    await load.ready;
    await load.progressed(50);
    const history = async () => (await api(port, token, 'GET', '/api/status')).json.history;
    // The status keeps the last 50 entries of the history: a restart is known by a new last entry, not by a count.
    const lastRestart = async () => (await history()).findLast((h) => h.kind === 'restart')?.at ?? null;
    for (let i = 0; i < restarts; i++) {
      const before = await lastRestart();
      if ((await api(port, token, 'POST', '/api/restart')).status !== 200) throw new Error('restart refused');
      await waitFor(async () => (await lastRestart()) !== before, `in-place restart ${i + 1}`);
      if (i % 10 === 9) log(`${name}: ${i + 1} in-place restarts`);
    }
    await load.progressed(20);
    for (let i = 0; i < relaunches; i++) {
      const was = await health(port);
      if ((await api(port, token, 'POST', '/api/relaunch')).status !== 200) throw new Error('relaunch refused');
      const next = await waitFor(async () => {
        const h = await health(port);
        return h && h.instance !== was.instance && h.state === 'serving' ? h : null;
      }, `relaunch ${i + 1}`, 30_000);
      pids.add(next.pid);
      // The predecessor (and its child server) gone before the next one; the process started here stays,
      // waiting on its successor (app/cli/foreground.ts), once it has handed over.
      if (was.pid !== first.pid) await waitFor(() => !alive(was.pid), `the process before relaunch ${i + 1} to exit`, 30_000);
      await load.progressed(20);
      if (i % 5 === 4) log(`${name}: ${i + 1} relaunches`);
    }
    for (let i = 0; i < childRestarts; i++) {
      const app = async () => (await api(port, token, 'GET', '/api/app')).json;
      const before = (await app()).child.restarts;
      if ((await api(port, token, 'POST', '/api/app/restart')).status !== 202) throw new Error('child restart refused');
      await waitFor(async () => {
        const a = await app();
        return a.child.restarts > before && a.child.state === 'ready';
      }, `child restart ${i + 1}`, 30_000);
      await load.progressed(20);
    }
    const summary = await load.stop();
    // What the server said about requests it could not answer, for a report that has failures.
    const unanswered = logText(dataDir).split('\n').filter((l) => l.includes('did not answer')).slice(0, 5);
    return { example: name, restarts, relaunches, childRestarts, ...summary, ...(unanswered.length ? { unanswered } : {}) };
  } finally {
    const token = fs.existsSync(path.join(dataDir, 'auth-token')) ? readToken(dataDir) : null;
    if (token) await api(port, token, 'POST', '/api/stop').catch(() => null);
    await waitFor(() => ![...pids].some(alive), `${name}'s processes to exit`, 15_000).catch(() => {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    await sleep(50);
    rmDir(dataDir);
  }
}
