/**
 * deb installs: electron-updater's real DebUpdater downloads a real .deb
 * (dpkg-deb --build), and Berth installs it while it still serves, through
 * the privilege prompt. The prompt is a stand-in for pkexec (a person types
 * a password, dismisses it, or no polkit agent is running); dpkg itself is
 * Debian's own, run against a package database of the test's own
 * (dpkg --root), so a dependency problem leaves a package in the same state
 * it would on a real machine.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers';
import { toolsProblem } from '../requirements.mjs';
import type { InstallHooks } from '../../app/lifecycle/plans';
import { composed, guardedLifecycle, health, ready, recovered, type Setup } from './composed';
import { makeRig, tempDir, updateSuite } from './support';

const { cleanups, server } = updateSuite();

const dpkgProblem = toolsProblem('deb');

/** A real .deb of `name` at `version`, depending on `depends` (a package the test's database does not have). */
function buildDeb(dir: string, o: { name: string; version: string; depends?: string }): string {
  const tree = path.join(dir, `${o.name}-tree`);
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  fs.mkdirSync(path.join(tree, 'opt', o.name), { recursive: true });
  fs.writeFileSync(path.join(tree, 'opt', o.name, 'version'), `${o.version}\n`);
  fs.writeFileSync(
    path.join(tree, 'DEBIAN', 'control'),
    `Package: ${o.name}\nVersion: ${o.version}\nArchitecture: all\nMaintainer: Berth tests <tests@berth.invalid>\n${o.depends ? `Depends: ${o.depends}\n` : ''}Description: Berth test package\n`,
  );
  const out = path.join(dir, `${o.name}_${o.version}_all.deb`);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', tree, out], { stdio: 'ignore' });
  return out;
}

interface Machine {
  /** The stand-in pkexec: the arguments it was given, one per line, for each call. */
  calls(): string[][];
  /** What the package database says of a package: "install ok installed 1.0.1", or null. */
  status(pkg: string): string | null;
}

/**
 * A machine of the test's own: a dpkg database under `root`, dpkg and dpkg-query pointed at it, an
 * apt-get that can or cannot fetch missing dependencies, and a pkexec that answers as `answer` says.
 */
function machine(dir: string, o: { answer: 'ok' | 'dismissed' | 'no-agent'; aptCanFix?: string | null }): Machine & { bin: string } {
  const root = path.join(dir, 'root');
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates']) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of ['status', 'available']) fs.writeFileSync(path.join(root, 'var/lib/dpkg', f), '');
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const calls = path.join(dir, 'pkexec-calls');
  const script = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  script('dpkg', `exec /usr/bin/dpkg --root='${root}' --force-not-root --log=/dev/null "$@"`);
  script('dpkg-query', `exec /usr/bin/dpkg-query --admindir='${root}/var/lib/dpkg' "$@"`);
  // apt-get install -f: fetch what is missing and configure, or give up as apt does.
  script(
    'apt-get',
    o.aptCanFix
      ? `[ "$1 $2" = "install -f" ] || exit 64\ndpkg -i '${o.aptCanFix}' && dpkg --configure -a`
      : 'echo "E: Unmet dependencies. Try \'apt --fix-broken install\' with no packages (or specify a solution)." >&2\nexit 100',
  );
  const answers = {
    ok: 'exec "$@"',
    dismissed: 'echo "Error executing command as another user: Request dismissed" >&2\nexit 126',
    'no-agent': 'echo "Error executing command as another user: No authentication agent found." >&2\nexit 127',
  };
  script('pkexec', `{ for a in "$@"; do printf '%s\\n' "$a"; done; echo --; } >> '${calls}'\n${answers[o.answer]}`);
  return {
    bin,
    calls: () =>
      (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8') : '')
        .split('--\n')
        .filter(Boolean)
        .map((c) => c.trimEnd().split('\n')),
    status: (pkg) => {
      try {
        return execFileSync(path.join(bin, 'dpkg-query'), ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return null;
      }
    },
  };
}

/** Berth 1.0.0 serving from a data folder whose path has a space in it, with a deb of 1.0.1 published. */
async function setup(deb: string, m: Machine & { bin: string }, relaunched: unknown[], o: { port?: number; dataDir?: string; installHooks?: InstallHooks } = {}): Promise<Setup> {
  const srv = await server();
  srv.publish({ version: '1.0.1', file: path.basename(deb), data: fs.readFileSync(deb) });
  const dataDir = o.dataDir ?? path.join(tempDir(), 'Berth Data');
  fs.mkdirSync(dataDir, { recursive: true });
  const pathBefore = process.env.PATH;
  process.env.PATH = `${m.bin}:${pathBefore}`;
  cleanups.push(async () => void (process.env.PATH = pathBefore));
  return composed(srv, cleanups, {
    handoffDeadline: 3000,
    dataDir,
    port: o.port,
    installHooks: o.installHooks ?? { relaunch: (h) => relaunched.push(h) },
    rigFor: ({ logs, hooks }) =>
      makeRig({ version: '1.0.0', feedUrl: srv.url, dataDir, logs, kind: 'DebUpdater', elevate: [path.join(m.bin, 'pkexec')], hooks }),
  });
}

describe.skipIf(dpkgProblem)(`deb installs${dpkgProblem ? ` (skipped: ${dpkgProblem})` : ''}`, () => {
  it('the downloaded package is installed by its real path (a data folder with a space), then Berth relaunches', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1' });
    const m = machine(dir, { answer: 'ok' });
    const relaunched: unknown[] = [];
    const s = await setup(deb, m, relaunched);
    await ready(s);
    const before = (await health(s.port))!;
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0 || s.service.status().error, 'the install to hand over');
    expect(s.service.status().error).toBeUndefined();
    const [call] = m.calls();
    const file = call!.at(-1)!;
    expect(file).toContain('/Berth Data/');
    expect(fs.existsSync(file), `${file} is the downloaded package`).toBe(true);
    expect(m.status('berth')).toBe('install ok installed 1.0.1');
    expect(relaunched).toEqual([{ instance: before.instance, pid: process.pid, host: '127.0.0.1', port: s.port }]);
    expect(s.exits).toEqual([0]);
  });

  it('pkexec exit 127 (no polkit agent): nothing installed, Berth serves on, and the message says what to run instead', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1' });
    const m = machine(dir, { answer: 'no-agent' });
    const relaunched: unknown[] = [];
    const s = await setup(deb, m, relaunched);
    await ready(s);
    const before = (await health(s.port))!;
    await expect(s.service.install()).rejects.toThrow(/no polkit authentication agent/);
    expect(await health(s.port)).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(relaunched).toEqual([]);
    expect(m.status('berth')).toBeNull();
    const st = s.service.status();
    expect(st).toMatchObject({ state: 'ready', version: '1.0.1' });
    const file = m.calls()[0]!.at(-1)!;
    expect(st.error).toContain(`sudo apt install '${file}'`);
    expect(st.error).toContain('Berth 1.0.0 keeps running.');
  });

  it('a dismissed password prompt (exit 126): nothing installed, and a second try works', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1' });
    const m = machine(dir, { answer: 'dismissed' });
    const s = await setup(deb, m, []);
    await ready(s);
    await expect(s.service.install()).rejects.toThrow(/password prompt was dismissed/);
    expect(s.service.status()).toMatchObject({ state: 'ready', error: expect.stringContaining('Nothing was installed') });
    expect(m.status('berth')).toBeNull();
  });

  it('a dependency dpkg cannot satisfy: apt-get fixes it as DebUpdater does, in the same prompt, and Berth relaunches', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1', depends: 'berth-test-library' });
    const library = buildDeb(dir, { name: 'berth-test-library', version: '1.0' });
    const m = machine(dir, { answer: 'ok', aptCanFix: library });
    const relaunched: unknown[] = [];
    const s = await setup(deb, m, relaunched);
    await ready(s);
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the install to hand over');
    // One password prompt for both steps.
    expect(m.calls()).toHaveLength(1);
    expect(m.status('berth')).toBe('install ok installed 1.0.1');
    expect(relaunched).toHaveLength(1);
  });

  it('a dependency nothing can satisfy: Berth 1.0.0 serves on, and says the package is unpacked but not configured, and what to run', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1', depends: 'berth-missing-library' });
    const m = machine(dir, { answer: 'ok', aptCanFix: null });
    const relaunched: unknown[] = [];
    const s = await setup(deb, m, relaunched);
    await ready(s);
    const before = (await health(s.port))!;
    await expect(s.service.install()).rejects.toThrow(/berth-missing-library/);
    expect(await health(s.port)).toMatchObject({ instance: before.instance, state: 'serving' });
    expect(relaunched).toEqual([]);
    expect(m.status('berth')).toBe('install ok unpacked 1.0.1');
    const st = s.service.status();
    expect(st.error).toContain('unpacked but not configured');
    expect(st.error).toContain('sudo apt-get install -f');
    expect(st.error).toContain('Berth 1.0.0 keeps running.');
  });

  it('installed, and the relaunched Berth never comes up: the guardian starts the installed Berth, which says so', async () => {
    const dir = tempDir();
    const deb = buildDeb(dir, { name: 'berth', version: '1.0.1' });
    const m = machine(dir, { answer: 'ok' });
    const port = await freePort();
    const dataDir = path.join(tempDir(), 'Berth Data');
    // The stand-in Electron's relaunch, like one that fails, starts nothing.
    const { fe, lifecycle } = guardedLifecycle(port, dataDir);
    const s = await setup(deb, m, [], { port, dataDir, installHooks: lifecycle.installHooks() });
    await ready(s);
    const before = (await health(port))!;
    expect((await s.api('POST', '/api/update/install')).status).toBe(202);
    await waitFor(() => s.exits.length > 0, 'the port to be let go');
    expect(m.status('berth')).toBe('install ok installed 1.0.1');
    expect(fe.app.names()).toContain('relaunch');
    expect(await recovered(s, before, cleanups)).toEqual([
      expect.objectContaining({ detail: 'The update to 1.0.1 failed (no Berth served within 2 s); Berth 1.0.0 is running.' }),
    ]);
  }, 120_000);
});
