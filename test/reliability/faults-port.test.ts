/**
 * Faults around the port, with their promised outcomes, on real processes: see soak/lib/faults.mjs
 * for how each is produced. Each row says what was expected and what happened.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { procs } from '../../soak/lib/common.mjs';
import * as faults from '../../soak/lib/faults.mjs';

afterAll(async () => {
  await procs.killAll();
});

type Row = { name: string; expected: string; observed: string; ok: boolean; skipped?: boolean };

function check(rows: Row | Row[]): void {
  for (const r of [rows].flat()) {
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.observed}`);
    expect(r.ok, `${r.name}: expected ${r.expected}; observed ${r.observed}`).toBe(true);
  }
}

describe('faults: processes and the port', () => {
  it('predecessor SIGKILLed mid-drain: the successor serves', async () => {
    check(await faults.killMidDrain());
  });

  it('predecessor SIGSTOPped holding the port: the successor kills exactly that pid after the deadline and serves', async () => {
    check(await faults.stoppedPredecessor());
  });

  // Regression: a --handoff-pid naming another Berth used to get that Berth SIGKILLed.
  it('never kills anything but the exact predecessor holding the port', async () => {
    const rows = await faults.neverKillsOthers();
    expect(rows).toHaveLength(3);
    check(rows);
  });

  it('a foreign web server grabbing the port between probe and bind: exit 4, clear message', async () => {
    check(await faults.foreignBetweenProbeAndBind('http'));
  });

  it('a silent listener grabbing the port between probe and bind: exit 4 after the deadline', async () => {
    check(await faults.foreignBetweenProbeAndBind('silent'));
  });

});
