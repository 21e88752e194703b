#!/usr/bin/env node
// What `npm start` runs after the build: the desktop app through the electron
// package's binary. The repository's .npmrc sets ignore-scripts, so on a fresh
// clone that binary was never downloaded: fetch it once with electron's own
// installer, then start the app. Where Electron still cannot run (no network,
// or Linux without a display) say why in one line and run the same server
// headless (`berth serve`) with the same arguments, so the command always
// serves the web UI.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** How long the download host gets to answer before `npm start` gives up on it and runs headless. */
export const REACH_TIMEOUT_MS = 3_000;

const DEFAULT_MIRROR = 'https://github.com/electron/electron/releases/download/';

/** node_modules/electron, or null when the package is not installed at all. */
export function electronPackageDir(root = ROOT) {
  try {
    return path.dirname(createRequire(path.join(root, 'package.json')).resolve('electron/package.json'));
  } catch {
    return null;
  }
}

/**
 * The Electron binary the electron package points at, or why there is none and
 * whether downloading it would help. In plain Node, require('electron') is that
 * path (electron/index.js), and it throws when the package's install script
 * never downloaded the binary.
 */
export function findElectron(requireFrom = createRequire(path.join(ROOT, 'package.json')), env = process.env) {
  let binary;
  try {
    binary = requireFrom('electron');
  } catch (err) {
    if (err?.code === 'MODULE_NOT_FOUND') return { missing: 'the Electron runtime is not installed (no electron package)', fetchable: false };
    // electron/index.js throws "Electron failed to install correctly" when its download never ran.
    return { missing: 'the Electron runtime is not installed (node_modules/electron has no binary)', fetchable: true };
  }
  if (typeof binary !== 'string' || !fs.existsSync(binary)) {
    // A binary the user pointed at themselves is not something electron's installer can put there.
    if (env.ELECTRON_OVERRIDE_DIST_PATH) return { missing: `the Electron runtime is not installed (no binary at ${binary}, from ELECTRON_OVERRIDE_DIST_PATH)`, fetchable: false };
    return { missing: `the Electron runtime is not installed (no binary at ${binary})`, fetchable: true };
  }
  return { binary };
}

/**
 * What to run: Electron, a download of Electron first, or the headless server
 * and the reason. A pure decision, tested directly.
 */
export function chooseRuntime({ electron, platform, env }) {
  // Linux: Electron needs an X11 or Wayland display to open its window and tray; without one a download would not help.
  if (platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return { kind: 'headless', reason: 'there is no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset)' };
  }
  if (electron.binary) return { kind: 'electron', binary: electron.binary };
  if (!electron.fetchable) return { kind: 'headless', reason: electron.missing };
  // electron's own installer honours this too; it means "never download".
  if (env.ELECTRON_SKIP_BINARY_DOWNLOAD) return { kind: 'headless', reason: `${electron.missing}, and ELECTRON_SKIP_BINARY_DOWNLOAD is set` };
  return { kind: 'fetch', reason: electron.missing };
}

/** The command line for each runtime; `args` are what followed `npm start --`. */
export function commandFor(choice, args, nodePath = process.execPath, root = ROOT) {
  if (choice.kind === 'electron') return { file: choice.binary, args: [root, ...args] };
  return { file: nodePath, args: [path.join(root, 'bin', 'berth.js'), 'serve', ...args] };
}

/** The one line `npm start` prints before running headless. */
export function headlessNotice(reason, args) {
  return `berth: ${reason}; running the server headless instead (${['berth serve', ...args].join(' ')}).`;
}

/**
 * Where electron's installer will get the binary: the URL (with any mirror
 * set in npm config or ELECTRON_MIRROR) and whether @electron/get already
 * has the file in its cache. Worked out by @electron/get's own modules, the
 * ones install.js downloads with.
 */
export async function electronDownload(electronDir, env = process.env) {
  const { version } = JSON.parse(fs.readFileSync(path.join(electronDir, 'package.json'), 'utf8'));
  const platform = env.npm_config_platform || process.platform;
  const details = { version, artifactName: 'electron', platform, arch: env.npm_config_arch || process.arch };
  let url = `${DEFAULT_MIRROR}v${version}/electron-v${version}-${platform}-${details.arch}.zip`;
  let cached = false;
  try {
    const requireGet = createRequire(createRequire(path.join(electronDir, 'package.json')).resolve('@electron/get'));
    const artifacts = requireGet('./artifact-utils');
    const { Cache } = requireGet('./Cache');
    const { getNodeArch } = requireGet('./utils');
    details.arch = getNodeArch(details.arch);
    details.version = artifacts.getArtifactVersion(details);
    url = await artifacts.getArtifactRemoteURL(details);
    cached = fs.existsSync(new Cache(env.electron_config_cache || undefined).getCachePath(url, artifacts.getArtifactFileName(details)));
  } catch {
    // A future @electron/get laid out differently: assume the default host and no cache.
  }
  return { version, platform, arch: details.arch, url, cached };
}

/**
 * Can the download start? One HEAD request to the file's URL (any HTTP
 * answer, a redirect included, means the host is there), bounded by
 * `timeoutMs`. Returns null, or why not in a few words. With no network this
 * fails at once (no DNS) or at the timeout (a network that drops packets).
 */
export function reach(url, { timeoutMs = REACH_TIMEOUT_MS, env = process.env } = {}) {
  const target = new URL(url);
  const host = target.host;
  const proxy = env.ELECTRON_GET_USE_PROXY ? env.GLOBAL_AGENT_HTTPS_PROXY || env.HTTPS_PROXY || env.https_proxy || env.GLOBAL_AGENT_HTTP_PROXY || env.HTTP_PROXY || env.http_proxy : null;
  return new Promise((resolve) => {
    let settled = false;
    const done = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(why);
    };
    const timer = setTimeout(() => {
      done(`${proxy ? `the proxy for ${host}` : host} did not answer within ${timeoutMs / 1000} s`);
      req?.destroy();
      sock?.destroy();
    }, timeoutMs);
    let req = null;
    let sock = null;
    const failed = (err) => done(describeNetError(err, proxy ? new URL(proxy).host : host));
    if (proxy) {
      // @electron/get goes through this proxy (global-agent) when ELECTRON_GET_USE_PROXY is set: check that it answers.
      const p = new URL(proxy);
      sock = net.connect({ host: p.hostname, port: Number(p.port) || (p.protocol === 'https:' ? 443 : 80) }, () => {
        sock.destroy();
        done(null);
      });
      sock.once('error', failed);
      return;
    }
    const lib = target.protocol === 'http:' ? http : https;
    req = lib.request(target, { method: 'HEAD', agent: false }, (res) => {
      res.resume();
      done(null);
    });
    req.once('error', failed);
    req.end();
  });
}

function describeNetError(err, host) {
  switch (err?.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${host} was not found (no network or no DNS)`;
    case 'ECONNREFUSED':
      return `${host} refused the connection`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `there is no network route to ${host}`;
    case 'ECONNRESET':
      return `${host} reset the connection`;
    default:
      return `${host} could not be reached (${err?.code ?? err?.message ?? err})`;
  }
}

/**
 * Download the Electron binary once with electron's own installer
 * (node_modules/electron/install.js), its progress on stderr. Checks first
 * that the download host answers, so a machine without network falls back
 * within `timeoutMs` instead of waiting on the installer.
 */
export async function fetchElectron({ electronDir, env = process.env, timeoutMs = REACH_TIMEOUT_MS, nodePath = process.execPath, say = (line) => process.stderr.write(`${line}\n`) }) {
  const d = await electronDownload(electronDir, env);
  if (!d.cached) {
    const why = await reach(d.url, { timeoutMs, env });
    if (why) return { ok: false, reason: `the Electron runtime is not installed and could not be downloaded: ${why}` };
  }
  say(`berth: the Electron runtime is not installed; downloading Electron ${d.version} for ${d.platform}-${d.arch} once with its installer (node_modules/electron/install.js)...`);
  // stdout goes to our stderr: stdout belongs to Berth (berth serve --json writes JSON there).
  const child = spawn(nodePath, [path.join(electronDir, 'install.js')], { cwd: electronDir, env, stdio: ['ignore', 2, 2] });
  const code = await new Promise((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (c, signal) => resolve(c ?? signal));
  });
  if (code !== 0) return { ok: false, reason: `the Electron runtime is not installed and electron's installer failed (${code === -1 ? 'it could not be started' : `exit ${code}`}, see above)` };
  say(`berth: Electron ${d.version} is installed; starting the desktop app.`);
  return { ok: true };
}

const SIGNAL_CODES = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * Run the child in the foreground and pass its exit status on. POSIX: the
 * child gets its own process group, so a terminal's Ctrl+C reaches it once
 * (through us) rather than twice, which Berth would read as "exit now".
 * Windows: the console delivers Ctrl+C to the child itself.
 */
function runForeground({ file, args }, env) {
  const childEnv = { ...env };
  // Set by some tools; it would make Electron behave as plain Node.
  delete childEnv.ELECTRON_RUN_AS_NODE;
  const posix = process.platform !== 'win32';
  const child = spawn(file, args, { stdio: 'inherit', env: childEnv, detached: posix, windowsHide: false });
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

/**
 * `npm start`: decide, fetch Electron if that is what is missing, run. Every
 * input can be passed in, so a test runs this same code in a child process
 * against an electron package of its own.
 */
export async function main({ args = process.argv.slice(2), env = process.env, platform = process.platform, root = ROOT, electronDir = electronPackageDir(root), timeoutMs = REACH_TIMEOUT_MS } = {}) {
  const requireFrom = electronDir ? createRequire(path.join(electronDir, 'package.json')) : () => {
    throw Object.assign(new Error('no electron package'), { code: 'MODULE_NOT_FOUND' });
  };
  // electronDir's own index.js, loaded afresh each time: after a download it points at the new binary.
  const requireElectron = () => requireFrom('./index.js');
  let choice = chooseRuntime({ electron: findElectron(requireElectron, env), platform, env });
  if (choice.kind === 'fetch') {
    const fetched = await fetchElectron({ electronDir, env, timeoutMs });
    const after = fetched.ok ? findElectron(requireElectron, env) : { missing: fetched.reason, fetchable: false };
    choice = after.binary ? { kind: 'electron', binary: after.binary } : { kind: 'headless', reason: after.missing };
  }
  if (choice.kind === 'headless') process.stderr.write(`${headlessNotice(choice.reason, args)}\n`);
  runForeground(commandFor(choice, args, process.execPath, root), env);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
