/**
 * Start storm (short): 16 `berth serve` at once on one fresh port. Exactly one
 * serves; every other exits 3 saying which Berth is running.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { procs } from '../../soak/lib/common.mjs';
import { runStorms } from '../../soak/lib/storm.mjs';

afterAll(async () => {
  await procs.killAll();
});

describe('start storm', () => {
  it('16 starts at once, 2 rounds: one serves, fifteen exit 3 with the running URL and pid', async () => {
    const r = await runStorms({ rounds: 2, size: 16 });
    console.log(`storm: ${r.okRounds}/${r.rounds} rounds ok, exit 3 with message ${r.exit3WithMessage}, settle p50 ${r.settleMs.p50} ms`);
    expect(r.failures).toEqual([]);
    expect(r.exactlyOneServing).toBe(2);
    expect(r.exit3WithMessage).toBe(2 * 15);
  });
});
