import fs from 'node:fs';
import { errorCode } from './errors';

/** Whether a process exists (EPERM: it does, but belongs to someone else). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}

/**
 * Whether a process still runs: it exists and (Linux) is not a zombie, one
 * that has exited and that its parent has not reaped yet (a waiting `berth
 * serve` reaps the Berth it started only when it next looks).
 */
export function isAlive(pid: number): boolean {
  if (!isRunning(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}
