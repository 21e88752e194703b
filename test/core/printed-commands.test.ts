/**
 * Every command Berth prints works when pasted as printed. Each command here
 * is taken from what Berth itself printed (on the terminal, or through the
 * API its pages show) and run through a shell in the source checkout, with a
 * clean environment, as a person would paste it: the sign-in hint of a Berth
 * on a port and data folder that are not the defaults, the three commands of
 * an exit 3, the free port of an exit 4, "Start it with", the pages' start
 * command and open command, a data-folder fix, the help pointers, and the
 * README's. Only the desktop's browser launcher (xdg-open) is a stand-in
 * that writes down the address it was given.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SIGN_IN_PAGE } from '../../app/server/sign-in';
import { shQuote } from '../../app/shell-quote';
import { ROOT, berthEnv, berthProgram, freePort, health, killBerth, readToken, runBerth, tempDataDir, waitFor, type BerthProcess } from '../helpers';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The `berth` command lines in some printed text, in the order printed. */
function commandsIn(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const m = /(?:^|[\s'])((?:node \S*berth\.js|berth)(?: (?:serve|open|stop|status|restart|list|diagnose|--help))(?:[^'\n]*))/.exec(line);
    if (m) found.push(m[1]!.trim().replace(/\.$/, ''));
  }
  return found;
}

/** A browser launcher that writes down the address it was asked to open. */
function browserStandIn(): { dir: string; opened: () => string[] } {
  const dir = tempDataDir('berth-bin-');
  const log = path.join(dir, 'opened.txt');
  fs.writeFileSync(path.join(dir, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${log}'\n`, { mode: 0o755 });
  return { dir, opened: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

const browser = browserStandIn();

/** Paste `command` into a shell in the checkout. */
function paste(command: string, env: NodeJS.ProcessEnv = {}): BerthProcess {
  // exec: a serve started this way is the shell's own process, so stopping it stops Berth.
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], { cwd: ROOT, env: berthEnv({ PATH: `${browser.dir}:${process.env.PATH}`, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const p = { child, stdout: () => out, stderr: () => err, exited };
  cleanups.push(() => killBerth(p));
  return p;
}

async function serving(p: BerthProcess): Promise<string> {
  await Promise.race([
    waitFor(() => /is serving on/.test(p.stdout()), 'serving'),
    p.exited.then((code) => {
      throw new Error(`exited ${code} before serving:\n${p.stdout()}${p.stderr()}`);
    }),
  ]);
  return p.stdout();
}

function started(args: string[]): BerthProcess {
  const p = runBerth(args);
  cleanups.push(() => killBerth(p));
  return p;
}

/** What the browser stand-in was given (the 0600 sign-in page in the data folder, app/server/sign-in.ts) signs a tab in: a 303 with the cookie. */
async function signsIn(url: string, dataDir: string): Promise<void> {
  expect(url).toBe(pathToFileURL(path.join(dataDir, SIGN_IN_PAGE)).href);
  const html = fs.readFileSync(fileURLToPath(url), 'utf8');
  expect(html).not.toContain(readToken(dataDir));
  const link = /content="0;url=([^"]+)"/.exec(html)![1]!.replace(/&#38;/g, '&');
  expect(link).toContain('?ticket=');
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(link, resolve).on('error', reject));
  res.resume();
  expect(res.statusCode).toBe(303);
  expect(String(res.headers['set-cookie'])).toMatch(new RegExp(`^berth_token_${new URL(link).port}=.*HttpOnly`));
}

describe('commands Berth prints run as printed', () => {
  it('the sign-in hint, the exit-3 commands, and "Start it with", on a port and data folder that are not the defaults', async () => {
    const port = await freePort();
    const dataDir = path.join(tempDataDir(), 'my data');
    const first = started(['serve', '--port', String(port), '--data-dir', dataDir]);
    const hint = commandsIn(await serving(first));
    expect(hint).toEqual([`${berthProgram()} open --port ${port} --data-dir "${dataDir}"`]);
    expect((await paste(hint[0]!).exited)).toBe(0);
    await signsIn(browser.opened().at(-1)!, dataDir);

    // A second start on the same address: exit 3 with three commands, each of which works.
    const second = runBerth(['serve', '--port', String(port), '--data-dir', dataDir]);
    expect(await second.exited).toBe(3);
    const [open, stop, replace] = commandsIn(second.stderr());
    expect([open, stop, replace].map((c) => c?.replace(berthProgram(), 'BERTH').split(' ').slice(0, 2).join(' '))).toEqual(['BERTH open', 'BERTH stop', 'BERTH serve']);
    const opened = paste(open!);
    expect(await opened.exited, opened.stderr()).toBe(0);
    await signsIn(browser.opened().at(-1)!, dataDir);
    const takeover = paste(replace!);
    await serving(takeover);
    expect(await first.exited).toBe(0);
    const stopped = paste(stop!);
    expect(await stopped.exited, stopped.stderr()).toBe(0);
    expect(await takeover.exited).toBe(0);

    // Nothing running: "Start it with" starts it where it was.
    const status = paste(`node bin/berth.js status --data-dir "${dataDir}" --port ${port}`);
    expect(await status.exited).toBe(1);
    const [start] = commandsIn(status.stdout() + status.stderr());
    await serving(paste(start!));
    expect((await health(port))?.state).toBe('serving');
  });

  it('status, open, stop and restart given only the data folder find the Berth of that folder', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const p = started(['serve', '--port', String(port), '--data-dir', dataDir]);
    await serving(p);
    for (const command of ['status', 'open', 'restart']) {
      const run = paste(`node bin/berth.js ${command} --data-dir ${dataDir}`);
      expect(await run.exited, `${command}: ${run.stdout()}${run.stderr()}`).toBe(0);
    }
    await signsIn(browser.opened().at(-1)!, dataDir);
    // And an address alone finds which data folder (so which token) the Berth there uses.
    const open = paste(`node bin/berth.js open --port ${port}`);
    expect(await open.exited, open.stderr()).toBe(0);
    await signsIn(browser.opened().at(-1)!, dataDir);
    expect(await paste(`node bin/berth.js stop --data-dir ${dataDir}`).exited).toBe(0);
    expect(await p.exited).toBe(0);
  });

  it('exit 4 offers a port that is free, with the command that serves there', async () => {
    const taken = http.createServer((_req, res) => res.end('not Berth'));
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => taken.close(r)));
    const dataDir = tempDataDir();
    const refused = runBerth(['serve', '--port', String(port), '--data-dir', dataDir]);
    expect(await refused.exited).toBe(4);
    const [serve] = commandsIn(refused.stderr());
    expect(serve!.startsWith(`${berthProgram()} serve --port `)).toBe(true);
    expect(serve).toMatch(new RegExp(` serve --port \\d+ --data-dir ${dataDir}$`));
    const free = Number(/--port (\d+)/.exec(serve!)![1]);
    expect(free).not.toBe(port);
    await serving(paste(serve!));
    expect((await health(free))?.state).toBe('serving');
  });

  it('what the pages print: the start command of a stopped Berth and the signed-out page’s open command', async () => {
    const port = await freePort();
    const dataDir = tempDataDir();
    const p = started(['serve', '--port', String(port), '--data-dir', dataDir]);
    await serving(p);
    const token = readToken(dataDir);
    const status = (await (await fetch(`http://127.0.0.1:${port}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { startCommand: string };
    const { command: openCommand } = (await (await fetch(`http://127.0.0.1:${port}/api/open-command`)).json()) as { command: string };
    // The pages may be read anywhere: the full path of the checkout's bin/berth.js.
    expect(status.startCommand).toBe(`${berthProgram('page')} serve --port ${port} --data-dir ${dataDir}`);
    expect(openCommand).toBe(`${berthProgram('page')} open --port ${port} --data-dir ${dataDir}`);
    const opened = paste(openCommand);
    expect(await opened.exited, opened.stderr()).toBe(0);
    await signsIn(browser.opened().at(-1)!, dataDir);
    await killBerth(p);
    await serving(paste(status.startCommand));
  });

  it('the fix for a data folder others can change, and the help pointers', async () => {
    const dataDir = tempDataDir();
    fs.chmodSync(dataDir, 0o777);
    const refused = runBerth(['serve', '--port', String(await freePort()), '--data-dir', dataDir]);
    expect(await refused.exited).toBe(2);
    const fix = /To fix it: (.+)$/m.exec(refused.stderr())![1]!;
    expect(await paste(fix).exited).toBe(0);
    await serving(paste(`node bin/berth.js serve --port ${await freePort()} --data-dir ${dataDir}`));

    const typo = runBerth(['serve', '--prot', '9000']);
    expect(await typo.exited).toBe(2);
    const [help] = commandsIn(typo.stderr());
    expect(help).toBe(`${berthProgram()} serve --help`);
    const shown = paste(help!);
    expect(await shown.exited).toBe(0);
    expect(shown.stdout()).toContain(`Usage: ${berthProgram()} serve [options]`);
  });

  it('the README’s commands for a source checkout, against a Berth started the README’s way (another port, the default data folder)', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const inReadme = [...new Set([...readme.matchAll(/`(node bin\/berth\.js [^`]+)`/g)].map((m) => m[1]!))];
    // The default data folder, in a home of its own (tests never touch the real one).
    const env = { XDG_CONFIG_HOME: tempDataDir('berth-home-') };
    const port = await freePort();
    const server = paste(`node bin/berth.js serve --port ${port}`, env);
    await serving(server);
    const ran: string[] = [];
    for (const command of inReadme) {
      // Starting or stopping it is covered above; here, everything that reads or acts on the running one.
      if (/ (serve|stop)\b/.test(command)) continue;
      const run = paste(command, env);
      expect(await run.exited, `${command}: ${run.stdout()}${run.stderr()}`).toBe(0);
      ran.push(command);
    }
    expect(ran).toEqual(expect.arrayContaining(['node bin/berth.js open', 'node bin/berth.js status', 'node bin/berth.js list']));
    expect(await paste('node bin/berth.js stop', env).exited).toBe(0);
    expect(await server.exited).toBe(0);
  });
});

describe('the one POSIX shell quoter (guardian scripts, data-folder fixes, package install commands)', () => {
  it('gives back every text as it was, through a real /bin/sh', async () => {
    const texts = ["O'Brien's data", 'a b\tc', '$HOME `id` $(id) "x"', 'line\nbreak', "''", '', '\\ back\\slash', '-n', '*?[a]'];
    const script = texts.map((t) => `printf '%s\\0' ${shQuote(t)}`).join('\n');
    const out = await new Promise<string>((resolve, reject) => {
      const sh = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      sh.stdout.on('data', (d: Buffer) => (text += d.toString()));
      sh.once('error', reject);
      sh.once('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`sh exited ${code}`))));
    });
    expect(out.split('\0').slice(0, -1)).toEqual(texts);
  });
});
