import fs from 'node:fs';

/** Count sockets in TIME_WAIT (state 06) touching `port`, from /proc/net/tcp{,6}. Linux only; null elsewhere. */
export function timeWaitCount(port: number): number | null {
  let count = 0;
  let seen = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    seen = true;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '06') continue;
      const local = parseInt(f[1]!.split(':')[1]!, 16);
      const remote = parseInt(f[2]!.split(':')[1]!, 16);
      if (local === port || remote === port) count++;
    }
  }
  return seen ? count : null;
}
