#!/usr/bin/env node
/**
 * A generic update location on loopback: serves one directory of files as
 * electron-builder wrote them (latest*.yml, installers, .blockmap files),
 * the way a static web server or a bucket would. It answers HEAD, and Range
 * requests with one range (206) or several (206 multipart/byteranges), which
 * electron-updater's differential download sends. It counts the bytes it
 * sent per file, so a test can say how much of an update was downloaded.
 *
 *   node e2e/desktop/update-server.mjs <dir> [--port <n>]
 *
 * prints one JSON line {"url": ...} once it listens, then one line per
 * request on stderr, and stops on SIGINT/SIGTERM. Only files directly in
 * <dir> are served; nothing outside it, no listings.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// The range handling the update tests' own server uses (test/update/fixtures).
import { listenClosable } from '../../test/listen.mjs';
import { multipartFraming, parseRange } from '../../test/update/fixtures/byte-ranges.mjs';

const TYPES = { '.yml': 'text/yaml', '.yaml': 'text/yaml', '.json': 'application/json' };

/**
 * Serve `dir` on host:port (port 0: any free port). Resolves once listening.
 * @param {string} dir
 * @param {{ host?: string, port?: number, log?: (line: string) => void }} [opts]
 */
export async function serveDirectory(dir, opts = {}) {
  const root = path.resolve(dir);
  /** @type {{ method: string, file: string, range: string | null, status: number, bytes: number }[]} */
  const requests = [];

  const server = http.createServer((req, res) => {
    const record = { method: req.method ?? '', file: '', range: req.headers.range ?? null, status: 0, bytes: 0 };
    requests.push(record);
    res.once('close', () => opts.log?.(`${record.method} /${record.file} ${record.range ? `(${record.range.length > 60 ? `${record.range.slice(0, 57)}...` : record.range}) ` : ''}-> ${record.status}, ${record.bytes} bytes`));
    const send = (status, headers, body) => {
      record.status = status;
      res.writeHead(status, headers);
      if (body && req.method !== 'HEAD') {
        record.bytes += Buffer.byteLength(body);
        res.end(body);
      } else res.end();
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { Allow: 'GET, HEAD' }, 'method not allowed\n');
    let name;
    try {
      name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    } catch {
      return send(400, {}, 'bad path\n');
    }
    record.file = name;
    // One level, plain names: no directories, no dot files, nothing outside the directory.
    if (!name || name.includes('/') || name.includes('\\') || name.startsWith('.') || name.includes('\0')) return send(404, {}, 'not found\n');
    const file = path.join(root, name);
    let stat;
    try {
      stat = fs.statSync(file);
    } catch {
      return send(404, {}, 'not found\n');
    }
    if (!stat.isFile()) return send(404, {}, 'not found\n');
    const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
    const common = { 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-cache', 'Last-Modified': stat.mtime.toUTCString() };
    const ranges = parseRange(req.headers.range, stat.size);
    if (ranges === 'unsatisfiable') return send(416, { ...common, 'Content-Range': `bytes */${stat.size}` }, '');
    if (!ranges) return stream(res, record, req.method, file, 200, { ...common, 'Content-Type': type, 'Content-Length': stat.size }, [[0, stat.size - 1]]);
    if (ranges.length === 1) {
      const [s, e] = ranges[0];
      return stream(res, record, req.method, file, 206, { ...common, 'Content-Type': type, 'Content-Length': e - s + 1, 'Content-Range': `bytes ${s}-${e}/${stat.size}` }, ranges);
    }
    // Several ranges: one multipart/byteranges body.
    const multipart = multipartFraming(ranges, stat.size, type);
    return stream(res, record, req.method, file, 206, { ...common, 'Content-Type': multipart.contentType, 'Content-Length': multipart.length }, ranges, multipart);
  });
  const close = await listenClosable(server, { host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  const address = server.address();
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    requests,
    /** Bytes of `file` sent in GET responses (whole, ranges and multipart framing included). */
    bytesSent(file) {
      return requests.filter((r) => r.file === file && r.method === 'GET').reduce((n, r) => n + r.bytes, 0);
    },
    close,
  };
}

/** Write the ranges of a file (with multipart framing when given), counting what goes out. */
function stream(res, record, method, file, status, headers, ranges, multipart) {
  record.status = status;
  res.writeHead(status, headers);
  if (method === 'HEAD') return void res.end();
  const fd = fs.openSync(file, 'r');
  let open = true;
  const closeFd = () => {
    if (open) fs.closeSync(fd);
    open = false;
  };
  const write = (buf) => {
    record.bytes += buf.length;
    return res.write(buf);
  };
  let current = null;
  let i = 0;
  const next = () => {
    if (!open) return;
    if (i >= ranges.length) {
      closeFd();
      if (multipart) write(multipart.tail);
      return void res.end();
    }
    const [start, end] = ranges[i];
    if (multipart) write(multipart.heads[i]);
    current = fs.createReadStream('', { fd, start, end, autoClose: false });
    current.on('data', (chunk) => {
      if (!write(chunk)) {
        current.pause();
        res.once('drain', () => current?.resume());
      }
    });
    current.once('end', () => {
      if (multipart) write(Buffer.from('\r\n'));
      i++;
      next();
    });
    current.once('error', (err) => {
      closeFd();
      res.destroy(err);
    });
  };
  // The client went away (electron-updater cancels, or a test ends): stop reading and let go of the file.
  res.once('close', () => {
    if (!open) return;
    current?.destroy();
    current = null;
    closeFd();
  });
  next();
}

async function cli(argv) {
  const dir = argv.find((a) => !a.startsWith('--'));
  const portAt = argv.indexOf('--port');
  const port = portAt >= 0 ? Number(argv[portAt + 1]) : 0;
  if (!dir || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write('usage: node e2e/desktop/update-server.mjs <dir> [--port <n>]\n');
    process.exit(2);
  }
  const srv = await serveDirectory(dir, { port, log: (line) => process.stderr.write(`update-server: ${line}\n`) });
  process.stdout.write(`${JSON.stringify({ url: srv.url, dir: path.resolve(dir) })}\n`);
  const stop = () => srv.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await cli(process.argv.slice(2));
