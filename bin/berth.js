#!/usr/bin/env node
'use strict';
// The `berth` command: the compiled CLI in out/ (run `npm run build` after changing the sources).
let cli;
try {
  cli = require('../out/app/cli.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && /out[\\/]app[\\/]cli/.test(String(err.message))) {
    process.stderr.write('berth: the compiled code is missing; run `npm run build` in the Berth folder first.\n');
    process.exit(1);
  }
  throw err;
}
cli.run(process.argv.slice(2)).then((code) => process.exit(code));
