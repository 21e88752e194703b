import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * A command in a real pseudo-terminal (test/support/pty-session.py, Python's
 * own pty module): what a person sees in a terminal window, Ctrl+C typed into
 * it, and the window closing. POSIX only.
 */
export interface PtySession {
  /** The process the terminal runs (its session leader). */
  pid: Promise<number>;
  /** Everything the terminal has shown so far. */
  output(): string;
  /** Resolves with its exit code (negative: the signal that killed it). */
  exited: Promise<number>;
  /** Whether it has exited yet. */
  done(): boolean;
  /** Type into the terminal: '\x03' is Ctrl+C. */
  type(text: string): void;
  /** Close the terminal, as closing its window does: the terminal hangs up. */
  hangUp(): void;
  /** Close the terminal if still open and wait until the helper is gone. */
  end(): Promise<void>;
}

export function ptySession(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): PtySession {
  const helper = spawn('python3', [path.join(__dirname, 'pty-session.py'), ...argv], { env: opts.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  let shown = '';
  let buffer = '';
  let exitCode: number | null = null;
  let resolvePid!: (pid: number) => void;
  let resolveExit!: (code: number) => void;
  const pid = new Promise<number>((r) => (resolvePid = r));
  const exited = new Promise<number>((r) => (resolveExit = r));
  const gone = new Promise<void>((r) => helper.once('exit', () => r()));
  helper.stdout!.setEncoding('utf8');
  helper.stdout!.on('data', (d: string) => {
    buffer += d;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      const event = JSON.parse(buffer.slice(0, i)) as { pid?: number; out?: string; exit?: number };
      buffer = buffer.slice(i + 1);
      if (event.pid !== undefined) resolvePid(event.pid);
      if (event.out !== undefined) shown += event.out;
      if (event.exit !== undefined) {
        exitCode = event.exit;
        resolveExit(event.exit);
      }
    }
  });
  const send = (line: string) => {
    if (helper.stdin!.writable) helper.stdin!.write(line + '\n');
  };
  return {
    pid,
    output: () => shown,
    exited,
    done: () => exitCode !== null,
    type: (text) => send(`write ${Buffer.from(text).toString('base64')}`),
    hangUp: () => send('close'),
    end: async () => {
      helper.stdin!.end();
      await gone;
    },
  };
}
