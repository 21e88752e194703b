#!/usr/bin/env node
'use strict';
// The `berth` command: the compiled CLI in out/, bundled (out/bundle/) where
// the build made the bundle, else the compiled modules. Run `npm run build`
// after changing the sources.
const fs = require('node:fs');
const path = require('node:path');

const out = path.join(__dirname, '..', 'out');
const bundle = path.join(out, 'bundle');
let entry = path.join(bundle, 'cli.js');
if (!fs.existsSync(entry)) entry = path.join(out, 'app', 'cli.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('berth: The compiled code is missing; run `npm run build` in the Berth folder first.\n');
  process.exit(1);
}
// Only a server loads enough code for a compile cache to pay (docs/STARTUP.md).
let cache = null;
if (entry.startsWith(bundle) && process.argv.includes('serve')) {
  const compileCache = require(path.join(out, 'app', 'compile-cache.js'));
  cache = compileCache.enableCompileCache([path.join(bundle, 'server.js')], { dirs: () => compileCache.cacheDirs(bundle) });
}
require(entry)
  .run(process.argv.slice(2), { serving: () => cache && cache.save() })
  .then((code) => process.exit(code));
