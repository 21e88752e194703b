/**
 * Faults in the data directory, with their promised outcomes, on real processes: see soak/lib/faults.mjs
 * for how each is produced. Each row says what was expected and what happened.
 */
import { describe, expect, it } from 'vitest';
import * as faults from '../../soak/lib/faults.mjs';
import { check, stopFaultProcessesAfterAll } from './rows';

stopFaultProcessesAfterAll();

const readOnly = faults.readOnlyMethod();

describe('faults: the data directory', () => {
  it.skipIf(!readOnly.method)(`read-only data dir: serves with defaults and says why, nothing changed (${readOnly.method ?? readOnly.reason})`, async () => {
    const rows = await faults.readOnlyDataDir();
    expect(rows.filter((r) => r.skipped)).toEqual([]);
    check(rows);
  });

  it('corrupt settings file: kept aside, defaults used, warning shown', async () => {
    check(await faults.corruptSettings());
  });

  it('token file missing, loose or garbage: clear message, safe outcome, nothing deleted', async () => {
    check(await faults.tokenFaults());
  });

  // Regression: every killed save used to leave its temp file behind.
  it('SIGKILL during a settings save, 30 times: the file is always valid and temp files do not pile up', async () => {
    const r = await faults.killDuringSave({ times: 30 });
    expect(r.problems).toEqual([]);
    check(r.row);
    // 30 Node starts, one after another: on a busy 2-core machine each can take seconds.
  }, 240_000);
});
