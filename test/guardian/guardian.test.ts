/**
 * The guardian itself (app/guardian), run for real: the /bin/sh script in a
 * detached process, its record in a real data folder, the "Berth" it starts
 * a real command. What it watches for is what Berths write (announceServing),
 * with stand-in processes for the Berth that serves and for an installer.
 * The relaunch and Restart app paths with real Berths are in restart-app and
 * relaunch.test.ts; the PowerShell script runs for real in windows.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { announceServing, guardianFolder, releaseGuardians, startGuardian, takeGuardianReports, type GuardianSpec } from '../../app/guardian/guardian';
import { psScript, scriptRunner, shScript } from '../../app/guardian/scripts';
import { tempDataDir, waitFor } from '../helpers';
import { countingRelaunch, dataDirWithMarker, exited, gone, longProcess, records, starts } from './support';

const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function stand(): ReturnType<typeof longProcess> {
  const c = longProcess();
  children.push(c);
  return c;
}

/** A pid that certainly has no process: one that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await exited(c);
  return c.pid!;
}

function spec(dataDir: string, marker: string, o: Partial<GuardianSpec> = {}): GuardianSpec {
  return { dataDir, host: '127.0.0.1', port: 8787, fromVersion: '1.0.0', what: 'Restart app', allowanceMs: 1000, confirmMs: 1000, relaunch: countingRelaunch(marker), ...o };
}

const onLinux = process.platform !== 'win32';

describe.runIf(onLinux)('the guardian (/bin/sh, for real)', () => {
  it('no Berth serves within the allowance: it starts the installed Berth once, writes why, and is gone', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const g = await startGuardian(spec(dataDir, marker));
    // The script deleted its own folder as it started: nothing of it on disk from then on.
    expect(fs.existsSync(g.folder)).toBe(false);
    await waitFor(() => starts(marker) === 1 && gone(g.pid), 'the guardian to start Berth and end');
    expect(records(dataDir)).toEqual([`${g.id}.json`, `${g.id}.outcome`]);
    const reports = takeGuardianReports(dataDir, '1.0.0');
    expect(reports.map((r) => r.message)).toEqual(['Restart app failed (no Berth served within 1 s); Berth 1.0.0 is running.']);
    expect(reports[0]!.downtimeMs).toBeGreaterThanOrEqual(0);
    // Taken once: the files go with it.
    expect(records(dataDir)).toEqual([]);
    expect(starts(marker)).toBe(1);
  });

  it('the relaunch command reaches Berth word for word, in its working folder and with our umask, whatever the quotes, spaces and $ in it', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), "berth-gtest it's $HOME `x` "));
    const dataDir = path.join(parent, 'data "dir"');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const out = path.join(parent, 'argv.json');
    const words = ['a b', "it's", '$HOME', '`id`', '"q"', 'new\nline', '', '--x=y;z|w&', 'ünï', '\\back\\slash\\', '*'];
    const script = 'require("fs").writeFileSync(process.argv[1], JSON.stringify({ args: process.argv.slice(2), cwd: process.cwd(), umask: process.umask() }))';
    const g = await startGuardian({ ...spec(dataDir, ''), relaunch: { command: process.execPath, args: ['-e', script, out, ...words], cwd: parent } });
    const got = await waitFor(() => fs.existsSync(out) && JSON.parse(fs.readFileSync(out, 'utf8')), 'the relaunched command to write its arguments');
    // The guardian keeps its own files private (umask 077); the Berth it starts gets the umask ours had.
    const umask = process.umask(0o022);
    process.umask(umask);
    expect(got).toEqual({ args: words, cwd: parent, umask });
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(takeGuardianReports(dataDir, '1.0.0')).toHaveLength(1);
  });

  it('an installer: it waits for it to exit, then for a Berth; the words say the installer finished', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const installer = stand();
    const g = await startGuardian(spec(dataDir, marker, { waitForPid: installer.pid, what: 'the update to 1.0.1', toVersion: '1.0.1' }));
    installer.kill();
    await waitFor(() => starts(marker) === 1 && gone(g.pid), 'the guardian to start Berth once the installer has gone');
    // Linux and macOS cannot learn the exit code of a process that is not the guardian's child (Windows can).
    expect(takeGuardianReports(dataDir, '1.0.0').map((r) => r.message)).toEqual([
      'The update to 1.0.1 failed (no Berth served within 1 s after the installer finished); Berth 1.0.0 is running.',
    ]);
  });

  it('an installer that never ends: at its bound the guardian starts Berth anyway, and says the installer was still running', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const installer = stand();
    const g = await startGuardian(spec(dataDir, marker, { waitForPid: installer.pid, installerBoundMs: 1000, what: 'the update to 1.0.1' }));
    await waitFor(() => starts(marker) === 1 && gone(g.pid), 'the guardian to give up on the installer');
    expect(takeGuardianReports(dataDir, '1.0.0').map((r) => r.message)).toEqual(['The update to 1.0.1 failed (the installer was still running after 1 s); Berth 1.0.0 is running.']);
  });

  it('a Berth serves and stays up for the confirmation window: the guardian ends, starts nothing, and leaves nothing', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const berth = stand();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000, predecessorPid: await deadPid() }));
    announceServing(dataDir, berth.pid);
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(records(dataDir)).toEqual([]);
    expect(starts(marker)).toBe(0);
  });

  it('the Berth that served dies within the window, its predecessor gone: Berth is started again, and the words name it', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const berth = stand();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000, confirmMs: 60_000, predecessorPid: await deadPid(), what: 'the relaunch' }));
    announceServing(dataDir, berth.pid);
    berth.kill('SIGKILL');
    await waitFor(() => starts(marker) === 1 && gone(g.pid), 'the guardian to start Berth again');
    expect(takeGuardianReports(dataDir, '1.0.0').map((r) => r.message)).toEqual([
      `The relaunch failed (the Berth that took over (pid ${berth.pid}) stopped within 60 s of serving); Berth 1.0.0 is running.`,
    ]);
  });

  it('the successor dies while its predecessor still runs: the guardian leaves the port to the predecessor, which serves again', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const predecessor = stand();
    const successor = stand();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000, predecessorPid: predecessor.pid }));
    announceServing(dataDir, successor.pid);
    successor.kill('SIGKILL');
    await exited(successor);
    announceServing(dataDir, predecessor.pid);
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(starts(marker)).toBe(0);
    expect(records(dataDir)).toEqual([]);
  });

  it('a Berth that stops on purpose within the window releases the guardian: nothing is started', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const berth = stand();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000, confirmMs: 60_000, predecessorPid: await deadPid() }));
    announceServing(dataDir, berth.pid);
    // What createBerth does on the way out of a quit or `berth stop`, before the process ends.
    releaseGuardians(dataDir, berth.pid);
    berth.kill('SIGKILL');
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(starts(marker)).toBe(0);
    expect(records(dataDir)).toEqual([]);
  });

  it('cancel() (the predecessor serves on): it ends without starting anything', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000 }));
    g.cancel();
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(starts(marker)).toBe(0);
    expect(records(dataDir)).toEqual([]);
  });

  it('the data folder is removed: the guardian ends at once, starts nothing, and leaves no file anywhere', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000 }));
    fs.rmSync(dataDir, { recursive: true, force: true });
    await waitFor(() => gone(g.pid), 'the guardian to end');
    expect(fs.existsSync(g.folder)).toBe(false);
    expect(fs.existsSync(dataDir)).toBe(false);
    expect(starts(marker)).toBe(0);
  });

  it('killed outright, it leaves nothing in the temporary folder; the next Berth clears its record once past its bound', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const g = await startGuardian(spec(dataDir, marker, { allowanceMs: 60_000 }));
    process.kill(g.pid, 'SIGKILL');
    await waitFor(() => gone(g.pid), 'the guardian to die');
    expect(fs.existsSync(g.folder)).toBe(false);
    const record = JSON.parse(fs.readFileSync(path.join(guardianFolder(dataDir), `${g.id}.json`), 'utf8')) as { endsBy: number };
    // While it could still be running, a record is left alone; past its bound (and a margin) it goes, with nothing to report.
    expect(takeGuardianReports(dataDir, '1.0.0', record.endsBy)).toEqual([]);
    expect(records(dataDir)).toEqual([`${g.id}.json`]);
    expect(takeGuardianReports(dataDir, '1.0.0', record.endsBy + 61_000)).toEqual([]);
    expect(records(dataDir)).toEqual([]);
    expect(starts(marker)).toBe(0);
  });

  it('its life is bounded whatever else happens: past it, the script ends even while the Berth it watches is neither confirmed nor gone', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gtest-script-'));
    const record = path.join(guardianFolder(dataDir), 'abcdefabcdef');
    fs.mkdirSync(guardianFolder(dataDir), { mode: 0o700 });
    fs.writeFileSync(`${record}.json`, '{}');
    fs.writeFileSync(`${record}.served`, `${process.pid}\n`);
    const script = path.join(folder, 'guardian.sh');
    // Values no real guardian gets (startGuardian makes the life cover every phase): a window longer than the life.
    fs.writeFileSync(script, shScript({ folder, record, predecessorPid: 1, waitForPid: null, installerBoundMs: 0, allowanceMs: 1000, confirmMs: 3_600_000, lifeMs: 1500, relaunch: { ...countingRelaunch(marker), cwd: '/' } }));
    const sh = spawn('/bin/sh', [script], { stdio: 'ignore' });
    children.push(sh);
    await exited(sh);
    expect(sh.exitCode).toBe(0);
    expect(fs.existsSync(folder)).toBe(false);
    expect(starts(marker)).toBe(0);
  });

  const root = process.getuid?.() === 0;
  it.runIf(root)('as another user than the installer (a root installer, the guardian as nobody): the installer is seen running (up to its bound), never as gone', async () => {
    const { marker } = dataDirWithMarker();
    // Everything the guardian touches belongs to nobody, as a user's Berth would own its folders.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gtest-nobody-'));
    const folder = path.join(base, 'script');
    const record = path.join(base, 'guardian', 'abcdefabcdef');
    fs.mkdirSync(folder);
    fs.mkdirSync(path.dirname(record));
    fs.writeFileSync(`${record}.json`, '{}');
    fs.writeFileSync(path.join(folder, 'guardian.sh'), shScript({ folder, record, predecessorPid: await deadPid(), waitForPid: stand().pid!, installerBoundMs: 1000, allowanceMs: 1000, confirmMs: 1000, lifeMs: 60_000, relaunch: { ...countingRelaunch(marker), cwd: '/' } }));
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    for (const p of [base, folder, path.dirname(record), `${record}.json`, path.join(folder, 'guardian.sh'), path.dirname(marker)]) fs.chownSync(p, 65534, 65534);
    const sh = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '/bin/sh', path.join(folder, 'guardian.sh')], { stdio: 'ignore' });
    children.push(sh);
    await exited(sh);
    await waitFor(() => starts(marker) === 1, 'the Berth it started to run');
    // kill -0 on root's process fails for nobody (EPERM): read as "gone", the outcome would say the installer had finished.
    expect(fs.readFileSync(`${record}.outcome`, 'utf8')).toContain('installer=running\n');
  });

  it('the script is valid POSIX sh (dash parses it) with hostile values in every literal', () => {
    const hostile = "a'b \"c\" $d `e` \\f\nnew line";
    const text = shScript({ folder: `/tmp/${hostile}`, record: `/data/${hostile}/guardian/abcdefabcdef`, predecessorPid: 42, waitForPid: 43, installerBoundMs: 900_000, allowanceMs: 30_000, confirmMs: 10_000, lifeMs: 1_000_000, relaunch: { command: `/opt/${hostile}/berth`, args: [hostile, ''], cwd: `/home/${hostile}` } });
    const check = spawnSync('/bin/sh', ['-n'], { input: text });
    expect(check.stderr.toString()).toBe('');
    expect(check.status).toBe(0);
  });
});

/** The single-quoted literals of a PowerShell script, as PowerShell reads them (comments and double-quoted strings skipped). */
function psLiterals(script: string): string[] {
  const quote = /['\u2018\u2019\u201A\u201B]/;
  const out: string[] = [];
  for (const line of script.split('\n')) {
    if (line.trim().startsWith('#')) continue;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') {
        for (i++; i < line.length && line[i] !== '"'; i++) if (line[i] === '`') i++;
      } else if (quote.test(line[i]!)) {
        let lit = '';
        for (i++; i < line.length; i++) {
          if (quote.test(line[i]!)) {
            if (i + 1 < line.length && quote.test(line[i + 1]!)) lit += line[++i];
            else break;
          } else lit += line[i];
        }
        out.push(lit);
      }
    }
  }
  return out;
}

/** A Windows command line split as CommandLineToArgvW (and the C runtime) split it. */
function windowsArgv(line: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let arg = '';
    let quoted = false;
    for (; i < line.length; i++) {
      const ch = line[i]!;
      if (ch === '\\') {
        let n = 0;
        while (line[i] === '\\') (n++, i++);
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          if (n % 2) arg += '"';
          else quoted = !quoted;
        } else {
          arg += '\\'.repeat(n);
          i--;
        }
      } else if (ch === '"') quoted = !quoted;
      else if (!quoted && (ch === ' ' || ch === '\t')) break;
      else arg += ch;
    }
    args.push(arg);
  }
  return args;
}

describe('the guardian on Windows: the PowerShell script (run for real in windows.test.ts; checked here)', () => {
  const install = 'C:\\Program Files\\Berth O’Neil\\';
  const values = {
    folder: 'C:\\Users\\d’Arcy $x\\AppData\\Local\\Temp\\berth-guardian-Ab3',
    record: "C:\\Users\\d’Arcy $x\\AppData\\Roaming\\Berth 'data'\\guardian\\abcdefabcdef",
    predecessorPid: 4242,
    waitForPid: 5151,
    installerBoundMs: 900_000,
    allowanceMs: 30_000,
    confirmMs: 10_000,
    lifeMs: 1_000_000,
    relaunch: { command: `${install}Berth.exe`, args: ['--port=8787', 'a b', 'say "hi"', 'trail\\', '', '$(calc)'], cwd: 'C:\\Users\\d’Arcy $x' },
  };
  const text = psScript(values);

  it('writes every value as a literal PowerShell reads back exactly, typographic quotes included', () => {
    const lits = psLiterals(text);
    expect(lits).toContain(values.folder);
    expect(lits).toContain(values.record);
    expect(lits).toContain(values.relaunch.command);
    expect(lits).toContain(values.relaunch.cwd);
    // The arguments reach the program as the C runtime splits its command line.
    const line = lits[lits.indexOf(values.relaunch.command) + 1]!;
    expect(windowsArgv(line)).toEqual(values.relaunch.args);
    // Nothing is ever interpolated: values appear only inside single quotes.
    expect(text).not.toContain('"C:\\');
    expect(text.match(/Open 4242/g)).toHaveLength(1);
    expect(text.match(/Open 5151/g)).toHaveLength(1);
  });

  it('never runs from, changes to or holds the install folder: it names it once, as the file it starts', () => {
    expect(text.split('Berth O’’Neil').length - 1).toBe(1);
    expect(text).toMatch(/\$start\.FileName = 'C:\\Program Files\\Berth O’’Neil\\Berth\.exe'/);
    expect(text).not.toMatch(/Set-Location|Push-Location|\bcd\b|\bchdir\b/i);
    // Its folder goes first thing, after only the process handles are taken.
    const first = text.split('\n').findIndex((l) => l.startsWith('$folder'));
    expect(text.split('\n').slice(0, first).filter((l) => l && !l.startsWith('#') && !l.startsWith('$pred') && !l.startsWith('$installer') && !l.startsWith('$clock') && !l.startsWith('$ErrorAction'))).toEqual([
      'function Open([int]$id) {',
      '  if ($id -le 0) { return $null }',
      '  $p = Get-Process -Id $id',
      '  if ($p) { try { $null = $p.Handle } catch {} }',
      '  $p',
      '}',
    ]);
    const run = scriptRunner('win32', 'C:\\Temp\\berth-guardian-x\\guardian.ps1', { SystemRoot: 'C:\\Windows' });
    // The system's own PowerShell by its full path: a bare name is looked for first in the folder of the program that starts it.
    expect(run).toEqual({
      command: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-File', 'C:\\Temp\\berth-guardian-x\\guardian.ps1'],
    });
  });

  it.runIf(onLinux)('where PowerShell cannot start, startGuardian fails and leaves no record and no script behind', async () => {
    const { dataDir, marker } = dataDirWithMarker();
    const before = new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('berth-guardian-')));
    await expect(startGuardian(spec(dataDir, marker, { platform: 'win32' }))).rejects.toThrow(/ENOENT/);
    expect(records(dataDir)).toEqual([]);
    const left = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('berth-guardian-') && !before.has(n));
    // (Other tests may be starting guardians at the same moment: theirs are gone within moments, ours never existed.)
    await waitFor(() => left.every((n) => !fs.existsSync(path.join(os.tmpdir(), n))), 'no script folder of ours to remain');
  });
});

describe('what the next Berth says', () => {
  function reportOf(outcome: string, o: { what?: string; toVersion?: string | null; version?: string; installerBoundMs?: number } = {}): string {
    const dataDir = tempDataDir('berth-gtest-');
    fs.mkdirSync(guardianFolder(dataDir), { mode: 0o700 });
    const id = 'abcdef012345';
    const now = Date.now();
    // The record startGuardian writes, and an outcome as either script writes it.
    const record = { v: 1, id, what: o.what ?? 'the update to 1.0.1', fromVersion: '1.0.0', toVersion: o.toVersion === undefined ? '1.0.1' : o.toVersion, host: '127.0.0.1', port: 8787, predecessorPid: 1, waitForPid: 2, allowanceMs: 30_000, confirmMs: 10_000, installerBoundMs: o.installerBoundMs ?? 900_000, startedAt: now, endsBy: now + 1_000_000 };
    fs.writeFileSync(path.join(guardianFolder(dataDir), `${id}.json`), JSON.stringify(record), { mode: 0o600 });
    fs.writeFileSync(path.join(guardianFolder(dataDir), `${id}.outcome`), outcome, { mode: 0o600 });
    const reports = takeGuardianReports(dataDir, o.version ?? '1.0.0', (Math.floor(now / 1000) + 5) * 1000);
    expect(records(dataDir)).toEqual([]);
    expect(reports).toHaveLength(1);
    return reports[0]!.message;
  }
  const at = Math.floor(Date.now() / 1000);

  it('an installer that failed (Windows knows its exit code)', () => {
    expect(reportOf(`why=no-serve\ninstaller=exited\ninstaller-exit=2\nserved=\ndown=${at}\nat=${at}\n`)).toBe('The update to 1.0.1 failed (installer exit 2); Berth 1.0.0 is running.');
  });
  it('an installer that succeeded, and the new version did not serve: the old one, started again', () => {
    expect(reportOf(`why=no-serve\ninstaller=exited\ninstaller-exit=0\nserved=\ndown=${at}\nat=${at}\n`)).toBe(
      'The update to 1.0.1 failed (no Berth served within 30 s after the installer finished); Berth 1.0.0 is running.',
    );
  });
  it('the new version started at the second try', () => {
    expect(reportOf(`why=no-serve\ninstaller=exited\ninstaller-exit=0\nserved=\ndown=${at}\nat=${at}\n`, { version: '1.0.1' })).toBe(
      'The update to 1.0.1 needed a second start (no Berth served within 30 s after the installer finished); Berth 1.0.1 is running.',
    );
  });
  it('an installer still running at its bound (a UAC prompt nobody answered)', () => {
    expect(reportOf(`why=no-serve\ninstaller=running\ninstaller-exit=\nserved=\ndown=${at}\nat=${at}\n`)).toBe('The update to 1.0.1 failed (the installer was still running after 15 min); Berth 1.0.0 is running.');
  });
  it('a relaunch whose successor died after serving (Windows line endings, as PowerShell may write them)', () => {
    expect(reportOf(`why=stopped\r\ninstaller=\r\nserved=777\r\ndown=${at}\r\nat=${at}\r\n`, { what: 'Restart app', toVersion: null })).toBe(
      'Restart app failed (the Berth that took over (pid 777) stopped within 10 s of serving); Berth 1.0.0 is running.',
    );
  });
  it('an outcome that is not one: nothing reported, nothing kept', () => {
    const dataDir = tempDataDir('berth-gtest-');
    fs.mkdirSync(guardianFolder(dataDir), { mode: 0o700 });
    fs.writeFileSync(path.join(guardianFolder(dataDir), 'abcdef012345.json'), 'not json', { mode: 0o600 });
    fs.writeFileSync(path.join(guardianFolder(dataDir), 'abcdef012345.outcome'), 'why=no-serve\n', { mode: 0o600 });
    expect(takeGuardianReports(dataDir, '1.0.0')).toEqual([]);
    expect(records(dataDir)).toEqual([]);
  });
});
