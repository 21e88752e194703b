/**
 * The UI's files go out compressed: the build writes brotli and gzip copies
 * (renderer/vite.config.mts) and the server sends the one a browser's
 * Accept-Encoding asks for, with the immutable caching of hashed assets kept
 * and Vary: Accept-Encoding so a cache keeps one copy per encoding.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterEach, describe, expect, test } from 'vitest';
import { pickEncoding } from '../../app/server/ui-files';
import { ROOT, rawRequest } from '../../test/helpers';
import { startBerth, stopAll } from './harness';

afterEach(stopAll);

const OUT = path.join(ROOT, 'out', 'renderer');
const script = fs.readdirSync(path.join(OUT, 'assets')).find((f) => /^index-.*\.js$/.test(f))!;

/** A request that asks for `acceptEncoding` (none: no header) and gets the body as sent. */
const get = (url: string, acceptEncoding: string | null, method = 'GET') => rawRequest(url, { method, headers: acceptEncoding === null ? {} : { 'Accept-Encoding': acceptEncoding } });

describe('precompressed UI files', () => {
  test('the build wrote smaller brotli and gzip copies of the script, the styles and the page', () => {
    for (const f of [path.join('assets', script), 'index.html']) {
      const plain = fs.readFileSync(path.join(OUT, f));
      const br = fs.readFileSync(path.join(OUT, `${f}.br`));
      const gz = fs.readFileSync(path.join(OUT, `${f}.gz`));
      expect(zlib.brotliDecompressSync(br).equals(plain), f).toBe(true);
      expect(zlib.gunzipSync(gz).equals(plain), f).toBe(true);
      expect(br.length).toBeLessThan(plain.length);
      expect(gz.length).toBeLessThan(plain.length);
    }
    // The script: about a third of its size.
    const js = fs.statSync(path.join(OUT, 'assets', script)).size;
    console.log(`UI script: ${js} B plain, ${fs.statSync(path.join(OUT, 'assets', `${script}.br`)).size} B brotli, ${fs.statSync(path.join(OUT, 'assets', `${script}.gz`)).size} B gzip`);
  });

  test('the server sends the encoding asked for, keeps immutable caching, and says Vary', async () => {
    const berth = await startBerth();
    const url = `${berth.origin}/assets/${script}`;
    const plain = fs.readFileSync(path.join(OUT, 'assets', script));

    const br = await get(url, 'gzip, deflate, br, zstd');
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toBe('Accept-Encoding');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(zlib.brotliDecompressSync(br.body).equals(plain)).toBe(true);

    const gz = await get(url, 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).equals(plain)).toBe(true);

    // No Accept-Encoding, or brotli and gzip refused: the plain bytes.
    for (const accept of [null, 'identity', 'br;q=0, gzip;q=0']) {
      const res = await get(url, accept);
      expect(res.headers['content-encoding'], String(accept)).toBeUndefined();
      expect(res.body.equals(plain)).toBe(true);
      expect(res.headers['vary']).toBe('Accept-Encoding');
    }

    // HEAD: the headers of the compressed answer, no body.
    const head = await get(url, 'br', 'HEAD');
    expect(head.headers['content-encoding']).toBe('br');
    expect(head.body.length).toBe(0);

    // The page itself: compressed too, and revalidated (no-cache), as before.
    const index = await get(`${berth.origin}/`, 'br');
    expect(index.headers['content-encoding']).toBe('br');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(zlib.brotliDecompressSync(index.body).toString()).toContain('<div id="app"');

    // The .br file has no address of its own.
    expect((await get(`${url}.br`, null)).status).toBe(404);
  });

  test('Accept-Encoding is read with its preferences', () => {
    const both: ('br' | 'gzip')[] = ['br', 'gzip'];
    expect(pickEncoding(undefined, both)).toBeNull();
    expect(pickEncoding('gzip, deflate, br', both)).toBe('br');
    expect(pickEncoding('br;q=0.5, gzip;q=0.8', both)).toBe('gzip');
    expect(pickEncoding('br;q=0', both)).toBeNull();
    expect(pickEncoding('*', both)).toBe('br');
    expect(pickEncoding('*;q=0.1, br;q=0', both)).toBe('gzip');
    expect(pickEncoding('x-gzip', both)).toBe('gzip');
    expect(pickEncoding('BR', ['gzip'])).toBeNull();
    expect(pickEncoding('gzip', [])).toBeNull();
  });
});
