import { spawn } from 'node:child_process';
import path from 'node:path';
import { started, type Started } from '../app/lifecycle/plans';

/**
 * Linux AppImage: starting the image again. Electron's app.relaunch cannot:
 * its relaunch helper runs from the current executable, inside the image's
 * FUSE mount, which goes away when this process exits (electron-builder
 * #1727, #4650). The image file itself ($APPIMAGE) is outside the mount;
 * started detached, with nothing of the old mount in its environment, it
 * mounts itself afresh and outlives this process.
 */

/** The environment for a process that must not lean on this image's mount: the runtime sets APPDIR and APPIMAGE afresh. */
export function envOutsideMount(env: NodeJS.ProcessEnv, mount: string | undefined): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const inside = (p: string) => !!mount && (p === mount || p.startsWith(mount + '/'));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || ['APPDIR', 'APPIMAGE', 'ARGV0', 'OWD'].includes(k)) continue;
    if (!mount || !v.includes(mount)) {
      out[k] = v;
      continue;
    }
    // AppRun prepends the mount to PATH, LD_LIBRARY_PATH, XDG_DATA_DIRS and the like: keep the rest of each list.
    const kept = v.split(':').filter((p) => !inside(p));
    if (kept.length > 0 && kept.join(':') !== '') out[k] = kept.join(':');
  }
  return out;
}

/** Start the image file, detached from this process and from its folder; resolves once it has really started. */
export async function startAppImage(image: string, args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(image, args, { cwd: path.dirname(image), env: envOutsideMount(env, env.APPDIR), detached: true, stdio: 'ignore' });
  const s = await started(child);
  child.unref();
  return s;
}
