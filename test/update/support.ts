/**
 * The real electron-updater (AppImageUpdater unless told otherwise), built
 * the way `berth serve` builds it, in this test process, against a local
 * update server that serves what electron-builder built (fixtures/artifacts.mjs).
 *
 * The installed app is a real AppImage under its default, versioned name
 * (Berth-1.0.0-linux-x86_64.AppImage) at APPIMAGE, which is how that updater
 * finds the file it replaces. An install runs the new AppImage, which starts
 * `berth serve`: the rig points BERTH_PORT and BERTH_DATA_DIR at its own port
 * and data directory, so whatever an install starts stays inside the test.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { desktopEntry } from '../../app/autostart';
import { memoryLogSink, type LogSink } from '../../app/log';
import type { Settings } from '../../app/settings/settings';
import { makeNodeUpdater } from '../../app/update/headless';
import { AppImageInstall } from '../../app/update/formats/appimage';
import { debFormat } from '../../app/update/formats/deb';
import type { UpdaterClass } from '../../app/update/formats/format';
import { macInstall } from '../../app/update/formats/mac';
import { nsisInstall } from '../../app/update/formats/nsis';
import { rpmFormat } from '../../app/update/formats/rpm';
import { UpdateService, type UpdateHooks } from '../../app/update/service';
import type { UpdateStatus } from '../../app/update/state';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { tempDataDir, waitFor } from '../helpers';
// Plain ES modules, shared with the benchmark (which runs without a TypeScript step).
import { startUpdateServer } from './fixtures/update-server.mjs';
import { buildProblem, buildRelease } from './fixtures/artifacts.mjs';
import { healthOnce } from './fixtures/rig.mjs';
import { running } from './fixtures/installed-app.mjs';

/** A release electron-builder built (fixtures/artifacts.mjs). */
export interface Build {
  kind: 'appimage' | 'mac-zip';
  version: string;
  dir: string;
  name: string;
  file: string;
  blockmap: string | null;
  manifestName: string;
  manifest: string;
  size: number;
}

/** Why real builds cannot be made here (a tool missing), or null. */
export const appImageBuildProblem: string | null = buildProblem('appimage');
export const macZipBuildProblem: string | null = buildProblem('mac-zip');

/** Build (or take from the cache) these versions as real AppImages, keyed by version. */
export async function appImages(...versions: string[]): Promise<Record<string, Build>> {
  const out: Record<string, Build> = {};
  for (const v of versions) out[v] = (await buildRelease('appimage', v)) as Build;
  return out;
}

/** Whether two files hold the same bytes (compared by hash: a deep equality on megabytes is very slow). */
export function sameBytes(a: string, b: string): boolean {
  const hash = (f: string) => crypto.createHash('sha512').update(fs.readFileSync(f)).digest('base64');
  return hash(a) === hash(b);
}

/** A stand-in AppImage: a script that exits at once, padded to `size` bytes; for tests that never need a real one. */
export function appImageBytes(version: string, size = 4096, body = 'exit 0'): Buffer {
  const head = `#!/bin/sh\n# Berth ${version}\n${body}\n`;
  return Buffer.from(head + '#'.repeat(Math.max(0, size - head.length - 1)) + '\n');
}

/** The name electron-builder gives Berth's AppImage (artifactName in electron-builder.yml). */
export const appImageName = (version: string) => `Berth-${version}-linux-x86_64.AppImage`;

export type UpdateServer = Awaited<ReturnType<typeof startUpdateServer>> & {
  url: string;
  requests: { method: string; path: string; headers: Record<string, string | undefined>; remotePort: number }[];
  publish(o: Record<string, unknown>): { yml: string; sha512: string; size: number };
  publishBuild(b: Build, o?: { channel?: string; stagingPercentage?: number; tamper?: boolean }): { yml: string; size: number };
  bytesServed(path: string): number;
  status(path: string, status: number): void;
  redirect(path: string, location: string, status?: number): void;
  fault(path: string, kind: 'stall' | 'drop', after: number): void;
  honourRanges(on: boolean): void;
  publishManifest(name: string, text: string): void;
  throttle(bps: number): void;
  close(): Promise<void>;
};

export async function updateServer(opts?: { tls?: { key: string; cert: string } }): Promise<UpdateServer> {
  return (await startUpdateServer(opts)) as UpdateServer;
}

const dirsMade: string[] = [];
/** The rigs' ports, and whether an install was handed over there (then a new version is on its way). */
const successorPorts: { port: number; installing: () => boolean }[] = [];

/** The environment the rigs change, as it was before the first one. */
const RIG_ENV = ['APPIMAGE', 'BERTH_PORT', 'BERTH_DATA_DIR', 'BERTH_UPDATE_URL', 'BERTH_TEST_CONSOLE_LOG'] as const;
let envBefore: Partial<Record<(typeof RIG_ENV)[number], string | undefined>> | null = null;

/** Remove the data directories this file's rigs made, and give the environment back (call from afterAll). */
export function removeRigDirs(): void {
  for (const d of dirsMade.splice(0)) fs.rmSync(d, { recursive: true, force: true, maxRetries: 5 });
  if (envBefore) {
    for (const k of RIG_ENV) {
      if (envBefore[k] === undefined) delete process.env[k];
      else process.env[k] = envBefore[k];
    }
    envBefore = null;
  }
}

/** Stop whatever an install started on a rig's port, waiting for it if an install was handed over (call from afterEach). */
export async function stopSuccessors(): Promise<void> {
  for (const { port, installing } of successorPorts.splice(0)) {
    const other = async () => {
      const h = (await healthOnce(port, 500)) as { pid: number } | null;
      return h && h.pid !== process.pid ? h : null;
    };
    const h = installing() ? await waitFor(other, `the new version to serve on port ${port}`, 60_000, 50) : await other();
    if (!h) continue;
    process.kill(h.pid, 'SIGTERM');
    await waitFor(() => !running(h.pid), `the successor (pid ${h.pid}) to stop`);
  }
}

/** A temporary directory removed with the rigs' (removeRigDirs). */
export function tempDir(): string {
  const d = tempDataDir('berth-update-');
  dirsMade.push(d);
  return d;
}

export interface Rig {
  dataDir: string;
  /** Where the installed AppImage is (APPIMAGE); an update may move it (see appimage-filename-updated). */
  appImage: string;
  /** Where an install's new version serves (BERTH_PORT), when the rig was given one. */
  port: number | null;
  logs: LogSink;
  service: UpdateService;
  settings: Settings['update'];
  changes: UpdateStatus[];
  updater: () => AppUpdater;
  /** Check, then wait for the download it started (if any) to finish. */
  checkAndSettle(): Promise<UpdateStatus>;
  logText(): string;
}

export function makeRig(opts: {
  version: string;
  feedUrl: string;
  /**
   * The real AppImage installed at APPIMAGE (its bytes; the rig's version string is what the updater is
   * told). Without it, a stand-in script that exits at once (appImageBytes), for tests that never run it.
   */
  installed?: Build;
  /** The installed file's name: default electron-builder's, with the version in it. */
  fileName?: string;
  /** The folder it is installed in (default <dataDir>/install). */
  installDir?: string;
  settings?: Partial<Settings['update']>;
  /** electron-updater's class, and with it the install format (default AppImageUpdater: the AppImage format, installing beside). */
  kind?: UpdaterClass;
  platform?: 'win32' | 'darwin' | 'linux';
  /** deb: the privilege prompt (a stand-in pkexec). */
  elevate?: string[];
  hooks?: UpdateHooks;
  blockerWaitMs?: number;
  dataDir?: string;
  /** The port the rig's server and an install's new version use (BERTH_PORT); needed to install a real AppImage. */
  port?: number;
  logs?: LogSink;
  /** Automatic checks (settings.autoCheck): the first after this long, then every checkIntervalMs. */
  firstCheckDelayMs?: number;
  checkIntervalMs?: number;
  /** How long a download may go without a byte before it is `stalled`. */
  stallAfterMs?: number;
}): Rig {
  if (opts.installed && opts.hooks && opts.port == null) {
    throw new Error('a rig that can install a real AppImage needs a port for the new version to serve on (BERTH_PORT)');
  }
  const dataDir = opts.dataDir ?? tempDataDir('berth-update-');
  dirsMade.push(dataDir);
  const appImage = path.join(opts.installDir ?? path.join(dataDir, 'install'), opts.fileName ?? appImageName(opts.version));
  fs.mkdirSync(path.dirname(appImage), { recursive: true });
  if (opts.installed) fs.copyFileSync(opts.installed.file, appImage);
  else fs.writeFileSync(appImage, appImageBytes(opts.version));
  fs.chmodSync(appImage, 0o755);
  const port = opts.port ?? null;
  envBefore ??= Object.fromEntries(RIG_ENV.map((k) => [k, process.env[k]]));
  if (port === null) delete process.env.BERTH_PORT;
  Object.assign(process.env, {
    APPIMAGE: appImage,
    ...(port === null ? {} : { BERTH_PORT: String(port) }),
    BERTH_DATA_DIR: dataDir,
    // The new version's own checks go to the test's server too, never to the build's default feed.
    BERTH_UPDATE_URL: opts.feedUrl,
    BERTH_TEST_CONSOLE_LOG: path.join(dataDir, 'console.log'),
  });
  const logs = opts.logs ?? memoryLogSink();
  const settings: Settings['update'] = { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false, ...opts.settings };
  let made: AppUpdater | null = null;
  const updater = () => {
    if (made) return made;
    made = makeNodeUpdater(kind, { dataDir, version: opts.version, logs, feedUrl: opts.feedUrl });
    // Which manifest the generic provider reads is chosen by platform; electron-builder's own tests pick it the same way.
    if (opts.platform) (made as unknown as { _testOnlyOptions: unknown })._testOnlyOptions = { platform: opts.platform, isUseDifferentialDownload: false };
    return made;
  };
  const formatOptions = { dataDir, log: logs.root.child({ scope: 'update' }), elevate: opts.elevate };
  const kind = opts.kind ?? 'AppImageUpdater';
  const format =
    kind === 'AppImageUpdater'
      ? new AppImageInstall(formatOptions, appImage)
      : kind === 'NsisUpdater'
        ? nsisInstall({ electron: false })
        : kind === 'MacUpdater'
          ? macInstall()
          : (kind === 'DebUpdater' ? debFormat : rpmFormat).create(formatOptions, { platform: 'linux', electron: false, appImage: null, packageType: null, snap: false });
  const service = new UpdateService({
    updater,
    format,
    currentVersion: opts.version,
    settings: () => settings,
    dataDir,
    hooks: opts.hooks ?? { handOver: async () => Promise.reject(new Error('no host in this test')) },
    blockerWaitMs: opts.blockerWaitMs,
    buildFeedUrl: opts.feedUrl,
    firstCheckDelayMs: opts.firstCheckDelayMs,
    checkIntervalMs: opts.checkIntervalMs,
    ...(opts.stallAfterMs === undefined ? {} : { stallAfterMs: opts.stallAfterMs }),
    log: logs.root.child({ scope: 'update' }),
  });
  const changes: UpdateStatus[] = [];
  service.on('change', (s) => changes.push(s));
  // Installing with no blockers left: the installer has been (or is being) started.
  if (port !== null) successorPorts.push({ port, installing: () => service.status().state === 'installing' && service.status().blockers?.length === 0 });
  return {
    dataDir,
    appImage,
    port,
    logs,
    service,
    settings,
    changes,
    updater,
    async checkAndSettle() {
      await service.check();
      return service.whenSettled();
    },
    logText: () => logs.ring.tail(1000).map((e) => `${e.level} ${e.scope ?? ''}: ${e.msg}`).join('\n'),
  };
}

/** Files electron-updater left in its download cache (pending downloads included). */
export function cachedFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'updates', 'berth-updater');
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

/**
 * A filesystem of `bytes` (a tmpfs with size=), for an install folder on a
 * full USB stick or data partition. Needs root (or sudo without a password,
 * as on CI runners); `problem` says why there is none.
 */
export async function smallFilesystem(bytes: number): Promise<{ dir: string; free(): number; unmount(): Promise<void> } | { problem: string }> {
  const { execFileSync } = await import('node:child_process');
  const root = process.getuid?.() === 0;
  const sudo = (args: string[]) => execFileSync(root ? args[0]! : 'sudo', root ? args.slice(1) : ['-n', ...args], { stdio: 'pipe' });
  if (process.platform !== 'linux') return { problem: 'a tmpfs mount is Linux only' };
  if (!root) {
    try {
      execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
    } catch {
      return { problem: 'mounting a small filesystem needs root or sudo without a password' };
    }
  }
  const dir = tempDir();
  try {
    sudo(['mount', '-t', 'tmpfs', '-o', `size=${bytes},mode=0755,uid=${process.getuid?.() ?? 0}`, 'berth-small', dir]);
  } catch (err) {
    return { problem: `mount -t tmpfs failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
  return {
    dir,
    free: () => {
      const s = fs.statfsSync(dir);
      return s.bavail * s.bsize;
    },
    async unmount() {
      sudo(['umount', dir]);
    },
  };
}

/**
 * What a file of update tests shares, registered with vitest's hooks: the
 * real AppImages of `versions` (built once, where they can be), cleanups run
 * last first after each test (then whatever an install started), update
 * servers closed with them, and the rigs' folders removed after the file.
 */
export function updateSuite(...versions: string[]): {
  builds: Record<string, Build>;
  cleanups: (() => unknown)[];
  server(opts?: { tls?: { key: string; cert: string } }): Promise<UpdateServer>;
} {
  const builds: Record<string, Build> = {};
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    if (!appImageBuildProblem && versions.length) Object.assign(builds, await appImages(...versions));
  }, 240_000);
  afterEach(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
    await stopSuccessors();
  });
  afterAll(() => removeRigDirs());
  return {
    builds,
    cleanups,
    async server(opts) {
      const s = await updateServer(opts);
      cleanups.push(() => s.close());
      return s;
    },
  };
}

/**
 * A launch-at-login entry starting `appImage`, as the desktop app writes it, in a config folder of
 * the test's own (XDG_CONFIG_HOME, given back by `cleanups`). Returns the entry's path.
 */
export function launchAtLoginEntry(appImage: string, cleanups: (() => unknown)[]): string {
  const config = tempDir();
  const before = process.env.XDG_CONFIG_HOME;
  process.env.XDG_CONFIG_HOME = config;
  cleanups.push(() => {
    if (before === undefined) delete process.env.XDG_CONFIG_HOME;
    else process.env.XDG_CONFIG_HOME = before;
  });
  const entry = path.join(config, 'autostart', 'berth.desktop');
  fs.mkdirSync(path.dirname(entry), { recursive: true });
  fs.writeFileSync(entry, desktopEntry([appImage, '--hidden']), { mode: 0o644 });
  return entry;
}
