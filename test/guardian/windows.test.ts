/**
 * The guardian's PowerShell script, run for real on Windows (CI's Windows
 * job runs this file in a step of its own): an installer stand-in that fails
 * after it starts, and a real `berth serve` where the installed app would
 * be. The relaunch and Restart app files run the same script on Windows too.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { guardianFolder, startGuardian } from '../../app/guardian/guardian';
import { alive, BERTH_BIN, freePort, health, readToken, tempDataDir, waitFor } from '../helpers';
import { countingRelaunch, dataDirWithMarker, exited, gone, records, starts } from './support';

const ends: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (ends.length) await ends.pop()!();
});

describe.runIf(process.platform === 'win32')('the guardian on Windows (PowerShell, for real)', () => {
  it('an installer that fails after it starts: the guardian waits for it, learns its exit code, and starts the installed Berth once', async () => {
    const port = await freePort();
    const dataDir = tempDataDir('berth-gtest-');
    // It runs until told, then exits 2, like an NSIS installer that could not replace a file.
    const installer = spawn(process.execPath, ['-e', "process.stdin.on('end', () => process.exit(2)); process.stdin.resume()"], { stdio: ['pipe', 'ignore', 'ignore'] });
    const g = await startGuardian({
      dataDir,
      host: '127.0.0.1',
      port,
      fromVersion: '1.0.0',
      what: 'the update to 1.0.1',
      toVersion: '1.0.1',
      waitForPid: installer.pid,
      allowanceMs: 2000,
      relaunch: { command: process.execPath, args: [BERTH_BIN, 'serve', '--port', String(port), '--data-dir', dataDir] },
    });
    // Its script is gone from disk already, and the installer's handle is the guardian's.
    expect(fs.existsSync(g.folder)).toBe(false);
    installer.stdin!.end();
    await exited(installer);
    expect(installer.exitCode).toBe(2);

    const h = await waitFor(() => health(port), 'the installed Berth to serve', 60_000);
    ends.push(async () => {
      fs.rmSync(guardianFolder(dataDir), { recursive: true, force: true });
      process.kill(h.pid, 'SIGTERM');
      await waitFor(() => !alive(h.pid), 'the Berth the guardian started to stop');
    });
    const res = await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${readToken(dataDir)}` } });
    const status = (await res.json()) as { history: { kind: string; detail?: string }[] };
    expect(status.history.filter((e) => e.kind === 'recovered').map((e) => e.detail)).toEqual(['The update to 1.0.1 failed (installer exit 2); Berth 1.0.0 is running.']);
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(records(dataDir)).toEqual([]);
  }, 120_000);

  it('the data folder is removed: the guardian ends, starts nothing, and nothing of it is left', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const g = await startGuardian({ dataDir, host: '127.0.0.1', port: 8787, fromVersion: '1.0.0', what: 'Restart app', allowanceMs: 60_000, relaunch: countingRelaunch(marker) });
    expect(fs.existsSync(g.folder)).toBe(false);
    fs.rmSync(dataDir, { recursive: true, force: true });
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(starts(marker)).toBe(0);
  }, 60_000);
});
