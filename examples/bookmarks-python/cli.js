#!/usr/bin/env node
// `bookmarks serve | status | stop | restart | open`: Bookmarks without the desktop shell.
const { runCli } = require('berth');

void runCli(require('./app')).then((code) => process.exit(code));
