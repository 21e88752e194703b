// Bundles the compiled `berth` command (out/app/cli.js) into one file,
// out/bundle/cli.js, which bin/berth.js prefers. Node spends most of a
// headless start resolving and reading hundreds of small module files; one
// file halves that (bench: relaunch and duplicate start). electron-updater
// stays outside: it is loaded only when an update can be installed.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
await build({
  input: path.join(root, 'out', 'app', 'cli.js'),
  platform: 'node',
  external: [/^node:/, 'electron', 'electron-updater'],
  output: { file: path.join(root, 'out', 'bundle', 'cli.js'), format: 'cjs' },
  logLevel: 'warn',
});
