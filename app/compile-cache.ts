import { isAscii } from 'node:buffer';
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';

/**
 * A V8 code cache for the server chunk of the bundled `berth` command
 * (out/bundle/server.js, about 1 MB of Fastify, pino and Berth's host), so a
 * starting server, a relaunch's successor above all, does not parse and
 * compile it again each time. bench/startup.mjs and docs/STARTUP.md have the
 * figures. Node 22.1+ has this built in (module.enableCompileCache), which is
 * used where it exists; on Node 20 the chunk is compiled through vm.Script
 * with cachedData, the mechanism that built-in cache uses.
 *
 * The cache lives beside the bundle (out/bundle/.cache, which the build
 * clears) or, where that folder is read-only (an installed copy), in the
 * user's cache folder. A cache V8 rejects (another Node, another build) is
 * ignored and replaced.
 */

interface CompileCacheModule {
  enableCompileCache?: (dir?: string) => unknown;
}

type ModuleInternals = typeof Module & {
  prototype: { _compile(this: NodeJS.Module, content: string, filename: string): unknown; require(id: string): unknown };
  wrap(script: string): string;
  _resolveFilename(request: string, parent: NodeJS.Module, isMain: boolean, options?: { paths?: string[] }): string;
  _cache: Record<string, NodeJS.Module>;
  _extensions: Record<string, unknown>;
};

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only once a cached file is compiled: a refused `berth serve` never needs them */
const os = () => require('node:os') as typeof import('node:os');
const vm = () => require('node:vm') as typeof import('node:vm');
/* eslint-enable @typescript-eslint/no-require-imports */

/** Where caches go: beside the bundle if it can be written there, else the user's cache folder. */
export function cacheDirs(bundleDir: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform, home = os().homedir()): string[] {
  const user =
    platform === 'win32'
      ? path.join(env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'Berth', 'Cache')
      : platform === 'darwin'
        ? path.join(home, 'Library', 'Caches', 'Berth')
        : path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'berth');
  return [path.join(bundleDir, '.cache'), path.join(user, 'compile')];
}

export interface CompileCache {
  kind: 'node' | 'vm' | 'off';
  /**
   * Write what is not cached yet, now. Call it once start-up is over (when
   * serving) and before changing V8 flags: V8 accepts a cache only under the
   * flags it was made with, and the next start compiles before any change.
   */
  save(): void;
}

interface ModuleWithFlush {
  flushCompileCache?: () => void;
}

/**
 * Cache the compiled code of `files` (absolute paths of CommonJS files loaded
 * later by require); `dirs` is asked only when one is compiled. A cache is
 * written by save(), or `saveAfterMs` after loading if nothing calls save().
 */
export function enableCompileCache(files: string[], opts: { dirs: () => string[]; saveAfterMs?: number }): CompileCache {
  if (process.env.BERTH_COMPILE_CACHE === '0') return { kind: 'off', save: () => undefined };
  const builtIn = (Module as unknown as CompileCacheModule).enableCompileCache;
  if (builtIn) {
    builtIn(opts.dirs()[0]);
    return { kind: 'node', save: () => (Module as unknown as ModuleWithFlush).flushCompileCache?.() };
  }
  const M = Module as ModuleInternals;
  const wanted = new Set(files);
  const pending = new Set<() => void>();
  const compile = M.prototype._compile;
  M.prototype._compile = function (this: NodeJS.Module, content: string, filename: string) {
    if (!wanted.has(filename)) return compile.call(this, content, filename);
    return compileCached(this, content, filename, opts.dirs(), opts.saveAfterMs ?? 5000, pending);
  };
  // Node reads a module as UTF-8, which for the 1 MB chunk costs about 10 ms more than the read itself;
  // the build makes the chunks ASCII only, and ASCII needs no decoding (latin1 is a plain copy).
  const extensions = M._extensions as Record<string, (m: NodeJS.Module, filename: string) => unknown>;
  const loadJs = extensions['.js']!;
  extensions['.js'] = function (this: unknown, m: NodeJS.Module, filename: string) {
    if (!wanted.has(filename)) return loadJs.call(this, m, filename);
    const bytes = fs.readFileSync(filename);
    return (m as NodeJS.Module & { _compile(content: string, filename: string): unknown })._compile(isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8'), filename);
  };
  return {
    kind: 'vm',
    save: () => {
      for (const write of pending) write();
    },
  };
}

function compileCached(mod: NodeJS.Module, content: string, filename: string, dirs: string[], saveAfterMs: number, pending: Set<() => void>): unknown {
  const M = Module as ModuleInternals;
  const st = fs.statSync(filename);
  // Another build or another Node needs another cache; V8 itself also refuses one made for another version.
  const name = `${path.basename(filename, '.js')}-${st.size}-${Math.round(st.mtimeMs)}-${process.version}-${process.arch}.bin`;
  const cached = readFirst(dirs.map((d) => path.join(d, name)));
  const script = new (vm().Script)(M.wrap(content), { filename, cachedData: cached ?? undefined });
  if (!cached || script.cachedDataRejected) {
    // Later, once start-up has compiled what it runs (save()), or after a while; never keeping the process alive for it.
    const write = () => {
      pending.delete(write);
      clearTimeout(timer);
      writeFirst(dirs, name, script.createCachedData());
    };
    const timer = setTimeout(write, saveAfterMs).unref();
    pending.add(write);
  }
  const dirname = path.dirname(filename);
  const req = ((id: string) => M.prototype.require.call(mod, id)) as NodeJS.Require;
  req.resolve = ((request: string, options?: { paths?: string[] }) => M._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
  req.main = require.main;
  req.cache = M._cache;
  req.extensions = M._extensions as NodeJS.RequireExtensions;
  const fn = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
  return fn.call(mod.exports, mod.exports, req, mod, filename, dirname);
}

function readFirst(files: string[]): Buffer | null {
  for (const f of files) {
    try {
      return fs.readFileSync(f);
    } catch {
      // not there: the next place, or no cache yet
    }
  }
  return null;
}

function writeFirst(dirs: string[], name: string, data: Buffer): void {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const old of fs.readdirSync(dir)) {
        // Caches of earlier builds of the same chunk.
        if (old !== name && old.startsWith(name.split('-')[0]! + '-') && old.endsWith('.bin')) fs.rmSync(path.join(dir, old), { force: true });
      }
      fs.writeFileSync(tmp, data, { mode: 0o600 });
      fs.renameSync(tmp, file);
      return;
    } catch {
      // A cache is only ever a saving: a folder we may not even look into (another user's) is passed over.
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // nothing of ours is there
      }
    }
  }
}
