/**
 * A real Berth NSIS install updating itself on Windows: the version N
 * installer, as electron-builder built it, installs silently (/S) for this
 * user; N starts from the install folder; N+1 is published on a local update
 * location (the URL both builds have baked in); Berth's own API checks,
 * downloads and installs it, as the tray's "Restart to update" does. The
 * installer electron-updater starts closes N, installs over the same folder
 * and starts N+1 through the shell. The port is watched from outside.
 *
 * What it proves: N+1 serves on the same port; N is gone and exactly one
 * Berth main process is left; the two never answered by turns; no EADDRINUSE
 * anywhere in the log; the port was without an answer for no longer than
 * OUTAGE_BOUND_MS (N's exit, the installer's run, N+1's start).
 *
 * The installer starts N+1 without Berth's arguments and possibly without its
 * environment, so this test uses the real per-user locations
 * (%LOCALAPPDATA%\Programs\berth, %APPDATA%\Berth): it runs only where Berth
 * is not installed, as on a fresh CI runner, and uninstalls it afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, freePort, readToken, waitFor } from '../../test/helpers';
import { berthMainPids, hasRunIn, keepEvidence, logCount, serveNewVersion, servingVersion, stopBerth, updateBuilds, updateWatched, useCleanups, userEnv, writeSettings } from './update-rig';

const programs = path.join(process.env.LOCALAPPDATA ?? '', 'Programs', 'berth');
const dataDir = path.join(process.env.APPDATA ?? '', 'Berth');

const builds = updateBuilds('win32', 'e2e/desktop/update-windows.test.ts', () => {
  if (!process.env.LOCALAPPDATA || !process.env.APPDATA) return 'LOCALAPPDATA or APPDATA is not set';
  if (fs.existsSync(programs) || hasRunIn(dataDir)) return `Berth is installed or has run as this user (${programs}, ${dataDir}); this test installs Berth and uses those folders`;
  return null;
});

/**
 * The longest the port may go without an answer: N exits once the installer
 * has started, NSIS installs over the same folder (a few seconds for
 * Berth's files on a CI runner, with Defender scanning them) and starts
 * N+1, which starts Electron and binds. Far above that, and still a bound a
 * hung installer or a lost N+1 start would break.
 */
const OUTAGE_BOUND_MS = 45_000;

const cleanups = useCleanups();

function run(file: string, args: string[]): Promise<number | string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore', windowsHide: true });
    child.once('error', reject);
    child.once('exit', (code, sig) => resolve(code ?? sig ?? -1));
  });
}

describe.skipIf(!builds)('NSIS update on Windows (real Electron, real electron-updater)', () => {
  it('N updates itself to N+1: same port, one process, N gone, no EADDRINUSE', async () => {
    const b = builds!;
    const port = await freePort();
    writeSettings(dataDir, { port });
    const exe = path.join(programs, 'Berth.exe');

    // A silent per-user install, as an administrator would script it.
    expect(await run(path.join(b.old.dir, b.old.artifact), ['/S'])).toBe(0);
    expect(fs.existsSync(exe)).toBe(true);
    cleanups.push(async () => {
      for (const pid of berthMainPids()) if (alive(pid)) process.kill(pid);
      const uninstaller = path.join(programs, 'Uninstall Berth.exe');
      if (fs.existsSync(uninstaller)) await run(uninstaller, ['/S']);
    });
    // Berth's logs (electron-updater's lines among them) and electron-updater's download cache.
    keepEvidence(cleanups, 'windows', { folders: [path.join(dataDir, 'logs'), path.join(process.env.LOCALAPPDATA ?? '', 'berth-updater')] });

    const location = await serveNewVersion(b, cleanups);

    // Started as from the Start menu: no arguments; Berth's own settings give the port.
    const n = spawn(exe, [], { env: userEnv(), stdio: 'ignore', detached: true });
    n.unref();
    const before = await servingVersion(port, b.old.version, { dataDir, timeoutMs: 90_000 });
    expect(berthMainPids()).toEqual([before.pid]);
    const token = readToken(dataDir);

    const { after, seen } = await updateWatched(b, port, token, before, dataDir);
    const size = fs.statSync(path.join(b.new.dir, b.new.artifact)).size;
    console.log(`NSIS update ${b.old.version} -> ${b.new.version}: port without an answer for ${seen.longestOutageMs} ms (bound ${OUTAGE_BOUND_MS} ms: N exits, the installer runs, N+1 starts); ${seen.attempts} attempts, failures ${JSON.stringify(seen.failures)}; downloaded ${location.bytesSent(b.new.artifact)} of ${size} bytes`);

    expect(after.pid).not.toBe(before.pid);
    expect(seen.served.map((s) => s.version)).toEqual([b.old.version, b.new.version]);
    expect(seen.interleaved).toBe(false);
    expect(seen.longestOutageMs).toBeLessThanOrEqual(OUTAGE_BOUND_MS);
    expect(berthMainPids()).toEqual([after.pid]);
    // The same install folder: a firewall rule or shortcut for Berth.exe keeps working.
    const installed = execFileSync('powershell.exe', ['-NoProfile', '-Command', `(Get-Item '${exe}').VersionInfo.ProductVersion`], { encoding: 'utf8' }).trim();
    // electron-builder writes the version into the executable (as x.y.z or x.y.z.0).
    expect(installed.startsWith(b.new.version), installed).toBe(true);
    expect(logCount(dataDir, 'EADDRINUSE')).toBe(0);

    await stopBerth(port, token);
    await waitFor(() => berthMainPids().length === 0, 'every Berth process to exit', 30_000);
  }, 600_000);
});
