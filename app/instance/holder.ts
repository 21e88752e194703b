import fs from 'node:fs';
import type { ProbeResult } from './probe';

/**
 * Before a successor terminates its stuck predecessor, it makes sure the pid
 * it was given is really what holds the port. A pid that has exited and been
 * reused, or a wrong --handoff-pid, must never cost another program (or
 * another Berth) its life.
 */

/** Inodes of the sockets listening on `port` in one /proc/net/tcp or tcp6 table. */
export function listeningInodes(table: string, port: number): Set<string> {
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    // State 0A is LISTEN; the local address ends in the port, in hex.
    if (f[3] === '0A' && parseInt(f[1]!.split(':').pop()!, 16) === port) inodes.add(f[9]!);
  }
  return inodes;
}

/**
 * Linux: whether `pid` has a socket listening on `port` (from /proc).
 * null where that cannot be told (another OS, no /proc, not allowed to look).
 */
export function holdsPort(pid: number, port: number): boolean | null {
  if (process.platform !== 'linux') return null;
  const inodes = new Set<string>();
  try {
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      try {
        for (const i of listeningInodes(fs.readFileSync(table, 'utf8'), port)) inodes.add(i);
      } catch {
        // no IPv6 table on this kernel
      }
    }
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      let link: string;
      try {
        link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed while we looked
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) return true;
    }
    return false;
  } catch {
    return null;
  }
}

/**
 * Why `pid` must not be terminated to free `port`, or null when it may:
 * never ourselves; never a pid other than the one our predecessor answered
 * with; and on Linux, never a process that does not hold the port.
 */
export function refuseToTerminate(
  pid: number,
  opts: { port: number; handoffFrom: string; probes: readonly ProbeResult[]; holds?: (pid: number, port: number) => boolean | null },
): string | null {
  if (!Number.isInteger(pid) || pid <= 1) return `${pid} is not a process id Berth would terminate`;
  if (pid === process.pid) return 'it is this process';
  for (const p of opts.probes) {
    if ((p.verdict === 'predecessor' || p.verdict === 'duplicate') && p.running.instance === opts.handoffFrom && p.running.pid !== pid) {
      return `instance ${opts.handoffFrom} answered as pid ${p.running.pid}, not ${pid}`;
    }
  }
  const holds = (opts.holds ?? holdsPort)(pid, opts.port);
  if (holds === false) return `pid ${pid} does not hold port ${opts.port}`;
  // holds === null (not Linux): the pid is the one our predecessor gave us when it launched us.
  return null;
}
