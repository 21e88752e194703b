import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

export const productName = 'Berth';

/**
 * The per-user data directory, the same folder Electron's app.getPath('userData')
 * gives for an app named "Berth", so the desktop app and `berth serve` share
 * settings, token and logs.
 */
export function defaultDataDir(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  home: string = os.homedir(),
  /** A hosted app's name: its folder, as Electron names the userData of an app with that productName. */
  name: string = productName,
): string {
  const join = platform === 'win32' ? path.win32.join : path.posix.join;
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), name);
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', name);
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), name);
}

let cachedRoot: string | undefined;

/** The folder holding Berth's package.json, found from wherever this file was compiled to. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === 'berth') return (cachedRoot = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Berth's package.json was not found above ${__dirname}`);
    dir = parent;
  }
}

export function appVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The built web UI (`npm run build` writes it to out/renderer). */
export function rendererDir(): string {
  return path.join(packageRoot(), 'out', 'renderer');
}
