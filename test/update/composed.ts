/**
 * Berth as `berth serve` composes it (createBerth), in this test process,
 * with the update service a test builds around it (support.ts makeRig), and
 * the means to watch its port from outside. Shared by the update tests that
 * install.
 */
import net from 'node:net';
import { createBerth } from '../../app/berth';
import type { InstallHooks } from '../../app/lifecycle/plans';
import type { ServerHost } from '../../app/lifecycle/host';
import { memoryLogSink, type LogSink } from '../../app/log';
import { rendererDir } from '../../app/paths';
import type { UpdateHooks } from '../../app/update/service';
import fs from 'node:fs';
import { guardianFolder } from '../../app/guardian/guardian';
import { DesktopLifecycle } from '../../main/lifecycle';
import { LockRegistry, fakeElectron } from '../main/fake-electron';
import { alive, BERTH_BIN, freePort, readToken, ROOT, waitFor, type Health } from '../helpers';
// A plain ES module shared with the benchmark: GET /health on a fresh connection, as a new visitor would.
import { healthOnce } from './fixtures/rig.mjs';
import { tempDir, type Rig, type UpdateServer } from './support';

export interface Setup extends Rig {
  host: ServerHost;
  port: number;
  token: string;
  srv: UpdateServer;
  exits: number[];
  api(method: string, urlPath: string, opts?: { token?: string | null; body?: unknown }): Promise<{ status: number; body: Record<string, unknown> }>;
}

/**
 * Berth 1.0.0 serving on a free port, composed by createBerth as `berth serve` composes it; only the updater
 * (its feed, and what the rig installs) differs. `rigFor` gets the port, data folder and logs it must share.
 * `cleanups` gets what stops the host.
 */
export async function composed(
  srv: UpdateServer,
  cleanups: (() => unknown)[],
  o: { handoffDeadline: number; installHooks?: InstallHooks; dataDir?: string; port?: number; rigFor: (c: { port: number; dataDir: string; logs: LogSink; hooks: UpdateHooks }) => Rig },
): Promise<Setup> {
  const port = o.port ?? (await freePort());
  const dataDir = o.dataDir ?? tempDir();
  const logs = memoryLogSink();
  let rig!: Rig;
  const exits: number[] = [];
  const berth = await createBerth({
    host: '127.0.0.1',
    port,
    dataDir,
    version: '1.0.0',
    logs,
    rendererDir: rendererDir(),
    probeTimeout: 500,
    handoffDeadline: o.handoffDeadline,
    updates: (hooks) => (rig = o.rigFor({ port, dataDir, logs, hooks })).service,
    installHooks: o.installHooks,
    // The plain relaunch is never asked for here.
    relaunchPlan: () => {
      throw new Error('not in this test');
    },
    exit: (code) => exits.push(code),
    exitOnConflict: true,
  });
  const { host, token } = berth;
  await berth.start();
  cleanups.push(() => host.stop());
  return Object.assign(rig, { host, port, token, srv, exits, api: apiFor(port, token) });
}

export function apiFor(port: number, token: string): Setup['api'] {
  return async (method, urlPath, o = {}) => {
    const t = o.token === undefined ? token : o.token;
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
      method,
      headers: { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...(o.body ? { 'Content-Type': 'application/json' } : {}) },
      body: o.body ? JSON.stringify(o.body) : undefined,
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
}

/** Check through the API and wait for the download to be ready. */
export async function ready(s: Setup): Promise<void> {
  const r = await s.api('POST', '/api/update/check');
  if (r.status !== 202) throw new Error(`check answered ${r.status}: ${JSON.stringify(r.body)}`);
  await waitFor(async () => {
    const st = (await s.api('GET', '/api/update')).body;
    if (st.state === 'error') throw new Error(`update error: ${String(st.error)}`);
    return st.state === 'ready';
  }, 'the update to be ready');
}

export const health = (port: number) => healthOnce(port) as Promise<Health | null>;

/** Wait for `version` to serve on the port, as a new visitor sees it. */
export const servingVersion = (port: number, version: string) =>
  waitFor(
    async () => {
      const h = await health(port);
      return h?.version === version ? h : null;
    },
    `Berth ${version} to serve on port ${port}`,
    30_000,
  );

export const refused = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });

/** The desktop's lifecycle owner, with its guardian starting `berth serve` where the installed app would be started. */
export function guardedLifecycle(port: number, dataDir: string) {
  const fe = fakeElectron({ locks: new LockRegistry(), appPath: ROOT, argv: ['/opt/Berth/berth'] });
  const logs = memoryLogSink();
  const lifecycle = new DesktopLifecycle({
    app: fe.app,
    log: logs.root.child({ scope: 'lifecycle' }),
    args: [],
    flushLogs: async () => undefined,
    setTimer: () => 0,
    guardian: { dataDir, version: '1.0.0', allowanceMs: 2000, relaunch: { command: process.execPath, args: [BERTH_BIN, 'serve', '--port', String(port), '--data-dir', dataDir] } },
  });
  return { fe, lifecycle, logs };
}

/** The Berth the guardian started, once it serves; and what its history says the guardian did. */
export async function recovered(s: Setup, before: { instance: string }, cleanups: (() => unknown)[]): Promise<{ detail?: string; failed?: string }[]> {
  const after = await waitFor(async () => {
    const h = await health(s.port);
    return h && h.instance !== before.instance && h.state === 'serving' ? h : null;
  }, 'a Berth to serve the port again', 60_000);
  cleanups.push(async () => {
    fs.rmSync(guardianFolder(s.dataDir), { recursive: true, force: true });
    process.kill(after.pid, 'SIGTERM');
    await waitFor(() => !alive(after.pid), 'the Berth the guardian started to stop');
  });
  const res = await fetch(`http://127.0.0.1:${s.port}/api/status`, { headers: { Authorization: `Bearer ${readToken(s.dataDir)}` } });
  const status = (await res.json()) as { history: { kind: string; detail?: string; failed?: string }[] };
  return status.history.filter((e) => e.kind === 'recovered');
}
