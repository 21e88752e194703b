/**
 * The service files in docs/service/ work as written: systemd accepts the
 * units (systemd-analyze verify), and berth.service's own command lines run
 * under a real systemd-socket-activate with berth.socket's address, through a
 * reload, a relaunch, and a stop the way systemd stops a service. The launchd
 * plist is well formed and starts `berth serve`.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, BERTH_BIN, freePort, health, killBerth, ROOT, runBerth, startedWaits, tempDataDir, waitFor, type BerthProcess } from '../helpers';

const SERVICE = path.join(ROOT, 'docs', 'service');
const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;

const procs: BerthProcess[] = [];
const pids: number[] = [];
afterEach(async () => {
  for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const p of procs.splice(0)) await killBerth(p);
});

/** `Key=value` lines of a unit file, in order (a key may repeat). */
function unit(name: string): [string, string][] {
  return fs
    .readFileSync(path.join(SERVICE, name), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const value = (lines: [string, string][], key: string) => lines.find(([k]) => k === key)?.[1];

/** `${NAME}` and `%X` in a unit's line, with the values given. */
const expand = (text: string, vars: Record<string, string>) => text.replace(/\$\{(\w+)\}|%(\w)/g, (m, a: string | undefined, b: string | undefined) => vars[a ?? `%${b}`] ?? m);

/** A command line of the unit, for this checkout: its node and berth.js, and the folders given. */
function commandLine(line: string, vars: Record<string, string>): string[] {
  const words = expand(line, vars).split(/\s+/);
  expect(words[0]).toMatch(/\/node$/);
  expect(words[1]).toMatch(/\/bin\/berth\.js$/);
  return [process.execPath, BERTH_BIN, ...words.slice(2)];
}

describe.skipIf(!has('systemd-analyze'))('docs/service: the systemd units', () => {
  it('systemd accepts berth.socket and berth.service (pointed at this checkout)', () => {
    const dir = tempDataDir('berth-units-');
    for (const name of ['berth.socket', 'berth.service']) {
      const text = fs.readFileSync(path.join(SERVICE, name), 'utf8').replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/berth/bin/berth.js', BERTH_BIN);
      fs.writeFileSync(path.join(dir, name), text);
    }
    const r = spawnSync('systemd-analyze', ['verify', path.join(dir, 'berth.socket'), path.join(dir, 'berth.service')], { encoding: 'utf8' });
    expect({ status: r.status, said: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, said: '' });
  });
});

describe.skipIf(!has('systemd-socket-activate'))('docs/service: berth.service run as systemd runs it', () => {
  it('activated on its socket, reloaded, relaunched, and stopped with a drain when systemd signals every process of the service', async () => {
    const socket = unit('berth.socket');
    const service = unit('berth.service');
    const [address] = value(socket, 'ListenStream')!.split(':');
    const port = await freePort();
    const state = tempDataDir('berth-service-');
    fs.chmodSync(state, 0o700);
    const vars = { STATE_DIRECTORY: state, '%C': tempDataDir('berth-cache-') };
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
    for (const [k, v] of service) if (k === 'Environment') env[v.slice(0, v.indexOf('='))] = expand(v.slice(v.indexOf('=') + 1), vars);

    const child = spawn('systemd-socket-activate', ['-l', `${address}:${port}`, `--fdname=${value(socket, 'FileDescriptorName')}`, ...commandLine(value(service, 'ExecStart')!, vars)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let said = '';
    child.stderr!.on('data', (d) => (said += d));
    child.stdout!.resume();
    const main: BerthProcess = { child, stdout: () => '', stderr: () => said, exited: new Promise((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1))) };
    procs.push(main);
    await waitFor(() => said.includes('Listening on'), 'systemd-socket-activate to listen');
    // The first connection starts the service, and is answered once Berth serves.
    expect(await waitFor(() => health(port), 'the service to answer its first connection', 30_000)).toMatchObject({ pid: child.pid, state: 'serving' });
    const log = () => fs.readFileSync(path.join(state, 'logs', 'berth.log'), 'utf8');
    expect(log()).toContain('serving on the socket systemd passed (descriptor 3), without a probe');

    // systemctl reload: ExecReload, with its port made this test's.
    const reload = commandLine(value(service, 'ExecReload')!.replace(/--port \d+/, `--port ${port}`), vars);
    const reloaded = runBerth(reload.slice(2));
    expect(await reloaded.exited, reloaded.stderr()).toBe(0);
    // The answer can reach the CLI before the log line reaches the file.
    await waitFor(() => log().includes('restarted in place; the listening socket stayed open'), 'the restart in place to be logged');

    // A relaunch: the main process stays, waiting for the new one.
    const relaunch = runBerth(['restart', '--app', '--json', '--port', String(port), '--data-dir', state]);
    expect(await relaunch.exited, relaunch.stderr()).toBe(0);
    const serving = (JSON.parse(relaunch.stdout()) as { pid: number }).pid;
    pids.push(serving);
    await waitFor(() => startedWaits(state, child.pid!), 'the main process to hand over and wait');

    // systemctl stop (KillMode=control-group): SIGTERM to every process of the service. Here the one the main
    // process passes on arrives first, the harder order: the direct one must not count as a second SIGTERM.
    // A request still arriving holds the drain open for its deadline, so the direct SIGTERM meets the drain.
    const slow = net.connect(port, '127.0.0.1', () => slow.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`));
    slow.on('error', () => undefined);
    await new Promise((r) => slow.once('connect', r));
    process.kill(child.pid!, 'SIGTERM');
    await waitFor(() => log().includes(`"pid":${serving},"scope":"cli","msg":"SIGTERM: draining and stopping`), 'the passed-on SIGTERM to reach the Berth serving');
    process.kill(serving, 'SIGTERM');
    expect(await main.exited).toBe(0);
    expect(alive(serving)).toBe(false);
    // One stop, drained: the SIGTERM the main process passed on did not count as a second one.
    expect(log()).toContain(`"pid":${serving},"scope":"cli","msg":"SIGTERM: draining and stopping`);
    expect(log()).not.toContain('again: exiting now');
  });
});

describe.skipIf(!has('python3'))('docs/service: the launchd agent', () => {
  it('is a well-formed property list that keeps `berth serve` running', () => {
    const r = spawnSync('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', path.join(SERVICE, 'dev.berth.serve.plist')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const plist = JSON.parse(r.stdout) as { Label: string; ProgramArguments: string[]; KeepAlive: { SuccessfulExit: boolean } };
    expect(plist.ProgramArguments.slice(1)).toEqual(['/opt/berth/bin/berth.js', 'serve']);
    expect(plist.KeepAlive).toEqual({ SuccessfulExit: false });
  });
});
