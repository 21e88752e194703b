/**
 * Faults around the port, with their promised outcomes, on real processes: see soak/lib/faults.mjs
 * for how each is produced. Each row says what was expected and what happened.
 */
import { describe, expect, it } from 'vitest';
import * as faults from '../../soak/lib/faults.mjs';
import { check, stopFaultProcessesAfterAll } from './rows';

stopFaultProcessesAfterAll();

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
