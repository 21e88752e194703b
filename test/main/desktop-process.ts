import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'rolldown';
import { ROOT, waitFor } from '../helpers';

const SCRIPT = path.join(ROOT, 'out', 'test', 'desktop-child.cjs');
let built: Promise<void> | null = null;

/** Bundle the child's TypeScript once per run (under out/, so the app finds its package.json and UI build). */
function buildChild(): Promise<void> {
  built ??= build({
    input: path.join(ROOT, 'test/main/fixtures/desktop-child.ts'),
    platform: 'node',
    // Packages and Node's own modules load as usual; only our sources are bundled.
    external: (id) => !id.startsWith('.') && !path.isAbsolute(id),
    logLevel: 'silent',
    output: { file: SCRIPT, format: 'cjs' },
  }).then(() => undefined);
  return built;
}

/** The built child script, for a test that starts it its own way (a stand-in AppImage). */
export async function desktopChildScript(): Promise<string> {
  await buildChild();
  return SCRIPT;
}

export interface DesktopProcess {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** Quit from its menu (standard input closes) and wait for the exit code. */
  quit(): Promise<number | null>;
}

/** startDesktop with stand-in Electron objects, in a process of its own, started with this Electron command line. */
export async function desktopChild(argv: string[], env: NodeJS.ProcessEnv): Promise<DesktopProcess> {
  await buildChild();
  if (!fs.existsSync(SCRIPT)) throw new Error(`${SCRIPT} was not built`);
  const child = spawn(process.execPath, [SCRIPT, ...argv], { env: { ...process.env, ...env, BERTH_TEST_APP_PATH: ROOT }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await Promise.race([
    waitFor(() => out.includes('"event":"started"'), 'the desktop child to start'),
    exited.then((code) => {
      throw new Error(`the desktop child exited ${code} before starting:\n${out}`);
    }),
  ]);
  return {
    child,
    pid: child.pid!,
    output: () => out,
    quit: () => {
      child.stdin!.end();
      return exited;
    },
  };
}
