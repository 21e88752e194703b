import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BerthError, ExitCode } from '../../app/errors';
import { memoryLogSink } from '../../app/log';
import type { ServerHost } from '../../app/lifecycle/host';
import { loadSettings, saveSettings } from '../../app/settings/settings';
import { pickFreePort, startDialog, startServer, type StartDialog, type StartableHost } from '../../main/startup';
import { closeServer, foreignHttp, makeHost } from '../core/fixtures';
import { freePort, health, tempDataDir } from '../helpers';

const hosts: ServerHost[] = [];
const servers: (http.Server | net.Server)[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop().catch(() => undefined);
  for (const s of servers.splice(0)) await closeServer(s).catch(() => undefined);
});

/** Answers each dialog with the button whose label starts with `pick`, and keeps what was shown. */
function answer(...picks: string[]) {
  const shown: StartDialog[] = [];
  return {
    shown,
    ask: async (d: StartDialog) => {
      shown.push(d);
      const pick = picks[Math.min(shown.length - 1, picks.length - 1)]!;
      const i = d.buttons.findIndex((b) => b.startsWith(pick));
      if (i < 0) throw new Error(`no button "${pick}" in ${JSON.stringify(d.buttons)}`);
      return i;
    },
  };
}

/** One Berth, as the desktop has: "Choose another port…" points the same host at the new port (main/desktop.ts setupServer). */
async function deps(port: number, dataDir: string, ask: (d: StartDialog) => Promise<number>) {
  const opened: string[] = [];
  let logsShown = 0;
  const h = await makeHost(port, { dataDir });
  hosts.push(h);
  let first = true;
  return {
    opened,
    logsShown: () => logsShown,
    deps: {
      createHost: (p: number) => {
        if (!first) h.retarget('127.0.0.1', p);
        first = false;
        return h;
      },
      port,
      host: '127.0.0.1',
      ask,
      savePort: (p: number) => saveSettings(dataDir, { ...loadSettings(dataDir).settings, port: p }),
      openRunning: (url: string) => opened.push(url),
      showLogs: () => logsShown++,
      log: memoryLogSink().root,
      logFile: path.join(dataDir, 'logs', 'berth.log'),
    },
  };
}

describe('start-up verdicts become desktop dialogs', () => {
  it('a free port just serves, with no dialog', async () => {
    const port = await freePort();
    const a = answer('Quit');
    const out = await startServer((await deps(port, tempDataDir(), a.ask)).deps);
    expect('serving' in out && (await health(port))?.instance).toBe('serving' in out ? out.serving.instance : '');
    expect(a.shown).toEqual([]);
  });

  it('foreign: names what holds the port; "Choose another port…" moves to a free port and saves it', async () => {
    const port = await freePort();
    servers.push(await foreignHttp(port));
    const dataDir = tempDataDir();
    const a = answer('Choose another port');
    const out = await startServer((await deps(port, dataDir, a.ask)).deps);
    expect(a.shown).toHaveLength(1);
    expect(a.shown[0]).toMatchObject({ kind: 'foreign', type: 'warning', buttons: ['Choose another port…', 'Quit'] });
    expect(a.shown[0]!.message).toBe(`Berth's port is in use by another web server: "HTTP/1.1 200 OK" (Server: NotBerth/1.0)`);
    if (!('serving' in out)) throw new Error('expected to serve');
    const moved = out.serving as unknown as ServerHost;
    expect(moved.port).not.toBe(port);
    expect((await health(moved.port))?.instance).toBe(moved.instance);
    expect(loadSettings(dataDir).settings.port).toBe(moved.port);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'settings.json'), 'utf8')).port).toBe(moved.port);
  });

  it('foreign, Quit: leaves without touching settings', async () => {
    const port = await freePort();
    servers.push(await foreignHttp(port));
    const dataDir = tempDataDir();
    const out = await startServer((await deps(port, dataDir, answer('Quit').ask)).deps);
    expect(out).toEqual({ quit: 'quit' });
    expect(fs.existsSync(path.join(dataDir, 'settings.json'))).toBe(false);
  });

  it('duplicate (a headless berth serve on the port): "already running at URL", Open opens that one and this copy quits', async () => {
    const port = await freePort();
    const running = await makeHost(port);
    hosts.push(running);
    await running.start();
    const a = answer('Open');
    const d = await deps(port, tempDataDir(), a.ask);
    const out = await startServer(d.deps);
    expect(out).toEqual({ quit: 'open-running' });
    expect(a.shown[0]).toMatchObject({ kind: 'duplicate', message: `Berth is already running at http://127.0.0.1:${port}`, buttons: ['Open', 'Quit'] });
    expect(a.shown[0]!.detail).toContain(`pid ${process.pid}`);
    expect(d.opened).toEqual([`http://127.0.0.1:${port}`]);
    // The running one is untouched.
    expect((await health(port))?.instance).toBe(running.instance);
  });

  it('never loops: retries stop after a few ports, each one a person\'s choice', async () => {
    let created = 0;
    const always = (): StartableHost => ({
      port: 1,
      url: 'http://127.0.0.1:1',
      start: async () => {
        created++;
        throw new BerthError('Port 1 is in use by something', ExitCode.portTaken, { what: 'something' });
      },
    });
    const a = answer('Choose another port');
    const out = await startServer({ ...(await deps(await freePort(), tempDataDir(), a.ask)).deps, createHost: always, savePort: () => undefined, maxAttempts: 3 });
    expect(out).toEqual({ quit: 'quit' });
    expect(created).toBe(3);
    expect(a.shown).toHaveLength(2);
  });

  it('any other failure: an error dialog with the message and the log; Show logs opens them', async () => {
    const failing = (): StartableHost => ({
      port: 80,
      url: 'http://127.0.0.1:80',
      start: async () => {
        throw new BerthError('Not allowed to listen on 127.0.0.1:80 (EACCES)', ExitCode.usage);
      },
    });
    const a = answer('Show logs');
    const d = await deps(await freePort(), tempDataDir(), a.ask);
    const out = await startServer({ ...d.deps, createHost: failing });
    expect(out).toEqual({ quit: 'show-logs' });
    expect(d.logsShown()).toBe(1);
    expect(a.shown[0]).toMatchObject({ kind: 'error', type: 'error', message: 'Berth could not start its server' });
    expect(a.shown[0]!.detail).toMatch(/EACCES[\s\S]*The log is at .*berth\.log/);
  });

  it('startDialog falls back to an error dialog for an exit-3 error without details', () => {
    expect(startDialog(new BerthError('x', ExitCode.alreadyRunning), { logFile: null }).kind).toBe('error');
  });

  it('pickFreePort skips ports that are taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    servers.push(taken);
    const port = (taken.address() as net.AddressInfo).port;
    // Asked for a port near port-1, it must step over the one we hold.
    const p = await pickFreePort('127.0.0.1', port - 1);
    expect(p).not.toBe(port);
    expect(p).not.toBe(port - 1);
  });
});
