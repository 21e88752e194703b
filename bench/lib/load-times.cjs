// Where a `berth` process spends its time before it does anything useful:
// preload this file and it prints, when the process exits, each module's load
// time (self and including what it loaded) and when the process first
// connected a socket, wrote to the terminal and exited, in ms since Node began.
//
//   node -r ./bench/lib/load-times.cjs bin/berth.js status
//
// Times are from performance.now(), whose origin is the start of the process.
'use strict';
const Module = require('node:module');
const net = require('node:net');
const fs = require('node:fs');

const started = performance.now();
const loads = [];
const stack = [];
const original = Module._load;
Module._load = function load(request, parent, isMain) {
  const cached = Module.isBuiltin(request) ? process.moduleLoadList.includes(`NativeModule ${request.replace(/^node:/, '')}`) : Module._cache[safeResolve(request, parent)] !== undefined;
  const entry = { request, parent: parent?.filename, t0: performance.now(), inclusive: 0, children: 0, cached };
  stack.push(entry);
  try {
    return original.apply(this, arguments);
  } finally {
    stack.pop();
    entry.inclusive = performance.now() - entry.t0;
    if (stack.length) stack.at(-1).children += entry.inclusive;
    if (!cached) loads.push(entry);
  }
};

function safeResolve(request, parent) {
  try {
    return Module._resolveFilename(request, parent);
  } catch {
    return request;
  }
}

const marks = {};
const mark = (name) => (marks[name] ??= performance.now());
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function () {
  mark('first socket connect');
  return connect.apply(this, arguments);
};
const write = process.stdout.write;
process.stdout.write = function () {
  mark('first stdout write');
  return write.apply(this, arguments);
};
const errWrite = process.stderr.write;
process.stderr.write = function () {
  mark('first stderr write');
  return errWrite.apply(this, arguments);
};

process.once('exit', () => {
  mark('exit');
  const short = (p) => (p ?? '').replace(/.*node_modules\//, '').replace(/.*\/(out|bin)\//, '$1/');
  const lines = [`\n-- load-times: preload ready at ${started.toFixed(1)} ms`];
  for (const [k, v] of Object.entries(marks).sort((a, b) => a[1] - b[1])) lines.push(`  ${k.padEnd(22)} ${v.toFixed(1)} ms`);
  const top = loads.filter((l) => l.inclusive >= 0.3).sort((a, b) => b.inclusive - a.inclusive).slice(0, 25);
  lines.push(`  ${loads.length} modules loaded; the slowest (ms, self / including what they loaded):`);
  for (const l of top) lines.push(`  ${(l.inclusive - l.children).toFixed(1).padStart(7)} ${l.inclusive.toFixed(1).padStart(7)}  ${short(l.request)}  (from ${short(l.parent)})`);
  fs.writeSync(2, lines.join('\n') + '\n');
});
