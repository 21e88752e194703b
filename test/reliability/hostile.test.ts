/**
 * Hostile input against a running `berth serve`, over raw sockets: every case
 * is refused with its status, and the same server keeps serving throughout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, procs, readToken, rmDir, startServe, stopBerth, tempDir } from '../../soak/lib/common.mjs';
import { runHostile } from '../../soak/lib/hostile.mjs';

afterAll(async () => {
  await procs.killAll();
});

describe('hostile input', () => {
  it('malformed, oversized, slow, traversal, rebinding, cross-site and token cases are all refused; the server keeps serving', async () => {
    const port = await freePort();
    const dataDir = tempDir('berth-test-hostile-');
    const server = await startServe(port, dataDir);
    try {
      const r = await runHostile({ port, token: readToken(dataDir), slowCount: 20, slowBody: false, timingSamples: 50 });
      const table = r.rows.map((x: { ok: boolean; group: string; name: string; expect: string; status: unknown; detail: string }) =>
        `${x.ok ? 'ok  ' : 'FAIL'} ${x.group.padEnd(10)} ${x.name.padEnd(52)} expected ${String(x.expect).padEnd(20)} got ${x.status}${x.detail ? ` (${x.detail})` : ''}`,
      );
      console.log(table.join('\n'));
      console.log(`token timing (figure only): nearly right p50 ${r.timing.nearlyRight.p50} ms, all wrong p50 ${r.timing.allWrong.p50} ms`);
      expect(r.rows.filter((x: { ok: boolean }) => !x.ok)).toEqual([]);
      expect(r.rows.length).toBeGreaterThan(60);
      expect(r.survived).toBe(true);
      expect(r.timing.ok).toBe(true);
    } finally {
      await stopBerth(server);
      rmDir(dataDir);
    }
  });
});
