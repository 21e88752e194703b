/** What the guardian tests share: a data folder, a relaunch that only counts itself, and what a guardian left. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guardianFolder, type GuardianCommand } from '../../app/guardian/guardian';
import { alive, tempDataDir } from '../helpers';

/** A relaunch command that appends one line to `file` each time it runs (so a test can count the starts), and nothing else. */
export function countingRelaunch(file: string): GuardianCommand {
  return { command: process.execPath, args: ['-e', 'require("fs").appendFileSync(process.argv[1], "started\\n")', file] };
}

export function starts(file: string): number {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

/** The guardian's files still in the data folder. */
export function records(dataDir: string): string[] {
  try {
    return fs.readdirSync(guardianFolder(dataDir)).sort();
  } catch {
    return [];
  }
}

export function gone(pid: number): boolean {
  return !alive(pid);
}

/** A process that stands for an installer or a Berth: it lives until killed. */
export function longProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

export function dataDirWithMarker(): { dataDir: string; marker: string } {
  const dataDir = tempDataDir('berth-gtest-');
  return { dataDir, marker: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gtest-marker-')), 'starts') };
}
