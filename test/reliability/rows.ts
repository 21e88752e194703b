import { afterAll, expect } from 'vitest';
import { procs } from '../../soak/lib/common.mjs';

/** A fault's outcome as soak/lib/faults.mjs reports it. */
export type Row = { name: string; expected: string; observed: string; ok: boolean; skipped?: boolean };

/** Print each row (the same lines the soak's table has) and fail on any that missed its expected outcome. */
export function check(rows: Row | Row[]): void {
  for (const r of [rows].flat()) {
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.observed}`);
    expect(r.ok, `${r.name}: expected ${r.expected}; observed ${r.observed}`).toBe(true);
  }
}

/** Every process the fault helpers started is stopped when the file is done. */
export function stopFaultProcessesAfterAll(): void {
  afterAll(async () => {
    await procs.killAll();
  });
}
