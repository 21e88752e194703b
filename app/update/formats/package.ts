/**
 * Installing a downloaded Linux package (deb, rpm) while Berth still serves.
 * electron-updater's DebUpdater and RpmUpdater install from install(),
 * synchronously, after the port has closed, through a shell with the file
 * name escaped for it: the port stays down while a person types a password,
 * and for good if they cancel. Here the package manager runs as a child
 * process before anything closes, behind one privilege prompt, with the
 * file as an argument (never spliced into a command line). Its outcome
 * decides: installed, then relaunch; anything else, keep serving and say
 * what state the package is in and what to run instead.
 */
import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AppUpdater } from 'electron-updater';
import type { Logger } from '../../log';
import { downloadedFile, type InstallAttempt, type Release } from './format';

const run = promisify(execFile);

/** One package manager family, as the runner needs it. */
export interface PackageTool {
  /** "deb" */
  kind: string;
  /**
   * A /bin/sh script run with the privilege prompt, the package file as $1:
   * install it, and fix missing dependencies where the tool can. It never
   * exits 126 or 127 itself (those are the prompt's).
   */
  script: string;
  /** The package's name, read from the file. */
  nameOf(file: string): Promise<string | null>;
  /** What the system's package database says of it: whether `version` is installed, and in words if not. */
  stateOf(name: string, version: string): Promise<{ installed: boolean; words: string | null }>;
  /** The command a person can run instead, in a terminal. */
  byHand(file: string): string;
  /** How to finish an install the tool left half done. */
  finish: string;
  /** The part of the tool's output that names the problem (a missing dependency), if any. */
  problem(output: string): string | null;
}

export interface PackageInstallOptions {
  /** The privilege prompt (default pkexec; none when already root). */
  elevate?: string[];
  log: Logger;
}

/** The install of a downloaded package: done while serving (prepare), then the process owner relaunches Berth. */
export function packageInstallStep(tool: PackageTool, updater: AppUpdater, release: Release, o: PackageInstallOptions): InstallAttempt {
  return {
    order: 'after-exit',
    prepare: () => installPackage(tool, downloadedFile(updater), release, o),
    start: async () => undefined,
    // The package manager starts nothing: the process owner starts the new version once this one exits.
    relaunchAfter: true,
    // A new version that does not come up after the relaunch: a guardian starts whatever is installed.
    guard: { what: `the update to ${release.version}`, toVersion: release.version },
  };
}

async function installPackage(tool: PackageTool, file: string, release: Release, o: PackageInstallOptions): Promise<void> {
  const root = process.getuid?.() === 0;
  const elevate = o.elevate ?? (root ? [] : ['pkexec']);
  const command = [...elevate, '/bin/sh', '-c', tool.script, 'berth-update', file];
  o.log.info(`installing ${file}: ${elevate.length ? `${elevate.join(' ')} ` : ''}${tool.kind} install`);
  const name = await tool.nameOf(file).catch(() => null);
  const { code, signal, output } = await runCapturing(command);
  const state = name ? await tool.stateOf(name, release.version).catch(() => ({ installed: false, words: null })) : { installed: code === 0, words: null };
  if (code === 0 && state.installed) {
    o.log.info(`Berth ${release.version} is installed (${tool.kind})`);
    return;
  }
  const prompt = elevate[0] ? path.basename(elevate[0]) : null;
  const byHand = `To install Berth ${release.version} yourself, run: ${tool.byHand(file)}`;
  if (prompt === 'pkexec' && code === 126) throw new Error('The password prompt was dismissed. Nothing was installed');
  if (prompt === 'pkexec' && code === 127) {
    const why = /not authorized/i.test(output)
      ? 'this account is not allowed to install software (pkexec: not authorized, exit 127)'
      : 'pkexec found no polkit authentication agent (exit 127)';
    throw new Error(`No password prompt could be shown: ${why}. Nothing was installed. ${byHand}`);
  }
  if (code === null && signal === null) throw new Error(`${command[0]} could not be started: ${output}. Nothing was installed. ${byHand}`);
  const problem = tool.problem(output);
  const ran = `the package manager ${signal ? `was killed by ${signal}` : `failed (exit ${code})`}${problem ? `: ${problem}` : ''}`;
  if (state.words && !state.installed) {
    throw new Error(`Berth ${release.version} is ${state.words}: ${ran}. To finish the update, run: ${tool.finish}`);
  }
  throw new Error(`Berth ${release.version} was not installed: ${ran}. ${byHand}`);
}

/** Run a command, keeping the end of what it printed; `code` and `signal` both null: it could not be started. */
function runCapturing(command: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('error', (err: NodeJS.ErrnoException) => resolve({ code: null, signal: null, output: err.code === 'ENOENT' ? `${command[0]} is not installed` : err.message }));
    child.once('close', (code, signal) => resolve({ code, signal, output: output.trim() }));
  });
}

/** Run a query that needs no privileges; its standard output, trimmed. */
export async function query(file: string, args: string[]): Promise<string> {
  return (await run(file, args, { encoding: 'utf8' })).stdout.trim();
}
