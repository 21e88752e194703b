/**
 * Copy diagnostics: what a person pastes into an issue when Berth misbehaves,
 * as Syncthing's "Support Bundle" and Docker Desktop's diagnostics do. One
 * text, the same from the Status page's button and from `berth diagnose`:
 * version, system, runtime, paths, settings, what the port checks found, the
 * update state, the history of restarts and relaunches, and the last log
 * lines.
 *
 * It must hold no secret. The settings are copied with their secrets taken
 * out, every known secret value (the token, a handoff note's secret, the
 * cookie values of the request) is replaced wherever it appears, and so is
 * anything shaped like a credential (`?token=`, `?ticket=`, `Bearer ...`, a
 * URL's user and password, any 43-character base64url value, which is the
 * shape of every secret Berth makes), in case a log line carries one.
 */
import fs from 'node:fs';
import os from 'node:os';

export interface DiagnosticsInput {
  /** Where the text was made: "the Status page" or "berth diagnose". */
  madeBy: string;
  version: string;
  /** The desktop app or `berth serve`. */
  desktop: boolean;
  paths: Record<string, string | null>;
  settings: unknown;
  settingsWarnings?: string[];
  /** The running server as it says it is, or null when none runs. */
  server: {
    state: string;
    url: string;
    listenAddress?: string;
    exposed?: boolean;
    pid: number;
    instance: string;
    startedAt: string;
    uptimeMs?: number;
    connections?: number;
    handoffFrom?: string | null;
  } | null;
  /** What the port looked like from where the text was made (the CLI's own probe). */
  seen?: string;
  portChecks: { verdict: string; what: string; action: string; address: string; ms: number }[];
  update: Record<string, unknown> | null;
  history: { kind: string; at: string; downtimeMs: number | null; detail?: string; failed?: string }[];
  logLines: string[];
  /** Values that must not appear: the token, a handoff secret, cookie values. */
  secrets: (string | null | undefined)[];
  /** When the text is made; local time with its offset. */
  now: string;
}

/** This computer's system in words: "Linux 6.1.0 (Debian GNU/Linux 12 (bookworm)), x64". */
export function systemName(): string {
  let name = `${os.type()} ${os.release()}`;
  try {
    if (process.platform === 'linux') {
      const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
      if (pretty) name += ` (${pretty})`;
    } else if (typeof os.version === 'function') {
      name += ` (${os.version()})`;
    }
  } catch {
    // no release file: the kernel's name is enough
  }
  return `${name}, ${os.arch()}`;
}

/** The runtime in words: "Node 20.19.0" or "Electron 41.1.0 (Node 22.x, Chromium 140.x)". */
export function runtimeName(): string {
  const v = process.versions as NodeJS.ProcessVersions & { electron?: string; chrome?: string };
  return v.electron ? `Electron ${v.electron} (Node ${v.node}, Chromium ${v.chrome ?? '?'})` : `Node ${v.node} (V8 ${v.v8})`;
}

const REMOVED = '[removed]';

/** A URL without its user, password and query (where a feed's key would be). */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    // Said as removed, not dropped: the reader learns the feed needs a sign-in.
    const hadCredentials = !!(u.username || u.password);
    u.username = '';
    u.password = '';
    if (u.search) u.search = `?${REMOVED}`;
    const href = u.href.replace('%5Bremoved%5D', REMOVED);
    return hadCredentials ? href.replace('://', `://${REMOVED}@`) : href;
  } catch {
    return url;
  }
}

/** Settings with every value that could be a secret taken out: an update server's credentials and query. */
export function redactSettings(settings: unknown): unknown {
  if (!settings || typeof settings !== 'object') return settings;
  return JSON.parse(
    JSON.stringify(settings, (key, value) => {
      if (typeof value !== 'string') return value;
      if (/token|secret|password|key|auth/i.test(key)) return REMOVED;
      return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? withoutCredentials(value) : value;
    }),
  );
}

/**
 * Take every secret out of `text`: the known values wherever they are, and
 * whatever looks like a credential. Secrets shorter than 8 characters are
 * not searched for (they would match ordinary words); Berth's are 43.
 */
export function scrub(text: string, secrets: (string | null | undefined)[]): string {
  let out = text;
  for (const s of new Set(secrets)) {
    if (!s || s.length < 8) continue;
    out = out.split(s).join(REMOVED);
    const encoded = encodeURIComponent(s);
    if (encoded !== s) out = out.split(encoded).join(REMOVED);
  }
  return out
    .replace(/([?&](?:token|access_token|ticket|key|secret|password)=)[^&\s"'`]+/gi, `$1${REMOVED}`)
    .replace(/(\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$1${REMOVED}`)
    .replace(/("?(?:token|secret|password|proof|cookie|authorization)"?\s*[:=]\s*"?)[^"\s,;}]{8,}/gi, `$1${REMOVED}`)
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+:[^/\s@]+@/gi, `$1${REMOVED}@`)
    // A sign-in ticket (<expiry>.<nonce>.<mac>), then anything of a token's shape: 32 random bytes in
    // base64url are 43 characters (the token, handoff secrets and proofs, a hosted app's secret, a ticket's mac).
    .replace(/(?<![\w-])[0-9a-z]{1,12}\.[\w-]{22}\.[\w-]{43}(?![\w-])/g, REMOVED)
    .replace(/(?<![\w-])[\w-]{43}(?![\w-])/g, REMOVED);
}

function fence(lines: string[]): string {
  const body = lines.join('\n');
  const mark = body.includes('```') ? '~~~~' : '```';
  return `${mark}\n${body}\n${mark}`;
}

function uptime(ms: number | undefined): string {
  if (ms === undefined) return '';
  const s = Math.floor(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The text, ready to paste into an issue (Markdown that also reads as plain text), with every secret taken out. */
export function diagnosticsText(d: DiagnosticsInput): string {
  const out: string[] = [];
  out.push('## Berth diagnostics', '', `Made ${d.now} by ${d.madeBy}. Secrets (the token, handoff secrets, cookies) are removed.`, '');
  out.push('### Version', '');
  out.push(`- Berth ${d.version} (${d.desktop ? 'desktop app' : 'berth serve, headless'})`);
  out.push(`- System: ${systemName()}`);
  out.push(`- Runtime: ${runtimeName()}`);
  out.push('');
  out.push('### Paths', '');
  for (const [k, v] of Object.entries(d.paths)) out.push(`- ${k}: ${v ?? '(none)'}`);
  out.push('');
  out.push('### Settings (secrets removed)', '');
  out.push(fence([JSON.stringify(redactSettings(d.settings), null, 2)]));
  for (const w of d.settingsWarnings ?? []) out.push(`- Warning: ${w}`);
  out.push('');
  out.push('### Server', '');
  if (d.server) {
    const s = d.server;
    out.push(`- ${s.state} on ${s.url}${s.listenAddress ? ` (listening on ${s.listenAddress}${s.exposed ? ', open to other machines' : ''})` : ''}`);
    out.push(`- pid ${s.pid}, instance ${s.instance}, started ${s.startedAt}${s.uptimeMs !== undefined ? `, up ${uptime(s.uptimeMs)}` : ''}${s.connections !== undefined ? `, ${s.connections} open connections` : ''}`);
    if (s.handoffFrom) out.push(`- took the port over from instance ${s.handoffFrom}`);
  } else out.push('- not running');
  if (d.seen) out.push(`- seen from here: ${d.seen}`);
  out.push('');
  out.push('### Port checks', '');
  if (d.portChecks.length) {
    out.push('| address | verdict | what answered | what Berth did | probe |', '| --- | --- | --- | --- | --- |');
    for (const p of d.portChecks) out.push(`| ${p.address} | ${p.verdict} | ${p.what.replace(/\|/g, '\\|')} | ${p.action.replace(/\|/g, '\\|')} | ${p.verdict === 'no-address' ? 'not probed' : `${p.ms} ms`} |`);
  } else out.push('- none recorded');
  out.push('');
  out.push('### Update', '');
  if (d.update) {
    for (const k of ['state', 'currentVersion', 'channel', 'version', 'checkedAt', 'percent', 'error', 'reason']) {
      const v = d.update[k];
      if (v !== undefined && v !== null && v !== '') out.push(`- ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    }
  } else out.push('- no update state');
  out.push('');
  out.push('### History', '');
  if (d.history.length) {
    for (const h of d.history) out.push(`- ${h.at} ${h.kind}${h.downtimeMs === null ? '' : `, port unavailable ${h.downtimeMs} ms`}${h.detail ? `: ${h.detail}` : ''}${h.failed ? ` (failed: ${h.failed})` : ''}`);
  } else out.push(d.server ? '- nothing yet' : '- not running, so no history in memory (the log below has it)');
  out.push('');
  out.push(`### Last ${d.logLines.length} log lines`, '');
  out.push(d.logLines.length ? fence(d.logLines) : '(no log lines)');
  out.push('');
  return scrub(out.join('\n'), d.secrets);
}
