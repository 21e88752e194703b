import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { BerthError, ExitCode } from './errors';
import { resolveConfig, type ResolvedConfig } from './config';
import { appVersion, rendererDir } from './paths';
import type { LogSink } from './log';
import { ensureToken, readToken } from './server/token';
import { probePort, type ProbeResult } from './instance/probe';
import { refusalFor } from './instance/claim';
import { handoffFromArgs, readHandoffNote, takeHandoffEnv, type Handoff } from './lifecycle/handoff';
import { checkListenHost, exposureWarning } from './server/exposure';
import { visible } from './terminal-text';
import path from 'node:path';

// The server, logger and updater load only when `serve` gets past its first
// probe: a duplicate start answers in about one Node startup (bench: duplicate start).
/* eslint-disable @typescript-eslint/no-require-imports */
const loadServer = () => ({
  ...(require('./log') as typeof import('./log')),
  ...(require('./berth') as typeof import('./berth')),
  ...(require('./lifecycle/plans') as typeof import('./lifecycle/plans')),
  ...(require('./lifecycle/signals') as typeof import('./lifecycle/signals')),
  ...(require('./update/headless') as typeof import('./update/headless')),
});
/* eslint-enable @typescript-eslint/no-require-imports */

const USAGE = `Usage: berth <command> [options]

Commands:
  serve            Run the web UI server in the foreground (headless)
  status           Show what is running on Berth's address
  stop             Ask the running Berth to stop
  restart [--app]  Restart the running server in place (--app: relaunch the process)
  open             Open the running Berth in your browser, signed in

Options:
  --host <addr>         Address to serve on (default 127.0.0.1; env BERTH_HOST)
  --port <n>            Port (default 8787; env BERTH_PORT)
  --data-dir <dir>      Settings, token and logs (env BERTH_DATA_DIR)
  --replace             serve: take the port over from a running Berth
  --json                Machine-readable output
  --version, --help

Exit codes: 0 ok, 1 unexpected error, 2 bad usage or config,
            3 Berth already running there, 4 port held by something else.`;

interface Flags {
  host?: string;
  port?: string;
  'data-dir'?: string;
  replace?: boolean;
  app?: boolean;
  json?: boolean;
  help?: boolean;
  version?: boolean;
  handoff?: string;
  'handoff-pid'?: string;
  'drain-timeout'?: string;
  'handoff-timeout'?: string;
  'probe-timeout'?: string;
  'listen-fd'?: string;
}

function parse(argv: string[]): { command: string | undefined; flags: Flags } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        replace: { type: 'boolean' },
        app: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        // Internal: set by a predecessor that hands the port to this process.
        handoff: { type: 'string' },
        'handoff-pid': { type: 'string' },
        'drain-timeout': { type: 'string' },
        'handoff-timeout': { type: 'string' },
        'probe-timeout': { type: 'string' },
        // Internal: a listening socket handed over by the predecessor, as an inherited descriptor.
        'listen-fd': { type: 'string' },
      },
    });
    if (positionals.length > 1) throw new Error(`unexpected argument '${positionals[1]}'`);
    return { command: positionals[0], flags: values as Flags };
  } catch (err) {
    throw new BerthError(`${(err as Error).message.replace(/\. To specify.*$/s, '')}\n\n${USAGE}`, ExitCode.usage);
  }
}

function ms(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new BerthError(`--${name} must be a number of milliseconds`, ExitCode.usage);
  return n;
}

class Output {
  constructor(private readonly json: boolean) {}
  result(human: string, data: Record<string, unknown>): void {
    process.stdout.write(this.json ? JSON.stringify(data) + '\n' : human + '\n');
  }
  error(err: BerthError): void {
    if (this.json) process.stdout.write(JSON.stringify({ error: err.message, exitCode: err.exitCode, ...err.details }) + '\n');
    else process.stderr.write(`berth: ${err.message}\n`);
  }
}

/** The `berth` command. Resolves with the exit code, or never for `serve` (it exits when the host does). */
export async function run(argv: string[]): Promise<number> {
  let out = new Output(argv.includes('--json'));
  try {
    const { command, flags } = parse(argv);
    out = new Output(!!flags.json);
    if (flags.version) {
      out.result(appVersion(), { version: appVersion() });
      return ExitCode.ok;
    }
    if (flags.help || !command) {
      process.stdout.write(USAGE + '\n');
      return command || flags.help ? ExitCode.ok : ExitCode.usage;
    }
    const config = resolveConfig({ flags: { host: flags.host, port: flags.port, dataDir: flags['data-dir'] }, env: process.env });
    switch (command) {
      case 'serve':
        return await serve(config, flags, out);
      case 'status':
        return await status(config, out);
      case 'stop':
        return await stop(config, out);
      case 'restart':
        return await restart(config, !!flags.app, out);
      case 'open':
        return await open(config, out);
      default:
        throw new BerthError(`unknown command '${command}'\n\n${USAGE}`, ExitCode.usage);
    }
  } catch (err) {
    if (err instanceof BerthError) {
      out.error(err);
      return err.exitCode;
    }
    process.stderr.write(`berth: unexpected error: ${(err as Error).stack ?? err}\n`);
    return ExitCode.unexpected;
  }
}

async function serve(config: ResolvedConfig, flags: Flags, out: Output): Promise<number> {
  // electron-updater's AppImage install runs the new file once with this set, and waits for it.
  if (process.env.APPIMAGE_EXIT_AFTER_INSTALL === 'true') return ExitCode.ok;
  // Who we replace, if anyone: the command line, else the environment (an installer that keeps it), else
  // the note alone (an installer that starts us through the shell). createBerth checks the note's proof.
  const envHandoff = takeHandoffEnv(process.env);
  let claimed: Handoff | null = handoffFromArgs({ handoff: flags.handoff, handoffPid: flags['handoff-pid'], host: config.host, port: String(config.port) }) ?? envHandoff;
  if (flags.handoff !== undefined && !claimed) throw new BerthError('--handoff needs --handoff-pid, --host and --port that name a real process and address.', ExitCode.usage);
  const inheritedFd = flags['listen-fd'] !== undefined ? Number(flags['listen-fd']) : null;
  if (inheritedFd !== null && !(Number.isInteger(inheritedFd) && inheritedFd >= 3)) throw new BerthError('--listen-fd must be a descriptor number of 3 or more', ExitCode.usage);
  const probeTimeout = ms(flags['probe-timeout'], 'probe-timeout');
  const successor = !!claimed || !!readHandoffNote(config.dataDir);
  // A name must stand for this machine only, and a network address is said out loud below.
  const exposure = await checkListenHost(config.host);

  // First look: a running Berth or another program on the port is answered before the server code loads.
  // (claimPort probes again before binding, so a race after this look is still caught.)
  // A successor skips it: its probe proves to its predecessor that it may let go of the port,
  // and that must happen only once the server below is loaded and ready to bind.
  const first = flags.replace || successor ? null : await probePort(config.host, config.port, { timeout: probeTimeout });
  const refusal = first ? refusalFor(first) : null;

  const { createLogSink, createBerth, headlessRelaunchPlan, installSignalHandlers, headlessUpdates } = loadServer();
  // Human-readable lines go to stderr in every mode; --json keeps stdout for machine output.
  const logs = createLogSink({ dir: path.join(config.dataDir, 'logs'), console: process.stderr });
  const log = logs.root.child({ scope: 'cli' });
  for (const w of config.warnings) log.warn(w);
  if (exposure.exposed) log.warn(exposureWarning(config, exposure));
  if (refusal) {
    log.info(`probe ${first!.address}:${first!.port}: ${first!.verdict} -> exit`);
    log.error({ console: false, exitCode: refusal.exitCode }, refusal.message);
    await logs.close();
    throw refusal;
  }
  const token = ensureToken(config.dataDir);
  if (token.warning) log.warn(token.warning);
  if (flags.replace) claimed = await askToHandOver(config, token.token, log);

  const exit = async (code: number) => {
    await logs.close();
    process.exit(code);
  };
  const berth = createBerth({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    version: appVersion(),
    token: token.token,
    logs,
    rendererDir: rendererDir(),
    claimedHandoff: claimed,
    inheritedFd,
    drainDeadline: ms(flags['drain-timeout'], 'drain-timeout'),
    handoffDeadline: ms(flags['handoff-timeout'], 'handoff-timeout'),
    probeTimeout,
    updates: headlessUpdates({ dataDir: config.dataDir, version: appVersion(), logs }),
    // BERTH_HANDOVER=probe: relaunch by close and rebind even where the socket could be handed over (to compare, or to test that path).
    relaunchPlan: () => headlessRelaunchPlan({ handover: process.env.BERTH_HANDOVER === 'probe' ? 'probe' : undefined }),
    exit: (code) => void exit(code),
    exitOnConflict: true,
  });
  try {
    await berth.start();
  } catch (err) {
    if (err instanceof BerthError) log.error({ console: false, exitCode: err.exitCode }, err.message);
    await logs.close();
    throw err;
  }
  installSignalHandlers({ stop: () => berth.host.stopAndExit(0), log });
  const s = berth.host.status();
  const where = s.exposed ? `${s.listenAddress}, open to other machines (on this one: ${s.url})` : s.url;
  out.result(`Berth ${s.version} is serving on ${where} (pid ${s.pid}). Open it signed in with: berth open`, {
    event: 'serving',
    url: s.url,
    listenAddress: s.listenAddress,
    exposed: s.exposed,
    pid: s.pid,
    version: s.version,
    instance: s.instance,
    dataDir: s.dataDir,
  });
  return new Promise<number>(() => undefined);
}

/**
 * --replace: ask the running Berth to hand the port over. It writes a handoff
 * note in the data directory (which we share, or the token would not have
 * worked) and waits for our proof; we wait for it as our predecessor.
 */
async function askToHandOver(config: ResolvedConfig, token: string, log: LogSink['root']): Promise<Handoff | null> {
  const seen = await probePort(config.host, config.port);
  if (seen.verdict !== 'duplicate' && seen.verdict !== 'predecessor') return null;
  const res = await callApi(seen, token, 'POST', '/api/handoff');
  if (res.status !== 202) {
    throw new BerthError(
      `Berth ${seen.running.version} at ${seen.running.url} (pid ${seen.running.pid}) refused to hand over the port (HTTP ${res.status}); it may use another data directory (--data-dir) and token.`,
      ExitCode.alreadyRunning,
    );
  }
  log.info(`asked Berth pid ${seen.running.pid} to hand over ${seen.running.url}`);
  // It answers first, then writes the note (our proof comes from its secret); wait for that, bounded.
  for (let i = 0; i < 250 && readHandoffNote(config.dataDir)?.instance !== seen.running.instance; i++) await sleep(20);
  return { instance: seen.running.instance, pid: seen.running.pid, host: config.host, port: config.port };
}

async function callApi(target: ProbeResult, token: string | null, method: string, pathname: string) {
  const base = `http://${target.address.includes(':') ? `[${target.address}]` : target.address}:${target.port}`;
  const res = await fetch(base + pathname, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, body };
}

function describe(p: ProbeResult): { human: string; data: Record<string, unknown>; code: number } {
  switch (p.verdict) {
    case 'duplicate':
    case 'predecessor': {
      const r = p.running;
      return {
        human: `Berth ${r.version} is ${r.state} at ${r.url} (pid ${r.pid}, instance ${r.instance}, since ${r.startedAt})`,
        data: { running: true, ...r },
        code: ExitCode.ok,
      };
    }
    case 'free':
      return { human: `Berth is not running on ${p.address}:${p.port}`, data: { running: false, address: p.address, port: p.port }, code: ExitCode.unexpected };
    default:
      return { human: `Port ${p.port} is held by ${p.what}`, data: { running: false, foreign: p.what, port: p.port }, code: ExitCode.portTaken };
  }
}

async function status(config: ResolvedConfig, out: Output): Promise<number> {
  const p = await probePort(config.host, config.port);
  const d = describe(p);
  out.result(d.human, d.data);
  return d.code;
}

async function runningBerth(config: ResolvedConfig): Promise<ProbeResult & { verdict: 'duplicate' | 'predecessor' }> {
  const p = await probePort(config.host, config.port);
  if (p.verdict === 'duplicate' || p.verdict === 'predecessor') return p;
  const d = describe(p);
  throw new BerthError(d.human + (p.verdict === 'free' ? '. Start it with: berth serve' : ''), p.verdict === 'free' ? ExitCode.unexpected : ExitCode.portTaken);
}

function tokenFor(config: ResolvedConfig): string {
  const t = readToken(config.dataDir);
  if (!t) throw new BerthError(`No token in ${config.dataDir}; is the running Berth using another --data-dir?`, ExitCode.usage);
  return t;
}

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

async function stop(config: ResolvedConfig, out: Output): Promise<number> {
  const p = await probePort(config.host, config.port);
  if (p.verdict === 'free') {
    out.result(`Berth is not running on ${p.address}:${p.port}`, { stopped: false, running: false });
    return ExitCode.ok;
  }
  const target = await runningBerth(config);
  const res = await callApi(target, tokenFor(config), 'POST', '/api/stop');
  if (res.status !== 202) throw new BerthError(`Berth refused to stop (HTTP ${res.status}: ${visible(String(res.body.message ?? ''))})`, ExitCode.unexpected);
  for (let i = 0; i < 150; i++) {
    if ((await probePort(config.host, config.port, { timeout: 500 })).verdict === 'free') {
      out.result(`Stopped Berth (pid ${target.running.pid})`, { stopped: true, pid: target.running.pid });
      return ExitCode.ok;
    }
    await sleep(100);
  }
  throw new BerthError(`Berth (pid ${target.running.pid}) accepted the stop but still holds the port after 15 s`, ExitCode.unexpected);
}

async function restart(config: ResolvedConfig, app: boolean, out: Output): Promise<number> {
  const target = await runningBerth(config);
  const token = tokenFor(config);
  const before = Date.now();
  const res = await callApi(target, token, 'POST', app ? '/api/relaunch' : '/api/restart');
  if (res.status !== 202) throw new BerthError(`Berth refused to restart (HTTP ${res.status}: ${visible(String(res.body.message ?? ''))})`, ExitCode.unexpected);
  for (let i = 0; i < 300; i++) {
    await sleep(50);
    const p = await probePort(config.host, config.port, { timeout: 500 });
    if (p.verdict !== 'duplicate') continue;
    if (app && p.running.instance !== target.running.instance) {
      out.result(`Relaunched: Berth ${p.running.version} pid ${p.running.pid} serves ${p.running.url}`, { restarted: 'app', ...p.running });
      return ExitCode.ok;
    }
    if (!app) {
      const s = await callApi(p, token, 'GET', '/api/status');
      const history = (s.body.history ?? []) as { kind: string; at: string; downtimeMs: number }[];
      const last = history.filter((h) => h.kind === 'restart' && Date.parse(h.at) >= before - 1000).pop();
      if (last) {
        out.result(`Restarted the server on ${p.running.url}; the port was unavailable for ${last.downtimeMs} ms`, { restarted: 'server', downtimeMs: last.downtimeMs, url: p.running.url });
        return ExitCode.ok;
      }
    }
  }
  throw new BerthError('Berth accepted the restart but did not come back within 15 s; see its log', ExitCode.unexpected);
}

async function open(config: ResolvedConfig, out: Output): Promise<number> {
  const target = await runningBerth(config);
  const url = `${target.running.url}/?token=${encodeURIComponent(tokenFor(config))}`;
  const opener = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url.replace(/&/g, '^&')]] : ['xdg-open', [url]];
  const opened = await new Promise<boolean>((resolve) => {
    const child = spawn(opener[0] as string, opener[1] as string[], { stdio: 'ignore', detached: true, windowsHide: true });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
  out.result(opened ? `Opened ${target.running.url} in your browser` : `Open this address in your browser (it signs the tab in once): ${url}`, { url, opened });
  return ExitCode.ok;
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => process.exit(code));
}
