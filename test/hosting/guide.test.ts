/**
 * docs/HOSTING.md, followed as an app author would: an empty folder, `npm
 * init`, Berth installed from its own package (`npm pack` of this checkout),
 * the guide's files, the build, the app serving, and electron-builder's
 * `--dir` build of the desktop app. The guide's files are examples/notes file
 * for file, so the example and the guide cannot drift apart. The Python
 * example goes through the same electron-builder path.
 *
 * What stands in for a download: the dev tools the guide installs (TypeScript,
 * electron-builder) are this checkout's, and Electron is the stand-in
 * distribution test/build uses (this machine cannot download the binary).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asar, electronBuilderProblem, installedElectronVersion, runElectronBuilder, writeStandInElectron, yaml } from '../build/builder';
import { ROOT, freePort, killBerth, readToken, waitFor } from '../helpers';

const GUIDE = fs.readFileSync(path.join(ROOT, 'docs', 'HOSTING.md'), 'utf8');
const NOTES = path.join(ROOT, 'examples', 'notes');

/** The guide's files: fenced blocks whose info string names one (```ts file=src/app.ts). */
function guideFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of GUIDE.matchAll(/^```\w+ file=(\S+)\n([\s\S]*?)^```$/gm)) files.set(m[1]!, m[2]!);
  return files;
}

/** The guide's commands, in order: the lines of its ```sh guide blocks. */
function guideCommands(): string[] {
  return [...GUIDE.matchAll(/^```sh guide\n([\s\S]*?)^```$/gm)].flatMap((m) => m[1]!.split('\n').filter((l) => l.trim()));
}

let work: string;
let tarball: string;
let electronDist: string;
const problem = electronBuilderProblem();

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-guide-'));
  // Berth as a package: what `npm install berth` gets (package.json "files").
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, ROOT], { cwd: work, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  tarball = path.join(work, packed);
  electronDist = path.join(work, 'electron-stand-in');
  writeStandInElectron(electronDist);
}, 180_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** npm install from the local package and the npm cache: the registry's copies of Berth's dependencies. */
function installBerth(dir: string): void {
  sh('npm', ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], dir);
}

/** electron-builder's --dir build for Linux, with the stand-in Electron; the unpacked app's folder. */
async function buildDir(dir: string): Promise<string> {
  await runElectronBuilder(['--linux', 'dir', '--x64', '--publish', 'never', '--config', 'electron-builder.config.js', `-c.electronVersion=${installedElectronVersion()}`], { ...process.env, ELECTRON_DIST: electronDist, CSC_IDENTITY_AUTO_DISCOVERY: 'false' }, dir);
  return path.join(dir, 'dist', 'linux-unpacked');
}

describe('the app author\'s guide (docs/HOSTING.md)', () => {
  it('shows examples/notes file for file', () => {
    const files = guideFiles();
    expect([...files.keys()].sort()).toEqual(['electron-builder.config.js', 'src/app.ts', 'src/cli.ts', 'src/desktop.ts', 'src/store.ts', 'tsconfig.json', 'ui/console/notes-page.js', 'ui/index.html', 'ui/notes.css', 'ui/notes.js']);
    for (const [file, text] of files) expect(text, file).toBe(fs.readFileSync(path.join(NOTES, file), 'utf8'));
  });

  it.skipIf(problem !== null)('builds Notes from an empty folder to a desktop app, using only the public API', async () => {
    let dir = work;
    let served = false;
    let built = false;
    for (const line of guideCommands()) {
      if (line === 'mkdir notes && cd notes') {
        dir = path.join(work, 'notes');
        fs.mkdirSync(dir);
      } else if (line === 'npm init -y' || line.startsWith('npm pkg set ')) {
        sh('npm', line.slice(4).match(/(?:[^\s"]+|"[^"]*")+/g)!.map((a) => a.replace(/"/g, '')), dir);
      } else if (line === 'npm install berth') {
        installBerth(dir);
      } else if (line.startsWith('npm install --save-dev ')) {
        // This checkout's copies stand in for the downloads: TypeScript's types for Node, from the same place.
        fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
        fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'));
        for (const [file, text] of guideFiles()) {
          fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
          fs.writeFileSync(path.join(dir, file), text);
        }
        fs.mkdirSync(path.join(dir, 'build'));
        fs.copyFileSync(path.join(NOTES, 'build', 'icon.png'), path.join(dir, 'build', 'icon.png'));
      } else if (line === 'npm run build') {
        // The guide builds again before packaging; nothing has changed since its first build, and tsc is slow on a loaded machine.
        if (!built) sh(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], dir);
        built = true;
      } else if (line === 'node out/cli.js serve') {
        await serveOnce(dir);
        served = true;
      } else if (line === 'npx electron-builder --config electron-builder.config.js --dir') {
        const app = await buildDir(dir);
        expect(fs.existsSync(path.join(app, 'notes')), 'the executable is named after the app').toBe(true);
        const entries = new Set(asar.listPackage(path.join(app, 'resources', 'app.asar'), { isPack: false }).map((e) => e.split(path.sep).join('/')));
        for (const f of ['/out/desktop.js', '/out/app.js', '/ui/index.html', '/node_modules/berth/out/main/hosted.js', '/node_modules/berth/out/app/hosting/index.js', '/node_modules/berth/out/renderer/index.html', '/node_modules/fastify/package.json']) expect(entries, f).toContain(f);
        expect([...entries].some((e) => e.startsWith('/node_modules/typescript/') || e.startsWith('/node_modules/electron/'))).toBe(false);
        const pkg = JSON.parse(asar.extractFile(path.join(app, 'resources', 'app.asar'), 'package.json').toString('utf8'));
        expect(pkg).toMatchObject({ main: 'out/desktop.js', desktopName: 'notes.desktop' });
        expect(yaml.load(fs.readFileSync(path.join(app, 'resources', 'app-update.yml'), 'utf8'))).toMatchObject({ provider: 'generic', url: 'https://updates.example.invalid/notes/' });
      } else {
        throw new Error(`the guide has a command this test does not know how to follow: ${line}`);
      }
    }
    expect(served).toBe(true);
  }, 600_000);

  it.skipIf(problem !== null)('builds the Python example the same way, with its server beside the archive', async () => {
    const dir = path.join(work, 'bookmarks');
    fs.mkdirSync(dir);
    for (const f of ['app.js', 'cli.js', 'desktop.js', 'server.py', 'electron-builder.config.js', 'package.json', 'build/icon.png']) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, 'examples', 'bookmarks-python', f), path.join(dir, f));
    }
    sh('npm', ['pkg', 'delete', 'dependencies.berth', 'devDependencies'], dir);
    installBerth(dir);
    const app = await buildDir(dir);
    expect(fs.existsSync(path.join(app, 'bookmarks'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'resources', 'app.asar.unpacked', 'server.py'))).toBe(true);
  }, 600_000);
});

/** `node out/cli.js serve` in the guide's folder: it serves Notes, and a note saved through its API is there. */
async function serveOnce(dir: string): Promise<void> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-guide-data-'));
  const child = spawn(process.execPath, [path.join(dir, 'out', 'cli.js'), 'serve', '--json', '--port', String(port), '--data-dir', dataDir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(() => out.includes('"event":"serving"'), `Notes to serve:\n${out}`, 30_000);
    const auth = { Authorization: `Bearer ${readToken(dataDir)}` };
    const saved = await fetch(`http://127.0.0.1:${port}/api/notes`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'from the guide' }) });
    expect(saved.status).toBe(200);
    const list = (await (await fetch(`http://127.0.0.1:${port}/api/notes`, { headers: auth })).json()) as { notes: { text: string }[] };
    expect(list.notes.map((n) => n.text)).toEqual(['from the guide']);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    // Its data folder is the one given; without --data-dir it would be named after the app.
    expect(fs.existsSync(path.join(dataDir, 'notes.json'))).toBe(true);
  } finally {
    await killBerth({ child, exited });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
