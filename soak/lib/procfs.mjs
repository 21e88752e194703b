// Figures read from Linux /proc: TCP states on a port, a process's memory,
// open file descriptors, state and children. Elsewhere each returns null (or
// nothing) and the report says so.
import { execFile } from 'node:child_process';
import fs from 'node:fs';

const TIME_WAIT = '06';
const LISTEN = '0A';

function tcpRows() {
  const rows = [];
  let seen = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    seen = true;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      rows.push({ local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), state: f[3], inode: f[9] });
    }
  }
  return seen ? rows : null;
}

/**
 * Sockets in TIME_WAIT on `port`: `server` counts those whose local port is
 * it (the server closed first), `all` adds the client side (remote port).
 */
export function timeWait(port) {
  const rows = tcpRows();
  if (!rows) return null;
  let server = 0;
  let all = 0;
  for (const r of rows) {
    if (r.state !== TIME_WAIT) continue;
    if (r.local === port) server++;
    if (r.local === port || r.remote === port) all++;
  }
  return { server, all };
}

/** Listening sockets on `port` right now (0 between a close and the next listen). */
export function listeners(port) {
  const rows = tcpRows();
  if (!rows) return null;
  return rows.filter((r) => r.state === LISTEN && r.local === port).length;
}

/** Listening sockets on `port`, via `ss` where present (fast), else /proc. */
export function listenersAsync(port) {
  return new Promise((resolve) => {
    execFile('ss', ['-Htln', `( sport = :${port} )`], { timeout: 5000 }, (err, stdout) => {
      if (err) return resolve(listeners(port));
      resolve(stdout.split('\n').filter((l) => l.trim()).length);
    });
  });
}

/** Resident memory in KiB, from /proc/<pid>/status. */
export function rssKiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function fdCount(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * TIME_WAIT on `port` without blocking: `ss` asks the kernel over netlink with
 * a filter (fast even with thousands of sockets on the machine, where reading
 * /proc/net/tcp takes ~100 ms); without `ss`, /proc is read off the main thread.
 */
export function timeWaitAsync(port) {
  return new Promise((resolve) => {
    execFile('ss', ['-Htan', 'state', 'time-wait', `( sport = :${port} or dport = :${port} )`], { timeout: 5000 }, async (err, stdout) => {
      if (err) return resolve(await timeWaitFromProcAsync(port));
      let server = 0;
      let all = 0;
      for (const line of stdout.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4) continue;
        all++;
        if (Number(f[2].slice(f[2].lastIndexOf(':') + 1)) === port) server++;
      }
      resolve({ server, all });
    });
  });
}

async function timeWaitFromProcAsync(port) {
  let server = 0;
  let all = 0;
  let seen = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch {
      continue;
    }
    seen = true;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== TIME_WAIT) continue;
      const local = parseInt(f[1].split(':')[1], 16);
      const remote = parseInt(f[2].split(':')[1], 16);
      if (local === port) server++;
      if (local === port || remote === port) all++;
    }
  }
  return seen ? { server, all } : null;
}

/** Samples TIME_WAIT on a port about every `everyMs` (never overlapping) and keeps the peak. */
export function timeWaitSampler(port, everyMs = 50) {
  const peak = { server: 0, all: 0, samples: 0 };
  let running = true;
  const take = async () => {
    const tw = await timeWaitAsync(port);
    if (!tw) return;
    peak.samples++;
    peak.server = Math.max(peak.server, tw.server);
    peak.all = Math.max(peak.all, tw.all);
  };
  const loop = (async () => {
    while (running) {
      await take();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    peak,
    async stop() {
      running = false;
      await loop;
      await take();
      return peak;
    },
  };
}

/**
 * The fields of /proc/<pid>/stat after the command name ("pid (comm) S ppid ..."): [0] is the state, [1]
 * the parent, [11] and [12] the user and system CPU ticks. Null once the process is gone, or without /proc.
 */
function statFields(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU time used so far by `pid` (user + system, every thread), in milliseconds; null once it is gone. */
export function cpuMs(pid) {
  const f = statFields(pid);
  // Clock ticks, 100 a second on Linux.
  return f ? (Number(f[11]) + Number(f[12])) * 10 : null;
}

/** The process state letter (R, S, T for stopped, Z...), or null once it is gone. */
export function processState(pid) {
  return statFields(pid)?.[0] ?? null;
}

/**
 * Children of `pid`, every thread's: Berth starts its successor from a worker
 * thread, and a child is listed under the thread that forked it until that
 * thread ends. Where the kernel has no children lists, every process's parent.
 */
export function childrenOf(pid) {
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // gone
  }
  try {
    return tasks.flatMap((tid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch (err) {
        if (err.code === 'ENOENT' && !fs.existsSync(`/proc/${pid}/task/${tid}`)) return []; // that thread ended meanwhile
        throw err;
      }
    });
  } catch {
    const out = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      if (Number(statFields(name)?.[1]) === pid) out.push(Number(name));
    }
    return out;
  }
}
