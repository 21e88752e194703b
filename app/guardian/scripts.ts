/**
 * The guardian's two scripts, generated per guardian with every value
 * written in as a quoted literal: a /bin/sh script for Linux and macOS, a
 * Windows PowerShell (5.1, on every Windows 10 and 11) script for Windows.
 * The same logic in both (guardian.ts says what it is); nothing in either
 * needs Node, curl or any program of ours.
 *
 * Each one's first act is to delete its own folder (the open script stays
 * readable: sh reads from its open descriptor, PowerShell has read the whole
 * file), so from then on it leaves nothing on disk, however it ends.
 */
import path from 'node:path';
import { shQuote } from '../shell-quote';

/** How to start the installed Berth once. Arguments only: no secret ever goes on a command line. */
export interface GuardianCommand {
  command: string;
  args: string[];
  /** The working folder of the Berth it starts (default: the guardian's caller's). */
  cwd?: string;
}

/** What a script needs: all times in milliseconds; the script rounds for itself. */
export interface ScriptValues {
  /** The folder holding the script, removed first thing. */
  folder: string;
  /** The guardian's files in the data folder, without extension: `<dataDir>/guardian/<id>`. */
  record: string;
  predecessorPid: number;
  waitForPid: number | null;
  installerBoundMs: number;
  allowanceMs: number;
  confirmMs: number;
  lifeMs: number;
  relaunch: GuardianCommand & { cwd: string };
}

/** How often the scripts look. Recovery is this much slower than it could be; the cost is a few process starts a second. */
export const POLL_MS = 200;

/**
 * A PowerShell single-quoted string. PowerShell also takes the typographic
 * single quotes (U+2018, U+2019, U+201A, U+201B) as quote marks, so those are
 * doubled too, or a user name like "O’Brien" would end the string early.
 */
export function psQuote(s: string): string {
  return `'${s.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q)}'`;
}

/**
 * One argument for a Windows command line, as CommandLineToArgvW and the C
 * runtime read it back: quoted when it has a space, tab or quote (or is
 * empty), with the backslashes before a quote (and at the end) doubled.
 */
export function windowsArg(a: string): string {
  if (a !== '' && !/[\s"]/.test(a)) return a;
  let out = '"';
  let slashes = 0;
  for (const ch of a) {
    if (ch === '\\') {
      slashes++;
      continue;
    }
    out += '\\'.repeat(ch === '"' ? slashes * 2 + 1 : slashes) + ch;
    slashes = 0;
  }
  return out + '\\'.repeat(slashes * 2) + '"';
}

/** Whole seconds for `date +%s` arithmetic, one more than asked: a bound read from a clock in whole seconds is then never short. */
const seconds = (ms: number) => Math.ceil(ms / 1000) + 1;

/**
 * Linux and macOS. `date +%s` and `sleep` are the only programs it runs
 * besides the Berth it may start; `sleep 0.2` falls back to whole seconds
 * where fractions are not understood. Its clock counts whole seconds, so each
 * bound is up to a second longer than asked, never shorter.
 */
export function shScript(v: ScriptValues): string {
  const r = v.relaunch;
  const command = [r.command, ...r.args].map(shQuote).join(' ');
  return `# Berth's guardian (app/guardian/): it watches one handover and starts Berth again, once,
# if no Berth serves. Generated for this handover; it deleted its own folder as it started.
# Its own files are private; the Berth it starts gets the umask Berth had.
umask=$(umask)
umask 077
# date and sleep wherever a bare environment would look for them too.
PATH=\${PATH:+$PATH:}/usr/bin:/bin
rm -rf -- ${shQuote(v.folder)}
rec=${shQuote(v.record)}
pred=${v.predecessorPid}
installer=${v.waitForPid ?? ''}
start=$(date +%s)
end=$((start + ${seconds(v.lifeMs)}))
# A second bound that no clock change can stretch: a look takes at least ${POLL_MS} ms.
left=${Math.ceil(v.lifeMs / POLL_MS)}

nap() { sleep ${POLL_MS / 1000} 2>/dev/null || sleep 1; }
now() { date +%s; }
# A process that runs: not a zombie (exited, and not yet reaped), whoever it belongs to (kill -0 would
# fail for an installer running as root). Linux: /proc, where a minimal system may have no ps; macOS: ps.
alive() {
  if [ -r /proc/self/stat ]; then
    read -r st 2>/dev/null < "/proc/$1/stat" || return 1
    st=\${st##*") "}
    [ "\${st%% *}" != Z ]
  else
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $st in '' | *Z*) return 1 ;; esac
  fi
}
# Still wanted: the record is there (removed: cancelled, or the data folder is gone), and the life is not over.
wanted() {
  [ -f "$rec.json" ] || return 1
  left=$((left - 1))
  [ "$left" -gt 0 ] && [ "$(now)" -lt "$end" ]
}
# The pid the last Berth to serve wrote, or nothing.
served() {
  s=
  [ -f "$rec.served" ] && read -r s < "$rec.served"
  case $s in '' | *[!0-9]*) s= ;; esac
}

installer_state=
if [ -n "$installer" ]; then
  until=$((start + ${seconds(v.installerBoundMs)}))
  while alive "$installer"; do
    wanted || exit 0
    served
    [ -n "$s" ] && break
    if [ "$(now)" -ge "$until" ]; then installer_state=running; break; fi
    nap
  done
  [ -n "$installer_state" ] || installer_state=exited
fi

# Since when no Berth is known to serve, for the report: the predecessor lets go as the guardian starts.
down=$start
deadline=$(($(now) + ${seconds(v.allowanceMs)}))
watching=
confirmed=0
why=
while :; do
  wanted || exit 0
  served
  if [ -n "$s" ] && alive "$s"; then
    if [ "$s" != "$watching" ]; then watching=$s; confirmed=$(($(now) + ${seconds(v.confirmMs)})); fi
    if [ "$(now)" -ge "$confirmed" ]; then rm -f -- "$rec.json" "$rec.served"; exit 0; fi
  elif [ -n "$s" ]; then
    # The Berth that served is gone. One that stopped on purpose removed the record first.
    [ -f "$rec.json" ] || exit 0
    # The predecessor, while it runs, can still take the port back.
    if ! alive "$pred" || [ "$(now)" -ge "$deadline" ]; then why=stopped; down=$(now); break; fi
  elif [ "$(now)" -ge "$deadline" ]; then
    why=no-serve
    break
  fi
  nap
done

# No Berth serves: say so first (the Berth started next reads it as it starts serving), then start it, once.
printf '%s\\n' "why=$why" "installer=$installer_state" "served=$s" "down=$down" "at=$(now)" > "$rec.outcome.tmp" 2>/dev/null &&
  mv -f -- "$rec.outcome.tmp" "$rec.outcome" 2>/dev/null
cd -- ${shQuote(r.cwd)} 2>/dev/null || cd /
umask "$umask"
${command} </dev/null >/dev/null 2>&1 &
exit 0
`;
}

/**
 * Windows. It never runs from, or holds open, anything in Berth's install
 * folder (an NSIS update would fail with "cannot be closed"): PowerShell is
 * the system's own, its working folder is the temporary folder, the script
 * is gone from disk, and the install folder appears once, as the file the
 * relaunch starts. It waits on process handles taken when a process is
 * first seen, so a reused pid is never mistaken for it, and so it learns an
 * installer's exit code.
 */
export function psScript(v: ScriptValues): string {
  const r = v.relaunch;
  const args = r.args.map(windowsArg).join(' ');
  return `# Berth's guardian (app/guardian/): it watches one handover and starts Berth again, once,
# if no Berth serves. Generated for this handover; it deleted its own folder as it started.
$ErrorActionPreference = 'SilentlyContinue'
$clock = [Diagnostics.Stopwatch]::StartNew()
# A process by its handle, taken now: HasExited and ExitCode then follow this process, not a later one with its pid.
function Open([int]$id) {
  if ($id -le 0) { return $null }
  $p = Get-Process -Id $id
  if ($p) { try { $null = $p.Handle } catch {} }
  $p
}
# The handles first: once the folder has gone (the sign, for Berth, that the guardian runs) an installer's exit code is ours.
$pred = Open ${v.predecessorPid}
$installer = Open ${v.waitForPid ?? 0}
# A virus scanner may still hold the new script open for a moment: try again, briefly.
$folder = ${psQuote(v.folder)}
for ($i = 0; $i -lt 50 -and (Test-Path -LiteralPath $folder); $i++) {
  Remove-Item -LiteralPath $folder -Recurse -Force
  if (Test-Path -LiteralPath $folder) { Start-Sleep -Milliseconds 100 }
}
$rec = ${psQuote(v.record)}
function Now { [DateTimeOffset]::UtcNow.ToUnixTimeSeconds() }
$begun = Now
function Wanted { (Test-Path -LiteralPath "$rec.json" -PathType Leaf) -and $clock.ElapsedMilliseconds -lt ${v.lifeMs} }
function Alive($p) {
  if (-not $p) { return $false }
  try { -not $p.HasExited } catch { [bool](Get-Process -Id $p.Id) }
}
function Served {
  $t = [string](Get-Content -LiteralPath "$rec.served" -Raw)
  if ($t -match '^\\s*(\\d+)\\s*$') { [int]$Matches[1] } else { 0 }
}

$installerState = ''
$installerExit = ''
if (${v.waitForPid ?? 0} -gt 0) {
  while (Alive $installer) {
    if (-not (Wanted)) { exit 0 }
    if ((Served) -gt 0) { break }
    if ($clock.ElapsedMilliseconds -ge ${v.installerBoundMs}) { $installerState = 'running'; break }
    Start-Sleep -Milliseconds ${POLL_MS}
  }
  if (-not $installerState) {
    $installerState = 'exited'
    try { if ($installer -and $installer.HasExited) { $installerExit = [string]$installer.ExitCode } } catch {}
  }
}

# Since when no Berth is known to serve, for the report: the predecessor lets go as the guardian starts.
$down = $begun
$deadline = $clock.ElapsedMilliseconds + ${v.allowanceMs}
$watching = 0
$watched = $null
$confirmed = 0
$why = ''
$s = 0
while ($true) {
  if (-not (Wanted)) { exit 0 }
  $s = Served
  if ($s -gt 0 -and $s -ne $watching) { $watching = $s; $watched = Open $s; $confirmed = $clock.ElapsedMilliseconds + ${v.confirmMs} }
  if ($s -gt 0 -and (Alive $watched)) {
    if ($clock.ElapsedMilliseconds -ge $confirmed) { Remove-Item -LiteralPath "$rec.json", "$rec.served" -Force; exit 0 }
  } elseif ($s -gt 0) {
    # The Berth that served is gone. One that stopped on purpose removed the record first.
    if (-not (Test-Path -LiteralPath "$rec.json" -PathType Leaf)) { exit 0 }
    # The predecessor, while it runs, can still take the port back.
    if (-not (Alive $pred) -or $clock.ElapsedMilliseconds -ge $deadline) { $why = 'stopped'; $down = Now; break }
  } elseif ($clock.ElapsedMilliseconds -ge $deadline) {
    $why = 'no-serve'
    break
  }
  Start-Sleep -Milliseconds ${POLL_MS}
}
if ($s -le 0) { $s = '' }

# No Berth serves: say so first (the Berth started next reads it as it starts serving), then start it, once.
try {
  $lines = "why=$why", "installer=$installerState", "installer-exit=$installerExit", "served=$s", "down=$down", "at=$(Now)"
  [IO.File]::WriteAllText("$rec.outcome.tmp", ($lines -join "\`n") + "\`n")
  [IO.File]::Move("$rec.outcome.tmp", "$rec.outcome")
} catch {}
$start = New-Object Diagnostics.ProcessStartInfo
$start.FileName = ${psQuote(r.command)}
$start.Arguments = ${psQuote(args)}
$start.WorkingDirectory = ${psQuote(r.cwd)}
if (-not (Test-Path -LiteralPath $start.WorkingDirectory -PathType Container)) { $start.WorkingDirectory = [IO.Path]::GetTempPath() }
# No console window for a console program (a headless Berth); a windowed one shows as usual.
$start.UseShellExecute = $false
$start.CreateNoWindow = $true
try { $null = [Diagnostics.Process]::Start($start) } catch {}
exit 0
`;
}

/** The program and arguments that run a script, by platform: the system's own shell, never a program of ours. */
export function scriptRunner(platform: NodeJS.Platform, script: string, env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  if (platform === 'win32') {
    // The full path: a bare name would be looked for first in the folder of the program starting it (Berth's install folder).
    const root = env.SystemRoot ?? env.windir ?? 'C:\\Windows';
    const powershell = path.win32.join(root, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
    return { command: powershell, args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden', '-File', script] };
  }
  return { command: '/bin/sh', args: [script] };
}
