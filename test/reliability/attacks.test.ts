/**
 * Another local user against your Berth (docs/SECURITY.md): the attacker runs
 * as `nobody` (setpriv), Berth as the user running the tests. See
 * soak/lib/attacks.mjs for how each case is made; the soak prints the same
 * rows in its fault table.
 */
import { describe, it } from 'vitest';
import * as attacks from '../../soak/lib/attacks.mjs';
import { check, stopFaultProcessesAfterAll } from './rows';

stopFaultProcessesAfterAll();
const why = attacks.secondUserProblem();

describe('another local user', () => {
  it.skipIf(!!why)(`cannot flood the log: forged handoff proofs and requests without the token are counted, a line a minute${why ? ` (skipped: ${why})` : ''}`, async () => {
    check(await attacks.logFlood({ n: 1000 }));
  });

  it.skipIf(!!why)(`cannot lead Berth's data into a folder of theirs, or replace it under Berth: links, open and foreign parents are refused${why ? ` (skipped: ${why})` : ''}`, async () => {
    check(await attacks.preparedDataDir());
  });

  it.skipIf(!!why)(`cannot sign in or stop Berth with what \`berth open\` leaves on a command line${why ? ` (skipped: ${why})` : ''}`, async () => {
    check(await attacks.commandLineReplay());
  });

  it.skipIf(!!why)(`cannot make Berth unreachable by holding connections under a low file limit (ulimit -n 64)${why ? ` (skipped: ${why})` : ''}`, async () => {
    check(await attacks.fewDescriptors());
  });
});
