/**
 * `npm start` (scripts/start.mjs): the desktop app through the electron
 * package's binary; where that binary was never downloaded, one download with
 * electron's own installer first; where Electron still cannot run, one line
 * saying why and the same server headless. Spawned for real. The download
 * host is a server of the test's own on loopback (through ELECTRON_MIRROR,
 * which electron's installer honours), so no test depends on, or uses, the
 * machine's internet access; the Electron binary, which cannot exist here, is
 * stood in for by a script.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, freePort, health, readToken, tempDataDir, waitFor } from '../helpers';
import { listenClosable } from '../listen.mjs';
import { canListen } from '../../main/startup';
// @ts-ignore: a plain ES module without type declarations.
import { chooseRuntime, commandFor, electronDownload, findElectron, headlessNotice, reach } from '../../scripts/start.mjs';

const START = path.join(ROOT, 'scripts', 'start.mjs');
const ELECTRON_PKG = path.join(ROOT, 'node_modules', 'electron');
const ELECTRON_VERSION = (JSON.parse(fs.readFileSync(path.join(ELECTRON_PKG, 'package.json'), 'utf8')) as { version: string }).version;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The environment without anything from the developer's shell that would steer Berth, Electron's download or a proxy. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const steering = /^(BERTH_|DISPLAY$|WAYLAND_DISPLAY$|ELECTRON_|electron_|npm_config_electron|NPM_CONFIG_ELECTRON|npm_package_config_electron|GLOBAL_AGENT_|npm_config_platform|npm_config_arch)|proxy/i;
  for (const [k, v] of Object.entries(process.env)) if (!steering.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function watch(file: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, out: () => out, err: () => err, exited };
}

/** `node scripts/start.mjs <args>`, as `npm start` runs it, with the repository's electron package. */
function start(args: string[], env: NodeJS.ProcessEnv) {
  return watch(process.execPath, [START, ...args], cleanEnv(env));
}

/**
 * start.mjs's main() in a child process, with an electron package of the
 * test's own: a copy of node_modules/electron without its binary, so the
 * binary is absent here and on machines where it is installed. NODE_PATH
 * lets the copy (and its install.js) load @electron/get from the repository.
 */
function startWith(electronDir: string, args: string[], env: NodeJS.ProcessEnv) {
  const code = `import { main } from ${JSON.stringify(pathToFileURL(START).href)};\nawait main({ args: ${JSON.stringify(args)}, electronDir: ${JSON.stringify(electronDir)} });`;
  return watch(process.execPath, ['--input-type=module', '-e', code], cleanEnv({ NODE_PATH: path.join(ROOT, 'node_modules'), ...env }));
}

/** node_modules/electron as npm installs it with ignore-scripts: the package, no dist/, no path.txt. */
function electronPackageWithoutBinary(): string {
  const dir = path.join(tempDataDir('berth-electron-pkg-'), 'electron');
  fs.mkdirSync(dir);
  for (const f of ['package.json', 'index.js', 'install.js', 'checksums.json', 'cli.js']) fs.copyFileSync(path.join(ELECTRON_PKG, f), path.join(dir, f));
  return dir;
}

/** The headless server's "serving" line on stdout (berth serve --json), or a failure with what it printed. */
function served(p: ReturnType<typeof watch>) {
  return Promise.race([
    waitFor(() => {
      const line = p.out().split('\n').find((l) => l.includes('"event":"serving"'));
      return line ? (JSON.parse(line) as { url: string; pid: number }) : null;
    }, 'the headless server to serve'),
    p.exited.then((c) => {
      throw new Error(`npm start exited ${c}: ${p.err()}`);
    }),
  ]);
}

/** Stop the headless server through its API (the same on every OS), and expect npm start to pass its exit 0 on. */
async function stopThroughApi(p: ReturnType<typeof watch>, port: number, dataDir: string) {
  const res = await fetch(`http://127.0.0.1:${port}/api/stop`, { method: 'POST', headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
  expect(res.status).toBe(202);
  expect(await p.exited, p.err()).toBe(0);
  expect(await canListen('127.0.0.1', port)).toBe(true);
}

function notices(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('berth: '));
}

/** A loopback server that accepts connections and never says a word: a network that swallows packets, as far as a client can tell. */
async function silentServer(): Promise<number> {
  const srv = net.createServer();
  cleanups.push(await listenClosable(srv, { host: '127.0.0.1', port: 0 }));
  return (srv.address() as net.AddressInfo).port;
}

/** A minimal zip (stored, no compression) whose entries keep their Unix modes, which extract-zip restores. */
function zip(entries: { name: string; data: Buffer; mode: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = zlib.crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode below counts
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((0o100000 | e.mode) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/**
 * An Electron download mirror on loopback: the release zip, holding a stand-in
 * binary (a script that records its arguments and exits 7), and the
 * SHASUMS256.txt electron's installer checks it against.
 */
async function electronMirror(o: { wrongChecksum?: boolean } = {}): Promise<{ url: string; marker: string; requests: string[] }> {
  const marker = path.join(tempDataDir('berth-fake-electron-'), 'args.txt');
  const binaryPath = process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron';
  const script = Buffer.from(`#!/bin/sh\nprintf '%s\\n' "$@" > "${marker}"\nexit 7\n`);
  const name = `electron-v${ELECTRON_VERSION}-${process.platform}-${process.arch}.zip`;
  const body = zip([
    { name: binaryPath, data: script, mode: 0o755 },
    { name: 'version', data: Buffer.from(`v${ELECTRON_VERSION}`), mode: 0o644 },
  ]);
  const sums = `${crypto.createHash('sha256').update(o.wrongChecksum ? 'something else' : body).digest('hex')} *${name}\n`;
  const files = new Map([
    [`/v${ELECTRON_VERSION}/${name}`, body],
    [`/v${ELECTRON_VERSION}/SHASUMS256.txt`, Buffer.from(sums)],
  ]);
  const requests: string[] = [];
  const srv = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const file = files.get(req.url ?? '');
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Length': file.length });
    res.end(req.method === 'HEAD' ? undefined : file);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => srv.close(r)));
  return { url: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`, marker, requests };
}

describe('npm start: choosing the runtime', () => {
  const electron = { binary: '/opt/electron/electron' };
  it('runs Electron where there is a binary and a display', () => {
    expect(chooseRuntime({ electron, platform: 'linux', env: { DISPLAY: ':0' } })).toEqual({ kind: 'electron', binary: electron.binary });
    expect(chooseRuntime({ electron, platform: 'linux', env: { WAYLAND_DISPLAY: 'wayland-0' } })).toEqual({ kind: 'electron', binary: electron.binary });
    // Windows and macOS always have a display for a logged-in user.
    expect(chooseRuntime({ electron, platform: 'win32', env: {} }).kind).toBe('electron');
    expect(chooseRuntime({ electron, platform: 'darwin', env: {} }).kind).toBe('electron');
  });

  it('downloads Electron first when only the binary is missing', () => {
    const missing = { missing: 'the Electron runtime is not installed (x)', fetchable: true };
    expect(chooseRuntime({ electron: missing, platform: 'linux', env: { DISPLAY: ':0' } })).toEqual({ kind: 'fetch', reason: missing.missing });
    expect(chooseRuntime({ electron: missing, platform: 'win32', env: {} }).kind).toBe('fetch');
  });

  it('runs headless, saying why, where a download cannot help or is not wanted', () => {
    // No display on Linux: the binary would not run either, so nothing is downloaded.
    expect(chooseRuntime({ electron: { missing: 'x', fetchable: true }, platform: 'linux', env: {} })).toEqual({
      kind: 'headless',
      reason: 'there is no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset)',
    });
    expect(chooseRuntime({ electron, platform: 'linux', env: {} }).kind).toBe('headless');
    expect(chooseRuntime({ electron: { missing: 'the Electron runtime is not installed (no electron package)', fetchable: false }, platform: 'darwin', env: {} })).toEqual({
      kind: 'headless',
      reason: 'the Electron runtime is not installed (no electron package)',
    });
    expect(chooseRuntime({ electron: { missing: 'the Electron runtime is not installed (x)', fetchable: true }, platform: 'darwin', env: { ELECTRON_SKIP_BINARY_DOWNLOAD: '1' } })).toEqual({
      kind: 'headless',
      reason: 'the Electron runtime is not installed (x), and ELECTRON_SKIP_BINARY_DOWNLOAD is set',
    });
  });

  it('finds no binary when the electron package throws (its download never ran) or points at nothing', () => {
    const throwing = () => {
      throw new Error('Electron failed to install correctly, please delete node_modules/electron and try installing again');
    };
    expect(findElectron(throwing, {})).toEqual({ missing: 'the Electron runtime is not installed (node_modules/electron has no binary)', fetchable: true });
    expect(findElectron(() => '/nonexistent/electron', {})).toEqual({ missing: 'the Electron runtime is not installed (no binary at /nonexistent/electron)', fetchable: true });
    // A binary the user placed themselves (ELECTRON_OVERRIDE_DIST_PATH) is not what electron's installer would download.
    expect(findElectron(() => '/nonexistent/electron', { ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent' }).fetchable).toBe(false);
    const notInstalled = () => {
      throw Object.assign(new Error("Cannot find module 'electron'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(findElectron(notInstalled, {})).toEqual({ missing: 'the Electron runtime is not installed (no electron package)', fetchable: false });
  });

  it('passes the arguments on: to Electron after the app folder, to berth serve after the command', () => {
    expect(commandFor({ kind: 'electron', binary: '/e' }, ['--port', '9000'])).toEqual({ file: '/e', args: [ROOT, '--port', '9000'] });
    expect(commandFor({ kind: 'headless', reason: 'r' }, ['--port', '9000'], '/node')).toEqual({ file: '/node', args: [path.join(ROOT, 'bin', 'berth.js'), 'serve', '--port', '9000'] });
    expect(headlessNotice('no display', ['--port', '9000'])).toBe('berth: no display; running the server headless instead (berth serve --port 9000).');
    expect(headlessNotice('no display', [])).toBe('berth: no display; running the server headless instead (berth serve).');
  });

  it('asks @electron/get where the download comes from: GitHub by default, or the mirror the user set', async () => {
    const saved = process.env.ELECTRON_MIRROR;
    try {
      delete process.env.ELECTRON_MIRROR;
      const d = await electronDownload(ELECTRON_PKG, {});
      expect(d.url).toBe(`https://github.com/electron/electron/releases/download/v${ELECTRON_VERSION}/electron-v${ELECTRON_VERSION}-${process.platform}-${process.arch}.zip`);
      process.env.ELECTRON_MIRROR = 'http://127.0.0.1:1/mirror/';
      expect((await electronDownload(ELECTRON_PKG, {})).url).toBe(`http://127.0.0.1:1/mirror/v${ELECTRON_VERSION}/electron-v${ELECTRON_VERSION}-${process.platform}-${process.arch}.zip`);
    } finally {
      if (saved === undefined) delete process.env.ELECTRON_MIRROR;
      else process.env.ELECTRON_MIRROR = saved;
    }
  });

  it('checks that the download host answers, within a bound', async () => {
    const refused = await freePort();
    expect(await reach(`http://127.0.0.1:${refused}/electron.zip`, { env: {} })).toBe(`127.0.0.1:${refused} refused the connection`);
    const silent = await silentServer();
    expect(await reach(`http://127.0.0.1:${silent}/electron.zip`, { timeoutMs: 500, env: {} })).toBe(`127.0.0.1:${silent} did not answer within 0.5 s`);
    // Any HTTP answer means the host is there (GitHub answers a release download with a redirect).
    const answering = http.createServer((_q, s) => s.writeHead(302, { Location: 'http://127.0.0.1:1/' }).end());
    await new Promise<void>((r) => answering.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => answering.close(r)));
    expect(await reach(`http://127.0.0.1:${(answering.address() as net.AddressInfo).port}/electron.zip`, { env: {} })).toBeNull();
  });
});

describe('npm start: spawned', () => {
  it('with the Electron binary absent and its download host refusing: one line says why, then the headless server serves', async () => {
    const mirror = await freePort(); // nothing listens there
    const port = await freePort();
    const dataDir = tempDataDir();
    const args = ['--port', String(port), '--data-dir', dataDir, '--json'];
    const p = startWith(electronPackageWithoutBinary(), args, { DISPLAY: ':99', ELECTRON_MIRROR: `http://127.0.0.1:${mirror}/` });
    const info = await served(p);
    expect(info.url).toBe(`http://127.0.0.1:${port}`);
    expect(await health(port), p.err()).toMatchObject({ app: 'berth', pid: info.pid });
    expect(notices(p.err()), p.err()).toEqual([
      `berth: the Electron runtime is not installed and could not be downloaded: 127.0.0.1:${mirror} refused the connection; running the server headless instead (berth serve ${args.join(' ')}).`,
    ]);
    await stopThroughApi(p, port, dataDir);
  });

  it('with the Electron binary absent and a download host that never answers: headless after the bound, saying so', async () => {
    const mirror = await silentServer();
    const port = await freePort();
    const dataDir = tempDataDir();
    const p = startWith(electronPackageWithoutBinary(), ['--port', String(port), '--data-dir', dataDir, '--json'], { DISPLAY: ':99', ELECTRON_MIRROR: `http://127.0.0.1:${mirror}/` });
    await served(p);
    expect(notices(p.err())[0], p.err()).toMatch(new RegExp(`^berth: the Electron runtime is not installed and could not be downloaded: 127\\.0\\.0\\.1:${mirror} did not answer within 3 s; running the server headless instead`));
    await stopThroughApi(p, port, dataDir);
  });

  it.skipIf(process.platform === 'win32')('with the Electron binary absent and a download host that has it: electron\'s installer fetches it once, then the desktop app starts', async () => {
    const mirror = await electronMirror();
    const pkg = electronPackageWithoutBinary();
    const env = {
      DISPLAY: ':99',
      ELECTRON_MIRROR: mirror.url,
      // The stand-in zip is not in electron's checksums.json: check it against the mirror's SHASUMS256.txt instead.
      electron_use_remote_checksums: '1',
      electron_config_cache: tempDataDir('berth-electron-cache-'),
    };
    const p = startWith(pkg, ['--port', '9123', '--hidden'], env);
    expect(await p.exited, p.err()).toBe(7);
    expect(fs.readFileSync(mirror.marker, 'utf8').trim().split('\n')).toEqual([ROOT, '--port', '9123', '--hidden']);
    expect(notices(p.err()), p.err()).toEqual([
      `berth: the Electron runtime is not installed; downloading Electron ${ELECTRON_VERSION} for ${process.platform}-${process.arch} once with its installer (node_modules/electron/install.js)...`,
      `berth: Electron ${ELECTRON_VERSION} is installed; starting the desktop app.`,
    ]);
    const downloads = mirror.requests.filter((r) => r.startsWith('GET ') && r.endsWith('.zip'));
    expect(downloads).toHaveLength(1);

    // Once is enough: the next start finds the binary and downloads nothing.
    fs.rmSync(mirror.marker);
    const again = startWith(pkg, ['--port', '9124'], env);
    expect(await again.exited, again.err()).toBe(7);
    expect(fs.readFileSync(mirror.marker, 'utf8').trim().split('\n')).toEqual([ROOT, '--port', '9124']);
    expect(notices(again.err())).toEqual([]);
    expect(mirror.requests.filter((r) => r.startsWith('GET ') && r.endsWith('.zip'))).toHaveLength(1);
  });

  it('with the Electron binary absent and a download that fails its checksum: electron\'s installer refuses it, and the headless server serves', async () => {
    const mirror = await electronMirror({ wrongChecksum: true });
    const pkg = electronPackageWithoutBinary();
    const port = await freePort();
    const dataDir = tempDataDir();
    const p = startWith(pkg, ['--port', String(port), '--data-dir', dataDir, '--json'], {
      DISPLAY: ':99',
      ELECTRON_MIRROR: mirror.url,
      electron_use_remote_checksums: '1',
      electron_config_cache: tempDataDir('berth-electron-cache-'),
    });
    await served(p);
    const lines = notices(p.err());
    expect(lines[0]).toMatch(/^berth: the Electron runtime is not installed; downloading Electron/);
    expect(lines.at(-1), p.err()).toMatch(/^berth: the Electron runtime is not installed and electron's installer failed \(exit 1, see above\); running the server headless instead/);
    // The installer's own words (the checksum error) are what "see above" points at.
    expect(p.err()).toMatch(/checksum|sha256/i);
    expect(fs.existsSync(path.join(pkg, 'path.txt'))).toBe(false);
    await stopThroughApi(p, port, dataDir);
  });

  it.skipIf(process.platform !== 'linux')('on Linux without a display: headless, says so, and downloads nothing', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const args = ['--port', String(port), '--data-dir', dataDir, '--json'];
    const p = start(args, {});
    await served(p);
    expect(notices(p.err()), p.err()).toEqual([headlessNotice('there is no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset)', args)]);
    // SIGTERM to npm start reaches the server once: it drains and exits 0, and the port is free.
    p.child.kill('SIGTERM');
    expect(await p.exited, p.err()).toBe(0);
    expect(await canListen('127.0.0.1', port)).toBe(true);
    expect(p.err()).toContain('SIGTERM: draining and stopping');
    expect(p.err()).not.toContain('again: exiting now');
  });

  it('passes the headless exit code on (a port held by another program: 4)', async () => {
    const port = await freePort();
    const srv = http.createServer((_q, s) => s.end('not berth'));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => srv.close(r)));
    const p = start(['--port', String(port), '--data-dir', tempDataDir()], {});
    expect(await p.exited).toBe(4);
    expect(p.err()).toMatch(/Port \d+ is in use by another web server/);
  });

  it.skipIf(process.platform === 'win32')('with an Electron binary and a display: runs it on the app folder with the arguments, and passes its exit code on', async () => {
    const dir = tempDataDir('berth-fake-electron-');
    const marker = path.join(dir, 'args.txt');
    // Where electron/index.js looks inside ELECTRON_OVERRIDE_DIST_PATH: path.txt once installed (macOS: inside Electron.app), else "electron".
    const pathTxt = path.join(ELECTRON_PKG, 'path.txt');
    const binary = path.join(dir, fs.existsSync(pathTxt) ? fs.readFileSync(pathTxt, 'utf8') : 'electron');
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    fs.writeFileSync(binary, `#!/bin/sh\nprintf '%s\\n' "$@" > "${marker}"\nexit 7\n`, { mode: 0o755 });
    const p = start(['--port', '9123', '--hidden'], { ELECTRON_OVERRIDE_DIST_PATH: dir, DISPLAY: ':99' });
    expect(await p.exited).toBe(7);
    expect(fs.readFileSync(marker, 'utf8').trim().split('\n')).toEqual([ROOT, '--port', '9123', '--hidden']);
    expect(p.err()).toBe('');
  });
});
