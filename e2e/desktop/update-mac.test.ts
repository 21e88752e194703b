/**
 * A real, signed Berth updating itself on macOS through Squirrel.Mac: the
 * version N app, unpacked from the zip electron-builder built, runs from a
 * folder of the test's own; N+1 is published on a local update location (the
 * URL both builds have baked in); Berth's own API checks, downloads and
 * installs it, as the tray's "Restart to update" does. Squirrel.Mac replaces
 * the app bundle once N has quit and starts N+1. The port is watched from
 * outside.
 *
 * What it proves: N+1 serves on the same port from the same bundle path, N is
 * gone, exactly one Berth main process is left, the two never answered by
 * turns, no EADDRINUSE in the log. Squirrel.Mac installs only an update
 * signed by the same Developer ID as the running app, so this runs only with
 * signed builds (the CI job builds them when the signing secrets exist).
 *
 * Squirrel.Mac relaunches the app without Berth's arguments or environment,
 * so this test uses the real data folder (~/Library/Application Support/Berth):
 * it runs only where Berth has never run, as on a fresh CI runner.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, freePort, readToken, tempDataDir, waitFor } from '../../test/helpers';
import { berthMainPids, hasRunIn, keepEvidence, logCount, serveNewVersion, servingVersion, stopBerth, updateBuilds, updateWatched, useCleanups, userEnv, writeSettings } from './update-rig';

const dataDir = path.join(os.homedir(), 'Library', 'Application Support', 'Berth');

/** The Developer ID a bundle is signed with, or null (unsigned, or only ad-hoc signed). */
function developerId(app: string): string | null {
  try {
    // codesign prints its details on stderr.
    const out = execFileSync('codesign', ['-dv', '--verbose=2', app], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /Authority=(Developer ID Application[^\n]*)/.exec(out)?.[1] ?? null;
  } catch (err) {
    const text = String((err as { stderr?: string }).stderr ?? '');
    return /Authority=(Developer ID Application[^\n]*)/.exec(text)?.[1] ?? null;
  }
}

function unzip(zip: string, dest: string): string {
  // ditto keeps the bundle's symlinks and signature intact, as Finder does.
  execFileSync('ditto', ['-x', '-k', zip, dest]);
  const app = fs.readdirSync(dest).find((f) => f.endsWith('.app'));
  if (!app) throw new Error(`no .app in ${zip}`);
  return path.join(dest, app);
}

let checkedApp: string | null = null;
const builds = updateBuilds('darwin', 'e2e/desktop/update-mac.test.ts', () =>
  hasRunIn(dataDir) ? `Berth has run as this user (${dataDir}); this test uses Berth's real data folder, so it runs only where Berth never has` : null,
);
if (builds) {
  checkedApp = unzip(path.join(builds.old.dir, builds.old.artifact), tempDataDir('berth-update-mac-'));
  if (!developerId(checkedApp)) {
    const reason = `${builds.old.artifact} is not signed with a Developer ID, and Squirrel.Mac installs only signed updates`;
    if (process.env.BERTH_REQUIRE_ELECTRON === '1') throw new Error(`e2e/desktop/update-mac.test.ts: BERTH_REQUIRE_ELECTRON=1 but ${reason}`);
    console.log(`e2e/desktop/update-mac.test.ts: skipped, ${reason}.`);
    checkedApp = null;
  }
}

/**
 * The longest the port may go without an answer. Squirrel.Mac has fetched,
 * unzipped and verified N+1 while N still served (app/update/formats/mac.ts),
 * so what is left is N's quit, the bundle swap (a rename) and N+1's start:
 * seconds. The bound leaves room for a slow runner, and fails a regression to
 * staging after the port has closed (a download and a signature check).
 */
const OUTAGE_BOUND_MS = 15_000;

const cleanups = useCleanups();

describe.skipIf(!checkedApp)('Squirrel.Mac update on macOS (real, signed Electron app)', () => {
  it('N updates itself to N+1: same port, same bundle, one process, N gone', async () => {
    const b = builds!;
    const app = checkedApp!;
    const port = await freePort();
    writeSettings(dataDir, { port });
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));

    await serveNewVersion(b, cleanups);

    const n = spawn(path.join(app, 'Contents', 'MacOS', 'Berth'), [], { env: userEnv(), stdio: 'ignore', detached: true });
    n.unref();
    cleanups.push(() => {
      for (const pid of berthMainPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    // Berth's logs (electron-updater's lines among them), and Squirrel.Mac's own: ShipIt logs what it swapped, or why not.
    keepEvidence(cleanups, 'macos', { folders: [path.join(dataDir, 'logs'), path.join(os.homedir(), 'Library', 'Caches', 'dev.berth.app.ShipIt')] });
    const before = await servingVersion(port, b.old.version, { dataDir, timeoutMs: 90_000 });
    const token = readToken(dataDir);

    const { after, seen } = await updateWatched(b, port, token, before, dataDir);
    console.log(`Squirrel.Mac update ${b.old.version} -> ${b.new.version}: port without an answer for ${seen.longestOutageMs} ms (bound ${OUTAGE_BOUND_MS} ms: N quits, Squirrel.Mac swaps the bundle, N+1 starts); ${seen.attempts} attempts, failures ${JSON.stringify(seen.failures)}`);

    expect(seen.served.map((s) => s.version)).toEqual([b.old.version, b.new.version]);
    expect(seen.interleaved).toBe(false);
    expect(seen.longestOutageMs).toBeLessThanOrEqual(OUTAGE_BOUND_MS);
    expect(berthMainPids()).toEqual([after.pid]);
    const bundleVersion = execFileSync('plutil', ['-extract', 'CFBundleShortVersionString', 'raw', path.join(app, 'Contents', 'Info.plist')], { encoding: 'utf8' }).trim();
    expect(bundleVersion).toBe(b.new.version);
    expect(logCount(dataDir, 'EADDRINUSE')).toBe(0);

    await stopBerth(port, token);
    await waitFor(() => berthMainPids().length === 0, 'every Berth process to exit', 30_000);
  }, 600_000);
});
