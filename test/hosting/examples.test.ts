/**
 * The two example apps, run as their authors would run them (their own
 * command, `notes serve`), through in-place restarts, relaunches and child
 * restarts under keep-alive and new-connection load: every request must get
 * its answer. These are short runs; `npm run soak` runs the counts of issue 21
 * (100 restarts and 20 relaunches each, 20 child restarts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { prepareExample, runExample } from '../../soak/lib/examples.mjs';

beforeAll(() => {
  prepareExample('notes');
  prepareExample('bookmarks');
}, 120_000);

describe('the example apps under load', () => {
  it('Notes (in process): 10 in-place restarts and 2 relaunches, 0 failed requests', async () => {
    const s = await runExample('notes', { restarts: 10, relaunches: 2 });
    console.log(`notes: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual({});
    expect(s.failed).toBe(0);
    expect(s.requests).toBeGreaterThan(100);
  }, 300_000);

  it('Bookmarks (a Python child): 10 in-place restarts, 2 relaunches and 3 child restarts, 0 failed requests', async () => {
    const s = await runExample('bookmarks', { restarts: 10, relaunches: 2, childRestarts: 3 });
    console.log(`bookmarks: ${JSON.stringify(s)}`);
    expect(s.failures).toEqual({});
    expect(s.failed).toBe(0);
    expect(s.requests).toBeGreaterThan(100);
  }, 300_000);
});
