/**
 * Linux AppImage: an install is a transaction. electron-updater's own
 * AppImageUpdater.doInstall deletes the running file before it moves the new
 * one in, so a new version that crashes at start, or a disk too small for
 * it, leaves no working Berth on disk. Here the library only checks and
 * downloads; the install is Berth's own:
 *
 * 1. while N still serves: check the room, write N+1 beside N under a
 *    temporary name, make it durable, then give it its name (electron-
 *    builder's versioned name, or N's own name when N has no version in
 *    it; then N is kept under a hidden name until the end). A record of the
 *    transaction goes into the data folder;
 * 2. start N+1 (the port is handed over while N serves: the beside plan);
 * 3. N+1 served: N's file goes, and launch at login names N+1. N does this
 *    as it leaves; N+1 does it at start if N did not get that far.
 *    N+1 failed: N+1's file goes and N is where it was. APPIMAGE and the
 *    launch-at-login entry never named anything else.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AppUpdater } from 'electron-updater';
import { autostartFile, retargetAutostart } from '../../autostart';
import { describeFsError, writeFileAtomic } from '../../files/write';
import { started } from '../../lifecycle/plans';
import { isRunning } from '../../processes';
import { downloadedFile, type FormatDefinition, type FormatOptions, type InstallAttempt, type Release, type UpdateFormat } from './format';

/** Room left over after N+1 is written, so the install never fills a disk to the last block. */
const SPARE_BYTES = 1024 * 1024;

interface Transaction {
  v: 1;
  /** N: the file this copy was started from. */
  from: string;
  /** N+1: where it is installed (the same path as `from` when the name has no version). */
  to: string;
  /** Where N is kept while N+1 starts under N's own name, or null. */
  kept: string | null;
  version: string;
  /** The process that began it (N). */
  pid: number;
}

export const appImageFormat: FormatDefinition = {
  name: 'appimage',
  updaterClass: 'AppImageUpdater',
  matches: (f) => f.platform === 'linux' && !f.snap && !!f.appImage,
  create: (o, facts) => new AppImageInstall(o, facts.appImage!),
};

const mb = (n: number) => (Math.round((n / 1024 / 1024) * 10) / 10).toString();

export class AppImageInstall implements UpdateFormat {
  readonly name = 'appimage';
  readonly label = 'AppImage';
  readonly updaterClass = 'AppImageUpdater' as const;
  private readonly record: string;
  private settling: NodeJS.Timeout | null = null;

  constructor(
    private readonly o: FormatOptions,
    /** N, the file this process was started from. */
    private readonly appImage: string,
  ) {
    this.record = path.join(o.dataDir, 'updates', 'appimage-install.json');
  }

  installStep(updater: AppUpdater, release: Release): InstallAttempt {
    let tx: Transaction | null = null;
    return {
      order: 'beside',
      prepare: async () => {
        tx = this.place(downloadedFile(updater), release.version);
      },
      start: async (handoffEnv) => {
        if (!tx) throw new Error('the new AppImage was not written');
        const env = { ...(this.o.env ?? process.env), ...handoffEnv, APPIMAGE_SILENT_INSTALL: 'true' };
        const child = spawn(tx.to, this.o.successorArgs?.() ?? [], { detached: true, stdio: 'ignore', env });
        const s = await started(child);
        child.unref();
        return s;
      },
      failed: () => {
        if (tx) this.rollBack(tx);
        tx = null;
      },
      served: () => {
        if (tx) this.commit(tx);
        tx = null;
      },
    };
  }

  /** At start: finish a transaction a predecessor left (this is N+1: commit once N has gone), or undo one that never served. */
  settle(currentVersion: string): void {
    const tx = this.readRecord();
    if (!tx) return;
    if (tx.version !== currentVersion) {
      this.o.log.warn(`an update to ${tx.version} was begun and never finished; removing what it wrote`);
      this.rollBack(tx);
      return;
    }
    const finish = () => {
      if (isRunning(tx.pid)) return false;
      this.commit(tx);
      return true;
    };
    if (finish() || this.settling) return;
    // N is still leaving: it finishes the transaction itself; if it is killed first, this does.
    const until = Date.now() + 10 * 60_000;
    this.settling = setInterval(() => {
      if (finish() || Date.now() > until) {
        clearInterval(this.settling!);
        this.settling = null;
      }
    }, 500);
    this.settling.unref();
  }

  /** Write N+1 beside N, whole and durable, or throw having written nothing. */
  private place(download: string, version: string): Transaction {
    const from = this.appImage;
    if (!fs.existsSync(from)) throw new Error(`the installed AppImage ${from} is gone, so there is nothing to update; download Berth ${version} from its download page`);
    const dir = path.dirname(from);
    const base = path.basename(from);
    const newBase = path.basename(download);
    // electron-builder's rule: a name without a version is the person's own, and is kept.
    const sameName = newBase === base || !/\d+\.\d+\.\d+/.test(base);
    const to = sameName ? from : path.join(dir, newBase);
    const size = fs.statSync(download).size;
    const room = fs.statfsSync(dir);
    const free = room.bavail * room.bsize;
    if (free < size + SPARE_BYTES) {
      throw new Error(`there is not enough room in ${dir} for Berth ${version}: it needs ${mb(size + SPARE_BYTES)} MB and ${mb(free)} MB is free. Free some space there and try again`);
    }
    const temp = path.join(dir, `.${newBase}.${process.pid}.partial`);
    try {
      fs.copyFileSync(download, temp);
      const fd = fs.openSync(temp, 'r+');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.chmodSync(temp, 0o755);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw new Error(`Berth ${version} could not be written to ${dir}: ${describeFsError(err)}`);
    }
    let kept: string | null = null;
    try {
      if (sameName) {
        kept = path.join(dir, `.${base}.previous`);
        fs.renameSync(from, kept);
      }
      fs.renameSync(temp, to);
    } catch (err) {
      if (kept && !fs.existsSync(from)) fs.renameSync(kept, from);
      fs.rmSync(temp, { force: true });
      throw new Error(`Berth ${version} could not be put in place in ${dir}: ${describeFsError(err)}`);
    }
    const tx: Transaction = { v: 1, from, to, kept, version, pid: process.pid };
    fs.mkdirSync(path.dirname(this.record), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.record, JSON.stringify(tx) + '\n');
    this.o.log.info(`Berth ${version} written to ${to}${kept ? ` (${from} kept as ${kept} until it serves)` : ''}`);
    return tx;
  }

  /** N+1 did not serve: N goes back where it was, N+1's file goes. */
  private rollBack(tx: Transaction): void {
    try {
      if (tx.kept) {
        if (fs.existsSync(tx.kept)) fs.renameSync(tx.kept, tx.from);
      } else if (tx.to !== tx.from) fs.rmSync(tx.to, { force: true });
      this.o.log.info(`the update to ${tx.version} was undone: ${tx.from} is the installed Berth`);
    } catch (err) {
      this.o.log.error(`the update to ${tx.version} could not be undone (${describeFsError(err)}): check ${path.dirname(tx.from)}`);
    }
    fs.rmSync(this.record, { force: true });
  }

  /** N+1 served: N's file goes, and what started N starts N+1. */
  private commit(tx: Transaction): void {
    try {
      if (tx.kept) fs.rmSync(tx.kept, { force: true });
      else if (tx.to !== tx.from) fs.rmSync(tx.from, { force: true });
    } catch (err) {
      this.o.log.warn(`${tx.kept ?? tx.from} could not be removed (${describeFsError(err)})`);
    }
    if (tx.to !== tx.from) {
      this.o.log.info(`the AppImage is now ${tx.to} (${tx.from} was replaced)`);
      const file = autostartFile(this.o.env ?? process.env, this.o.home);
      try {
        if (retargetAutostart(file, tx.from, tx.to)) this.o.log.info(`launch at login now starts ${tx.to} (${file})`);
      } catch (err) {
        this.o.log.warn(`launch at login still names ${tx.from}, which is gone: ${file} could not be rewritten (${(err as Error).message}); switch launch at login off and on again`);
      }
    }
    fs.rmSync(this.record, { force: true });
  }

  private readRecord(): Transaction | null {
    try {
      const tx = JSON.parse(fs.readFileSync(this.record, 'utf8')) as Transaction;
      return tx.v === 1 && typeof tx.from === 'string' && typeof tx.to === 'string' ? tx : null;
    } catch {
      return null;
    }
  }
}
