// @ts-expect-error: plain JavaScript shared with the soak (soak/lib/procfs.mjs), no type declarations.
import { timeWait } from '../../soak/lib/procfs.mjs';

/** Sockets in TIME_WAIT touching `port` (either side), from /proc/net/tcp{,6}. Linux only; null elsewhere. */
export function timeWaitCount(port: number): number | null {
  return (timeWait(port) as { all: number } | null)?.all ?? null;
}
