#!/usr/bin/env node
// What `npm start` runs after the build: the desktop app through the electron
// package's binary. Where Electron cannot run (the binary is not installed, or
// Linux has no display), it says so in one line and runs the same server
// headless (`berth serve`) with the same arguments, so the command still
// serves the web UI.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Electron binary the electron package points at, or why there is none.
 * In plain Node, require('electron') is that path (electron/index.js), and it
 * throws when the package's postinstall never downloaded the binary.
 */
export function findElectron(requireFrom = createRequire(path.join(ROOT, 'package.json'))) {
  let binary;
  try {
    binary = requireFrom('electron');
  } catch (err) {
    if (err?.code === 'MODULE_NOT_FOUND') return { missing: 'the Electron runtime is not installed (no electron package)' };
    // electron/index.js throws "Electron failed to install correctly" when its postinstall download never ran.
    return { missing: 'the Electron runtime is not installed (node_modules/electron has no binary)' };
  }
  if (typeof binary !== 'string' || !fs.existsSync(binary)) {
    return { missing: `the Electron runtime is not installed (no binary at ${binary})` };
  }
  return { binary };
}

/** Electron, or the headless server and the reason: a pure decision, tested directly. */
export function chooseRuntime({ electron, platform, env }) {
  if (!electron.binary) return { kind: 'headless', reason: electron.missing };
  // Linux: Electron needs an X11 or Wayland display to open its window and tray.
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return { kind: 'headless', reason: 'there is no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset)' };
  }
  return { kind: 'electron', binary: electron.binary };
}

/** The command line for each runtime; `args` are what followed `npm start --`. */
export function commandFor(choice, args, nodePath = process.execPath) {
  if (choice.kind === 'electron') return { file: choice.binary, args: [ROOT, ...args] };
  return { file: nodePath, args: [path.join(ROOT, 'bin', 'berth.js'), 'serve', ...args] };
}

const SIGNAL_CODES = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Run the child in the foreground and pass its exit status on. POSIX: the
 * child gets its own process group, so a terminal's Ctrl+C reaches it once
 * (through us) rather than twice, which Berth would read as "exit now".
 * Windows: the console delivers Ctrl+C to the child itself.
 */
function runForeground({ file, args }) {
  const env = { ...process.env };
  // Set by some tools; it would make Electron behave as plain Node.
  delete env.ELECTRON_RUN_AS_NODE;
  const posix = process.platform !== 'win32';
  const child = spawn(file, args, { stdio: 'inherit', env, detached: posix, windowsHide: false });
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    if (posix) process.on(s, () => forward(s));
    else process.on(s, () => undefined);
  }
  child.once('error', (err) => {
    process.stderr.write(`berth: could not start ${file}: ${err.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? 128 + (SIGNAL_CODES[signal] ?? 1)));
}

function main() {
  const args = process.argv.slice(2);
  const choice = chooseRuntime({ electron: findElectron(), platform: process.platform, env: process.env });
  if (choice.kind === 'headless') process.stderr.write(`berth: ${choice.reason}; running the server headless instead (berth serve ${args.join(' ')}`.trimEnd() + ').\n');
  runForeground(commandFor(choice, args));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
