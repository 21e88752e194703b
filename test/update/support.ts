/**
 * The real electron-updater (AppImageUpdater unless told otherwise), built
 * the way `berth serve` builds it, in this test process, against a local
 * update server. Only APPIMAGE is set here: it is how that updater finds
 * the file it replaces.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { memoryLogSink, type LogSink } from '../../app/log';
import type { Settings } from '../../app/settings/settings';
import { makeNodeUpdater } from '../../app/update/headless';
import { UpdateService, type UpdateHooks } from '../../app/update/service';
import type { UpdateStatus } from '../../app/update/state';
import { tempDataDir } from '../helpers';
// A plain ES module, shared with the benchmark (which runs without a TypeScript step).
import { startUpdateServer } from './fixtures/update-server.mjs';

export type UpdateServer = Awaited<ReturnType<typeof startUpdateServer>> & {
  url: string;
  requests: { method: string; path: string; headers: Record<string, string | undefined> }[];
  publish(o: Record<string, unknown>): { yml: string; sha512: string; size: number };
  status(path: string, status: number): void;
  throttle(bps: number): void;
  close(): Promise<void>;
};

export async function updateServer(): Promise<UpdateServer> {
  return (await startUpdateServer()) as UpdateServer;
}

/** A stand-in AppImage: a script, padded to `size` bytes so downloads take measurable time. */
export function appImageBytes(version: string, size = 4096, body = 'exit 0'): Buffer {
  const head = `#!/bin/sh\n# Berth ${version}\n${body}\n`;
  return Buffer.from(head + '#'.repeat(Math.max(0, size - head.length - 1)) + '\n');
}

const dirsMade: string[] = [];

/** Remove the data directories this file's rigs made (call from afterAll). */
export function removeRigDirs(): void {
  for (const d of dirsMade.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** A temporary directory removed with the rigs' (removeRigDirs). */
export function tempDir(): string {
  const d = tempDataDir('berth-update-');
  dirsMade.push(d);
  return d;
}

export interface Rig {
  dataDir: string;
  appImage: string;
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
  settings?: Partial<Settings['update']>;
  kind?: 'AppImageUpdater' | 'NsisUpdater';
  platform?: 'win32' | 'darwin' | 'linux';
  hooks?: UpdateHooks;
  blockerWaitMs?: number;
  dataDir?: string;
  successorStartsBeforeExit?: boolean;
  logs?: LogSink;
  packageInstall?: (file: string) => Promise<void>;
}): Rig {
  const dataDir = opts.dataDir ?? tempDataDir('berth-update-');
  dirsMade.push(dataDir);
  const appImage = path.join(dataDir, 'install', 'Berth.AppImage');
  fs.mkdirSync(path.dirname(appImage), { recursive: true });
  fs.writeFileSync(appImage, appImageBytes(opts.version), { mode: 0o755 });
  process.env.APPIMAGE = appImage;
  const logs = opts.logs ?? memoryLogSink();
  const settings: Settings['update'] = { channel: 'latest', autoCheck: false, url: null, allowPrerelease: false, ...opts.settings };
  let made: AppUpdater | null = null;
  const updater = () => {
    if (made) return made;
    made = makeNodeUpdater(opts.kind ?? 'AppImageUpdater', { dataDir, version: opts.version, logs, feedUrl: opts.feedUrl });
    // Which manifest the generic provider reads is chosen by platform; electron-builder's own tests pick it the same way.
    if (opts.platform) (made as unknown as { _testOnlyOptions: unknown })._testOnlyOptions = { platform: opts.platform, isUseDifferentialDownload: false };
    return made;
  };
  const service = new UpdateService({
    updater,
    currentVersion: opts.version,
    settings: () => settings,
    dataDir,
    hooks: opts.hooks ?? { handOver: async () => Promise.reject(new Error('no host in this test')) },
    blockerWaitMs: opts.blockerWaitMs,
    successorStartsBeforeExit: opts.successorStartsBeforeExit,
    packageInstall: opts.packageInstall,
    buildFeedUrl: opts.feedUrl,
    log: logs.root.child({ scope: 'update' }),
  });
  const changes: UpdateStatus[] = [];
  service.on('change', (s) => changes.push(s));
  return {
    dataDir,
    appImage,
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
