/**
 * Vitest's global setup: before the run, fail at once where the update
 * suites' tools are required (BERTH_REQUIRE_UPDATE_TOOLS=1) and missing;
 * after it, one line naming the suites skipped for missing tools and the
 * apt-get command that brings them back (test/requirements.mjs).
 */
import { skippedLine } from './requirements.mjs';

export function setup() {
  const line = skippedLine();
  if (line && process.env.BERTH_REQUIRE_UPDATE_TOOLS === '1') throw new Error(`BERTH_REQUIRE_UPDATE_TOOLS=1, but: ${line}`);
  return () => {
    if (line) process.stdout.write(`\n${line}\n`);
  };
}
