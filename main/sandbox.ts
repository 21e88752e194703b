import fs from 'node:fs';

/**
 * Linux: whether Chromium's sandbox can work for a process like this one.
 * It needs unprivileged user namespaces, which Ubuntu 23.10 and later
 * restrict through AppArmor (kernel.apparmor_restrict_unprivileged_userns=1)
 * unless a profile allows them for the binary, and which Debian's older
 * kernels can switch off (kernel.unprivileged_userns_clone=0). The fallback,
 * a setuid-root chrome-sandbox, is impossible in an AppImage (its FUSE mount
 * is nosuid). The deb installs an AppArmor profile, so it keeps the sandbox.
 */
export function userNamespacesRestricted(read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8')): boolean {
  const value = (file: string) => {
    try {
      return read(file).trim();
    } catch {
      return null;
    }
  };
  return value('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1' || value('/proc/sys/kernel/unprivileged_userns_clone') === '0';
}

export interface SandboxContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** This process's command line after the executable. */
  argv: readonly string[];
  read?: (file: string) => string;
}

/**
 * The one decision on --no-sandbox for a successor of this Berth (Restart
 * app, the update relaunch): needed on Linux when user namespaces are
 * restricted and either this is an AppImage (no sandbox it could use: its
 * launcher, electron-builder's AppRun, adds the switch for the first start
 * in the same case) or this process itself had to run without it. Anywhere
 * else the successor keeps Chromium's sandbox. docs/SECURITY.md says what
 * running without it means for Berth.
 */
export function needsNoSandbox(ctx: SandboxContext): boolean {
  if (ctx.platform !== 'linux') return false;
  if (!ctx.env.APPIMAGE && !ctx.argv.includes('--no-sandbox')) return false;
  return userNamespacesRestricted(ctx.read);
}

/** The Chromium switches a successor needs just to start: ['--no-sandbox'] or nothing. */
export function successorSwitches(ctx: SandboxContext): string[] {
  return needsNoSandbox(ctx) ? ['--no-sandbox'] : [];
}
