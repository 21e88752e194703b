/**
 * Each command loads only what it needs (docs/STARTUP.md): the client
 * commands never read the server bundle or node:crypto, and a refused
 * `serve` decides from one probe before loading the server. Counted from
 * what the process really loaded, not timed.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenClosable } from '../listen.mjs';
import { BERTH_BIN, ROOT, freePort, killBerth, startServe, tempDataDir, type BerthProcess } from '../helpers';

const PRELOAD = path.join(ROOT, 'test', 'core', 'fixtures', 'loaded-modules.cjs');

function loadedBy(args: string[]): Promise<{ code: number | null; builtins: string[]; files: string[] }> {
  const child = spawn(process.execPath, ['-r', PRELOAD, BERTH_BIN, ...args], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: { ...process.env, BERTH_DATA_DIR: '' } });
  let out = '';
  child.stdio[3]!.on('data', (d) => (out += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, ...JSON.parse(out) })));
}

const bundle = (files: string[]) => files.filter((f) => f.includes(`${path.sep}bundle${path.sep}`)).map((f) => path.basename(f)).sort();

const procs: BerthProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await killBerth(p);
});

describe('what each berth command loads', () => {
  it('--help and status (nothing running) load neither the server nor node:crypto', async () => {
    const port = await freePort();
    for (const args of [['--help'], ['status', '--port', String(port), '--data-dir', tempDataDir()]]) {
      const r = await loadedBy(args);
      expect(bundle(r.files), args[0]).toEqual(['cli.js', 'shared.js']);
      expect(r.builtins, args[0]).not.toContain('crypto');
      expect(r.builtins, args[0]).not.toContain('http2');
    }
  });

  it('status against a running Berth loads no server code either', async () => {
    const port = await freePort();
    const dir = tempDataDir();
    procs.push(await startServe(port, dir));
    const r = await loadedBy(['status', '--port', String(port), '--data-dir', dir]);
    expect(r.code).toBe(0);
    expect(bundle(r.files)).toEqual(['cli.js', 'shared.js']);
    expect(r.builtins).not.toContain('crypto');
  });

  it('a serve refused by its first probe (another program on the port) exits 4 without loading the server', async () => {
    const foreign = net.createServer((s) => s.end('HTTP/1.1 200 OK\r\nServer: NotBerth\r\nContent-Length: 0\r\n\r\n'));
    const close = await listenClosable(foreign, { host: '127.0.0.1', port: 0 });
    try {
      const port = (foreign.address() as net.AddressInfo).port;
      const r = await loadedBy(['serve', '--port', String(port), '--data-dir', tempDataDir()]);
      expect(r.code).toBe(4);
      expect(bundle(r.files)).toEqual(['cli.js', 'shared.js']);
    } finally {
      await close();
    }
  });
});
