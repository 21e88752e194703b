// Bundles the compiled `berth` command (out/app/cli.js) into out/bundle/,
// which bin/berth.js prefers. Node spends most of a start reading and
// compiling code, so the bundle is split where the commands' needs part:
// cli.js holds what every command needs (arguments, config, the probe, the
// client commands), and the server (Fastify, pino and Berth's host) is a
// chunk of its own that only `serve` loads, once its first probe has said it
// will serve (the dynamic import in app/cli/serve.ts is the split point).
// electron-updater stays outside: it loads only where an update can be installed.
// Whitespace and comments go (a third less to read and parse); names and code
// stay as they are, so behaviour and stack-trace names do not change.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = path.join(root, 'out', 'bundle');
fs.rmSync(dir, { recursive: true, force: true });
await build({
  input: { cli: path.join(root, 'out', 'app', 'cli.js') },
  platform: 'node',
  external: [/^node:/, 'electron', 'electron-updater'],
  output: {
    dir,
    format: 'cjs',
    entryFileNames: '[name].js',
    // server.js: what serve loads to serve; shared.js: what it shares with cli.js.
    chunkFileNames: (chunk) => (chunk.isDynamicEntry ? 'server.js' : chunk.name === 'rolldown-runtime' ? '[name].js' : 'shared.js'),
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
    // ASCII only: one non-ASCII character anywhere makes V8 hold the whole 1 MB source as two-byte text,
    // and decoding it on every start cost about 15 ms (docs/STARTUP.md). Escapes keep every value the same.
    charset: 'ascii',
  },
  logLevel: 'warn',
});

// What charset 'ascii' leaves is in comments (licence notices, such as a name
// with an umlaut): written as \u escapes, which in a comment change nothing.
for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.js'))) {
  const file = path.join(dir, name);
  const text = fs.readFileSync(file, 'utf8');
  // eslint-disable-next-line no-control-regex
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) fs.writeFileSync(file, ascii);
}
