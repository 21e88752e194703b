import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, health, killBerth, ROOT, tempDataDir, waitFor, type BerthProcess } from '../helpers';
import { spawn } from 'node:child_process';

const procs: BerthProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
});

/** A copy of the built command (bin, out, package.json), so its cache folder is its own. */
function installedCopy(): string {
  const dir = tempDataDir('berth-copy-');
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  for (const part of ['app', 'bundle', 'renderer']) fs.cpSync(path.join(ROOT, 'out', part), path.join(dir, 'out', part), { recursive: true, filter: (f) => !f.includes(`${path.sep}.cache`) });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function serve(copy: string, port: number): BerthProcess {
  const child = spawn(process.execPath, [path.join(copy, 'bin', 'berth.js'), 'serve', '--json', '--port', String(port), '--data-dir', tempDataDir()], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const p = { child, stdout: () => out, stderr: () => err, exited: new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1))) };
  procs.push(p);
  return p;
}

const cacheFiles = (copy: string) => {
  const dir = path.join(copy, 'out', 'bundle', '.cache');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.bin')).map((f) => path.join(dir, f)) : [];
};

describe('the compile cache of the bundled server', () => {
  // Node 22.1+ caches with module.enableCompileCache (its own files, its own checks); this covers Node 20's vm path.
  it.skipIf(!fs.existsSync(path.join(ROOT, 'out', 'bundle', 'server.js')) || 'enableCompileCache' in Module)(
    'a serving Berth leaves one; a damaged one is ignored and replaced, and the server starts all the same',
    async () => {
      const copy = installedCopy();
      const first = serve(copy, await freePort());
      await waitFor(() => first.stdout().includes('"event":"serving"'), 'the first server');
      const [file] = await waitFor(() => (cacheFiles(copy).length === 1 ? cacheFiles(copy) : null), 'the cache to be written');
      await killBerth(first);

      fs.writeFileSync(file!, 'not a V8 code cache');
      const port = await freePort();
      const second = serve(copy, port);
      await waitFor(() => second.stdout().includes('"event":"serving"'), 'a server despite the damaged cache');
      expect((await health(port))?.pid).toBe(second.child.pid);
      await waitFor(() => fs.readFileSync(file!).length > 1000, 'the damaged cache to be replaced');
      expect(cacheFiles(copy)).toEqual([file]);
      expect(second.stderr()).toBe('');
    },
  );
});
