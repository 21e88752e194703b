/**
 * A real Berth AppImage updating itself, on Linux under a display (Xvfb in
 * CI): version N, as electron-builder built it, runs from a folder of the
 * test's own under its default, versioned file name; N+1 is published on a
 * local update location (the URL both builds have baked in); Berth's own API
 * checks, downloads and installs it, as the tray's "Restart to update" does.
 * The port is watched from outside the whole time.
 *
 * What it proves: N+1 serves on the same port; the port was never without a
 * server for longer than OUTAGE_BOUND_MS; N and N+1 never answered by turns;
 * N's process and its file are gone; one Berth main process is left; the
 * autostart entry names the new file; no EADDRINUSE anywhere in the log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, freePort, health, readToken, tempDataDir } from '../../test/helpers';
import { berthMainPids, keepEvidence, logCount, serveNewVersion, servingVersion, stopBerth, updateBuilds, updateWatched, useCleanups, userEnv, writeSettings } from './update-rig';

const builds = updateBuilds('linux', 'e2e/desktop/update-linux.test.ts', () =>
  process.env.DISPLAY || process.env.WAYLAND_DISPLAY ? null : 'there is no display (run it under xvfb-run)',
);

/**
 * The longest time the port may go without an answer during the update.
 * The AppImage plan starts N+1 while N still serves and closes N's listener
 * only once N+1 has checked in, so the gap is one bind (about 20 ms under
 * plain Node, docs/BENCHMARKS.md). One second leaves room for a slow runner
 * and is still shorter than an Electron start: a regression to "stop N, then
 * start N+1" fails it.
 */
const OUTAGE_BOUND_MS = 1_000;

const cleanups = useCleanups();

function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode!);
  return new Promise((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)));
}

describe.skipIf(!builds)('AppImage update on Linux (real Electron, real electron-updater)', () => {
  it('N updates itself to N+1: same port, no gap longer than the bound, N gone, one process, autostart follows the new file', async () => {
    const b = builds!;
    const home = tempDataDir('berth-update-linux-');
    const apps = path.join(home, 'Applications');
    fs.mkdirSync(apps);
    const oldFile = path.join(apps, b.old.artifact);
    const newFile = path.join(apps, b.new.artifact);
    fs.copyFileSync(path.join(b.old.dir, b.old.artifact), oldFile);
    fs.chmodSync(oldFile, 0o755);

    // A user profile of the test's own: Berth's data directory and the autostart entry live under XDG_CONFIG_HOME,
    // and the new version inherits this environment from electron-updater, which starts it.
    const config = path.join(home, 'config');
    const dataDir = path.join(config, 'Berth');
    const env = userEnv({ XDG_CONFIG_HOME: config, XDG_CACHE_HOME: path.join(home, 'cache') });
    const port = await freePort();
    writeSettings(dataDir, { port, launchAtLogin: true });

    const location = await serveNewVersion(b, cleanups);

    // No --no-sandbox: the new version is started by electron-updater without arguments, so both must run as users run them.
    const n = spawn(oldFile, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    n.stdout!.on('data', (d) => (output += d));
    n.stderr!.on('data', (d) => (output += d));
    cleanups.push(async () => {
      for (const pid of berthMainPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (n.exitCode === null && n.signalCode === null) n.kill('SIGKILL');
    });
    keepEvidence(cleanups, 'linux', { folders: [dataDir, path.join(config, 'autostart'), apps], texts: () => ({ 'appimage-output.txt': output }) });

    const before = await servingVersion(port, b.old.version, { dataDir, timeoutMs: 90_000, more: () => `--- AppImage output ---\n${output.slice(-4000)}` });
    const token = readToken(dataDir);
    const autostart = path.join(config, 'autostart', 'berth.desktop');
    expect(fs.readFileSync(autostart, 'utf8')).toContain(`Exec=${oldFile} --hidden`);

    const { after, seen } = await updateWatched(b, port, token, before, dataDir);
    expect(await exited(n), output).toBe(0);
    const size = fs.statSync(path.join(b.new.dir, b.new.artifact)).size;
    console.log(`AppImage update ${b.old.version} -> ${b.new.version}: port without an answer for at most ${seen.longestOutageMs} ms (bound ${OUTAGE_BOUND_MS} ms); ${seen.attempts} attempts, failures ${JSON.stringify(seen.failures)}; downloaded ${location.bytesSent(b.new.artifact)} of ${size} bytes`);

    expect(after.pid).not.toBe(before.pid);
    expect(seen.served.map((s) => s.version)).toEqual([b.old.version, b.new.version]);
    expect(seen.interleaved).toBe(false);
    expect(seen.longestOutageMs).toBeLessThanOrEqual(OUTAGE_BOUND_MS);
    // electron-updater wrote N+1 under its own versioned name and deleted N.
    expect(fs.existsSync(oldFile)).toBe(false);
    expect(fs.existsSync(newFile)).toBe(true);
    expect(berthMainPids()).toEqual([after.pid]);
    // Launch at login must start the file that exists now, not the one the update deleted.
    expect(fs.readFileSync(autostart, 'utf8')).toContain(`Exec=${newFile} --hidden`);
    expect(logCount(dataDir, 'EADDRINUSE')).toBe(0);

    await stopBerth(port, token);
    expect(await health(port)).toBeNull();
  }, 600_000);
});
