#!/usr/bin/env node
// `notes serve | status | stop | restart | open`: Notes without the desktop shell.
import { runCli } from 'berth';
import app from './app';

void runCli(app).then((code) => process.exit(code));
