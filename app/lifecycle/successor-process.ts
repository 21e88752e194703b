/**
 * Start a successor without waiting for it on this thread. libuv's spawn
 * blocks its thread until the child has called exec (it reads a pipe that
 * exec closes); a child stopped between its fork and its exec would freeze
 * the whole server. So the spawn runs on a worker thread, which also holds
 * the IPC channel to the successor and passes its messages on. Only Linux
 * has that window (libuv forks there; macOS uses posix_spawn, Windows
 * CreateProcess), and there a fork stuck before its exec can be found and
 * ended: it is our child with our own command line.
 */
import fs from 'node:fs';
import type { SpawnOptions } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import type { PredecessorMessage, SuccessorMessage } from './successor-protocol';
import { isSuccessorMessage } from './successor-protocol';

/** A successor started from a worker thread; its channel, when it has one, is relayed through that thread. */
export interface SuccessorProcess {
  /** Resolves with the pid once the process has started (its `spawn` event), rejects if it could not be started. */
  started: Promise<number>;
  /** Resolves with the exit code (128 for a signal) when it exits. */
  exited: Promise<number | null>;
  /** How it ended, in words ("exited with code 1", "was ended by SIGKILL"), once it has. */
  readonly ended: string | null;
  /**
   * What it says on its channel, in order. A listening socket sent with a
   * message (the one it was handed) is kept on the worker thread, a copy of
   * our own, and `fd` is its descriptor.
   */
  onMessage(fn: (m: SuccessorMessage, fd: number | null) => void): void;
  /** Say something on its channel (nothing happens without one). */
  send(m: PredecessorMessage): void;
  /** SIGKILL it, or the fork of ours that never reached its exec. */
  kill(): void;
  /** Let it go: close the channel and any socket it sent, and stop watching it (it runs on by itself). */
  release(): void;
  /**
   * Keep the socket it sent, for this process to serve on again (its
   * descriptor), and let go of the rest. The worker thread that holds it
   * stays, idle, until this process exits: a thread that ends closes its
   * handles, and this one's descriptor is now also ours.
   */
  keepSocket(): void;
}

// Plain CommonJS run on the worker: no import of this bundle, so it works wherever the bundle is.
const WORKER = `
const { spawn } = require('node:child_process');
const { parentPort, workerData } = require('node:worker_threads');
let child = null;
const held = [];
let keeping = null;
const letGo = () => {
  if (child) {
    if (child.connected) child.disconnect();
    child.unref();
  }
  parentPort.close();
};
parentPort.on('message', (cmd) => {
  if (cmd.t === 'send' && child && child.connected) child.send(cmd.m, () => undefined);
  else if (cmd.t === 'kill' && child) child.kill('SIGKILL');
  else if (cmd.t === 'release') {
    for (const h of held.splice(0)) h.close();
    letGo();
  } else if (cmd.t === 'keep') {
    keeping = setInterval(() => undefined, 2 ** 30);
    letGo();
  }
});
try {
  child = spawn(workerData.command, workerData.args, workerData.options);
} catch (err) {
  parentPort.postMessage({ t: 'error', message: err.message });
  parentPort.close();
}
if (child) {
  child.once('error', (err) => parentPort.postMessage({ t: 'error', message: err.message }));
  child.once('spawn', () => parentPort.postMessage({ t: 'spawned', pid: child.pid }));
  child.on('message', (m, handle) => {
    if (handle) held.push(handle);
    parentPort.postMessage({ t: 'message', m, fd: handle && typeof handle.fd === 'number' && handle.fd >= 0 ? handle.fd : null });
  });
  child.once('exit', (code, signal) => {
    parentPort.postMessage({ t: 'exit', code: code ?? (signal ? 128 : null), signal });
    // A socket it sent stays until this process says whether it serves on it again.
    if (!held.length) parentPort.close();
  });
}
`;

type FromWorker = { t: 'spawned'; pid: number } | { t: 'error'; message: string } | { t: 'message'; m: unknown; fd: number | null } | { t: 'exit'; code: number | null; signal: string | null };

export function startSuccessor(command: string, args: readonly string[], options: Pick<SpawnOptions, 'detached' | 'windowsHide' | 'env'> & { stdio: (number | 'ignore' | 'inherit' | 'ipc')[] }): SuccessorProcess {
  const worker = new Worker(WORKER, { eval: true, workerData: { command, args, options }, stdout: false, stderr: false });
  // The worker never keeps this process alive: the server does, and an exit must not wait for it.
  worker.unref();
  let pid: number | null = null;
  let done = false;
  let ended: string | null = null;
  const listeners: ((m: SuccessorMessage, fd: number | null) => void)[] = [];
  let resolveStarted!: (pid: number) => void;
  let rejectStarted!: (err: Error) => void;
  const started = new Promise<number>((res, rej) => ((resolveStarted = res), (rejectStarted = rej)));
  started.catch(() => undefined);
  let resolveExited!: (code: number | null) => void;
  const exited = new Promise<number | null>((r) => (resolveExited = r));
  worker.on('message', (msg: FromWorker) => {
    if (msg.t === 'spawned') {
      pid = msg.pid;
      resolveStarted(msg.pid);
    } else if (msg.t === 'error') {
      rejectStarted(new Error(msg.message));
      if (pid === null) resolveExited(null);
    } else if (msg.t === 'message') {
      if (isSuccessorMessage(msg.m)) for (const fn of listeners) fn(msg.m, msg.fd);
    } else if (msg.t === 'exit') {
      done = true;
      ended = msg.signal ? `was ended by ${msg.signal}` : `exited with code ${msg.code}`;
      resolveExited(msg.code);
    }
  });
  worker.once('error', (err) => rejectStarted(err));
  return {
    started,
    exited,
    get ended() {
      return ended;
    },
    onMessage: (fn) => void listeners.push(fn),
    send: (m) => worker.postMessage({ t: 'send', m }),
    kill() {
      if (done) return;
      if (pid !== null) {
        worker.postMessage({ t: 'kill' });
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        return;
      }
      // Not started yet: a fork of ours stuck before its exec (Linux), which the worker waits on.
      for (const fork of forksBeforeExec()) {
        try {
          process.kill(fork, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    },
    release() {
      done = true;
      worker.postMessage({ t: 'release' });
    },
    keepSocket() {
      done = true;
      worker.postMessage({ t: 'keep' });
    },
  };
}

/**
 * Linux: children of this process that have not called exec yet, told by
 * their command line, which is still ours. Elsewhere there is no such
 * window to be stuck in (posix_spawn, CreateProcess), and none is found.
 */
export function forksBeforeExec(): number[] {
  if (process.platform !== 'linux') return [];
  const read = (file: string): string | null => {
    try {
      return fs.readFileSync(file, 'latin1');
    } catch {
      return null;
    }
  };
  const own = read('/proc/self/cmdline');
  if (own === null) return [];
  const found: number[] = [];
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of pids) {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so read after the last ')'.
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid && read(`/proc/${name}/cmdline`) === own) found.push(Number(name));
  }
  return found;
}
