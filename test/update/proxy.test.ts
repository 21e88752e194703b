/**
 * The headless updater behind a proxy: HTTPS_PROXY (CONNECT tunnels), HTTP_PROXY,
 * and NO_PROXY, read from the real environment of a process of its own
 * (fixtures/check-once.mjs, the updater `berth serve` builds). The proxy is a
 * real one on loopback that relays and counts what passes through it; the
 * update server speaks TLS with a certificate made for this run, trusted
 * through NODE_EXTRA_CA_CERTS, and serves electron-builder's AppImages.
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { proxyFor } from '../../app/update/node-adapter';
import { ROOT } from '../helpers';
import { appImageBuildProblem, appImageName, appImages, removeRigDirs, tempDir, updateServer, type Build, type UpdateServer } from './support';

afterAll(() => removeRigDirs());

describe('which requests go through a proxy (the environment as curl reads it)', () => {
  const url = (u: string) => new URL(u);
  it('https URLs take HTTPS_PROXY, http URLs take HTTP_PROXY, lower case first', () => {
    const env = { HTTPS_PROXY: 'http://proxy.test:3128', HTTP_PROXY: 'http://plain.test:8080' };
    expect(proxyFor(url('https://updates.example.com/x'), env)?.href).toBe('http://proxy.test:3128/');
    expect(proxyFor(url('http://updates.example.com/x'), env)?.href).toBe('http://plain.test:8080/');
    expect(proxyFor(url('https://u.example.com/'), { ...env, https_proxy: 'lower.test:1' })?.href).toBe('http://lower.test:1/');
    expect(proxyFor(url('https://u.example.com/'), {})).toBeNull();
  });

  it('NO_PROXY: *, names and their subdomains, .domain, IPs, and ports', () => {
    const env = (no: string) => ({ HTTPS_PROXY: 'http://proxy.test:3128', NO_PROXY: no });
    const direct = (u: string, no: string) => proxyFor(url(u), env(no)) === null;
    expect(direct('https://a.example.com/', '*')).toBe(true);
    expect(direct('https://example.com/', 'example.com')).toBe(true);
    expect(direct('https://a.example.com/', 'example.com')).toBe(true);
    expect(direct('https://badexample.com/', 'example.com')).toBe(false);
    expect(direct('https://a.example.com/', '.example.com')).toBe(true);
    expect(direct('https://example.com/', '.example.com')).toBe(true);
    expect(direct('https://a.example.com/', '*.example.com')).toBe(true);
    expect(direct('https://10.1.2.3/', 'localhost, 10.1.2.3')).toBe(true);
    expect(direct('https://[::1]:8443/', '::1')).toBe(true);
    expect(direct('https://example.com:8443/', 'example.com:443')).toBe(false);
    expect(direct('https://example.com/', 'example.com:443')).toBe(true);
    expect(direct('https://example.com/', 'other.com,,')).toBe(false);
  });
});

/** A forward proxy on loopback: CONNECT tunnels and absolute-URI requests, each counted. Only loopback targets. */
async function startProxy() {
  const tunnels: string[] = [];
  const relayed: string[] = [];
  /** Local ports of the proxy's own connections to servers: a request arriving from one came through the proxy. */
  const outboundPorts = new Set<number>();
  const sockets = new Set<net.Socket>();
  const loopback = (host: string) => ['localhost', '127.0.0.1', '::1', '[::1]'].includes(host);
  const server = http.createServer((req, res) => {
    const target = new URL(req.url!);
    relayed.push(req.url!);
    if (!loopback(target.hostname)) return void res.writeHead(403).end();
    const up = http.request({ host: '127.0.0.1', port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('socket', (s) => s.once('connect', () => outboundPorts.add(s.localPort!)));
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url!);
    const [host, port] = [req.url!.slice(0, req.url!.lastIndexOf(':')), Number(req.url!.slice(req.url!.lastIndexOf(':') + 1))];
    if (!loopback(host)) return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const up = net.connect({ host: '127.0.0.1', port }, () => {
      outboundPorts.add(up.localPort!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    for (const s of [up, client]) {
      sockets.add(s);
      s.on('error', () => (up.destroy(), client.destroy()));
      s.once('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url,
    tunnels,
    relayed,
    outboundPorts,
    close: () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A certificate for localhost, made for this run, that the child process trusts (NODE_EXTRA_CA_CERTS). */
function makeCertificate(dir: string): { key: string; cert: string; file: string } {
  const key = path.join(dir, 'localhost.key');
  const file = path.join(dir, 'localhost.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', key, '-out', file,
  ], { stdio: 'ignore' });
  return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(file, 'utf8'), file };
}

interface CheckResult {
  version?: string | null;
  sha512?: string;
  error?: string;
  code?: string;
  log: string[];
}

/** The headless updater's check and download, in a process whose environment is exactly `env` plus PATH and HOME. */
function checkOnce(feed: string, installed: Build, env: Record<string, string>): Promise<CheckResult> {
  const dataDir = tempDir();
  const appImage = path.join(dataDir, 'install', appImageName('1.0.0'));
  fs.mkdirSync(path.dirname(appImage), { recursive: true });
  fs.copyFileSync(installed.file, appImage);
  const child = spawn(process.execPath, [path.join(ROOT, 'test/update/fixtures/check-once.mjs'), '--data-dir', dataDir, '--version', '1.0.0', '--feed', feed], {
    env: { PATH: process.env.PATH ?? '', HOME: dataDir, APPIMAGE: appImage, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as CheckResult);
      } catch {
        reject(new Error(`check-once exited ${code}: ${out}`));
      }
    }),
  );
}

const sha512 = (file: string) => crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64');

describe.skipIf(appImageBuildProblem)(`the headless updater through a proxy${appImageBuildProblem ? ` (skipped: ${appImageBuildProblem})` : ''}`, () => {
  let B: Record<string, Build>;
  let cert: ReturnType<typeof makeCertificate>;
  beforeAll(async () => {
    B = await appImages('1.0.0', '1.0.1');
    cert = makeCertificate(tempDir());
  }, 240_000);

  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (closing.length) await closing.pop()!();
  });
  async function servers(tls: boolean): Promise<{ srv: UpdateServer; proxy: Awaited<ReturnType<typeof startProxy>> }> {
    const srv = await updateServer(tls ? { tls: { key: cert.key, cert: cert.cert } } : undefined);
    srv.publishBuild(B['1.0.1']!);
    const proxy = await startProxy();
    closing.push(() => srv.close(), () => proxy.close());
    return { srv, proxy };
  }

  it('HTTPS_PROXY: every request to an https feed (manifest, blockmap, changed ranges) goes through a CONNECT tunnel', async () => {
    const { srv, proxy } = await servers(true);
    const r = await checkOnce(srv.url, B['1.0.0']!, { HTTPS_PROXY: proxy.url, NODE_EXTRA_CA_CERTS: cert.file });
    expect(r.error, r.log.join('\n')).toBeUndefined();
    expect(r).toMatchObject({ version: '1.0.1', sha512: sha512(B['1.0.1']!.file) });
    const port = new URL(srv.url).port;
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`localhost:${port}`]));
    // The differential download's range requests came through too: every request the server saw arrived from the proxy.
    expect(srv.requests.some((q) => q.headers.range)).toBe(true);
    expect(srv.requests.filter((q) => !proxy.outboundPorts.has(q.remotePort))).toEqual([]);
  });

  it('NO_PROXY naming the update host: the same check goes direct, and the proxy sees nothing', async () => {
    const { srv, proxy } = await servers(true);
    const r = await checkOnce(srv.url, B['1.0.0']!, { HTTPS_PROXY: proxy.url, NO_PROXY: 'example.invalid,localhost', NODE_EXTRA_CA_CERTS: cert.file });
    expect(r.error, r.log.join('\n')).toBeUndefined();
    expect(r).toMatchObject({ version: '1.0.1', sha512: sha512(B['1.0.1']!.file) });
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.relayed).toEqual([]);
    expect(srv.requests.length).toBeGreaterThan(0);
  });

  it('HTTP_PROXY for a plain-http feed: the proxy relays each request, whole URL in the request line', async () => {
    const { srv, proxy } = await servers(false);
    const r = await checkOnce(srv.url, B['1.0.0']!, { HTTP_PROXY: proxy.url });
    expect(r.error, r.log.join('\n')).toBeUndefined();
    expect(r).toMatchObject({ version: '1.0.1', sha512: sha512(B['1.0.1']!.file) });
    expect(proxy.relayed.length).toBe(srv.requests.length);
    expect(proxy.relayed.map((u) => new URL(u).pathname.slice(1))).toEqual(srv.requests.map((q) => q.path));
  });

  it('a proxy that is not there: the check fails saying the server could not be reached, nothing downloaded', async () => {
    const { srv, proxy } = await servers(true);
    const gone = proxy.url;
    await proxy.close();
    closing.splice(closing.length - 1, 1);
    const r = await checkOnce(srv.url, B['1.0.0']!, { HTTPS_PROXY: gone, NODE_EXTRA_CA_CERTS: cert.file });
    expect(r.code ?? r.error).toMatch(/ECONNREFUSED/);
    expect(srv.requests).toEqual([]);
  }, 30_000);
});
