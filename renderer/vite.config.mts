import { defineConfig, type Plugin } from 'vite';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const outDir = path.resolve(import.meta.dirname, '../out/renderer');

/** Text the server may send compressed; images like PNG are compressed already. */
const COMPRESSIBLE = /\.(html|js|mjs|css|svg|json|txt|webmanifest)$/;

/**
 * Brotli and gzip copies of every text file of the build (name.br, name.gz),
 * made once here at the highest levels so the server never compresses per
 * request: app/server/ui-files.ts sends the copy a browser's Accept-Encoding
 * asks for. A copy that is not smaller is not written.
 */
function precompress(): Plugin {
  return {
    name: 'berth-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const file of walk(outDir).filter((f) => COMPRESSIBLE.test(f))) {
        const body = fs.readFileSync(file);
        const copies: [string, Buffer][] = [
          ['.br', zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length } })],
          ['.gz', zlib.gzipSync(body, { level: 9 })],
        ];
        for (const [suffix, copy] of copies) if (copy.length < body.length) fs.writeFileSync(file + suffix, copy);
      }
    },
  };
}

// The web UI: built into out/renderer, which app/server serves.
export default defineConfig({
  root: path.resolve(import.meta.dirname),
  // The server serves the UI at its root; absolute asset paths keep deep links (/anything -> index.html) working.
  base: '/',
  plugins: [precompress()],
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
  },
});
