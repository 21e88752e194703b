#!/usr/bin/env node
'use strict';
// The `berth` command: the compiled CLI in out/, bundled into one file where
// the build made one (it starts faster), else the compiled modules.
// Run `npm run build` after changing the sources.
const fs = require('node:fs');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'out', 'bundle', 'cli.js');
const modules = path.join(__dirname, '..', 'out', 'app', 'cli.js');
const entry = fs.existsSync(bundle) ? bundle : modules;
if (!fs.existsSync(entry)) {
  process.stderr.write('berth: the compiled code is missing; run `npm run build` in the Berth folder first.\n');
  process.exit(1);
}
require(entry)
  .run(process.argv.slice(2))
  .then((code) => process.exit(code));
