/**
 * Trust in what Berth reads from disk and copies from the network, on real
 * `berth` processes: see soak/lib/faults.mjs (the trust section) for how each
 * case is made. Each row says what was expected and what happened; the soak
 * prints the same rows in its fault table.
 */
import { describe, expect, it } from 'vitest';
import * as faults from '../../soak/lib/faults.mjs';
import { check, stopFaultProcessesAfterAll, type Row } from './rows';

stopFaultProcessesAfterAll();

const isRoot = process.getuid?.() === 0;
// A full disk and a read-only file system are small tmpfs mounts; say why when this machine cannot make one.
const disk = faults.smallDisk();
const diskReason = disk.dir ? null : disk.reason;
disk.dir && disk.unmount();

/** Rows must not quietly skip: a skipped row fails here unless the test itself was skipped for that reason. */
function noneSkipped(rows: Row[]): Row[] {
  expect(rows.filter((r) => r.skipped).map((r) => `${r.name}: ${r.observed}`)).toEqual([]);
  return rows;
}

describe('faults: trust in the data directory, its files and the network', () => {
  it.skipIf(!isRoot)('a data folder others can write, or that belongs to someone else, is refused with the fix (exit 2); ours but too open is left as it is, with the chmod to run; a fresh one is 0700', async () => {
    check(noneSkipped(await faults.untrustedDataDir()));
  });

  it('links, FIFOs and oversized files are refused or set aside, never followed, never a hang', async () => {
    check(await faults.unsafeFiles());
  });

  it.skipIf(!!diskReason)(`a full disk: no empty auth-token, no temp files, and messages that name the file and the cause${diskReason ? ` (skipped: ${diskReason})` : ''}`, async () => {
    check(noneSkipped(await faults.fullDisk()));
  });

  it.skipIf(!isRoot || !!diskReason)('saves that cannot be written (read-only folder as nobody, immutable file, read-only file system) say what failed and where', async () => {
    check(noneSkipped(await faults.saveFailures()));
  });

  it('a host beyond loopback from settings.json or BERTH_HOST needs the opt-in, must be this machine, and is said out loud', async () => {
    check(await faults.remoteHost());
  });

  it('escape sequences from a foreign server reach neither the terminal nor the log raw', async () => {
    check(await faults.terminalEscapes());
  });
});
