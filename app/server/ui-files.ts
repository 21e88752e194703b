import fs from 'node:fs';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export type ContentEncoding = 'br' | 'gzip';

export interface UiFile {
  type: string;
  body: Buffer;
  /** Vite's hashed assets never change under one name; everything else is revalidated. */
  immutable: boolean;
  /** The same bytes compressed at build time (name.br, name.gz beside the file), where that made them smaller. */
  encoded: Partial<Record<ContentEncoding, Buffer>>;
}

/** Build-time compressed copies sit beside the file they compress, under these suffixes. */
const SUFFIXES: Record<ContentEncoding, string> = { br: '.br', gzip: '.gz' };

/**
 * Which of the `available` encodings a client's Accept-Encoding asks for,
 * best first (brotli beats gzip at equal preference); null for the plain bytes.
 * "br;q=0" refuses brotli, and "*" stands for any encoding not named.
 */
export function pickEncoding(acceptEncoding: string | undefined, available: ContentEncoding[]): ContentEncoding | null {
  if (!acceptEncoding || available.length === 0) return null;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    q.set(name, Number.isFinite(value) ? value : 0);
  }
  const weight = (e: ContentEncoding) => q.get(e) ?? (e === 'gzip' ? q.get('x-gzip') : undefined) ?? q.get('*') ?? 0;
  let best: ContentEncoding | null = null;
  for (const e of (['br', 'gzip'] as const).filter((x) => available.includes(x))) {
    if (weight(e) > 0 && (best === null || weight(e) > weight(best))) best = e;
  }
  return best;
}

/**
 * The built web UI, as the fixed set of files the build wrote, each with the
 * brotli and gzip copies the build made of it (renderer/vite.config.mts). Requests are
 * looked up by exact path in this table, so no request path, however encoded,
 * can reach a file outside it: traversal is impossible by construction. The
 * build is a handful of small files, so they are read once, when first asked for.
 */
export class UiFiles {
  private table: Map<string, UiFile> | null = null;
  constructor(private readonly dir: string) {}

  private load(): Map<string, UiFile> {
    const table = new Map<string, UiFile>();
    const walk = (dir: string, prefix: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const full = path.join(dir, e.name);
        const urlPath = `${prefix}/${e.name}`;
        if (e.isDirectory()) walk(full, urlPath);
        else if (e.isFile() && !Object.values(SUFFIXES).some((suffix) => e.name.endsWith(suffix))) {
          const type = TYPES[path.extname(e.name).toLowerCase()] ?? 'application/octet-stream';
          const encoded: UiFile['encoded'] = {};
          for (const [encoding, suffix] of Object.entries(SUFFIXES) as [ContentEncoding, string][]) {
            if (fs.existsSync(full + suffix)) encoded[encoding] = fs.readFileSync(full + suffix);
          }
          table.set(urlPath, { type, body: fs.readFileSync(full), immutable: urlPath.startsWith('/assets/'), encoded });
        }
      }
    };
    if (fs.existsSync(this.dir)) walk(this.dir, '');
    return table;
  }

  /** The bytes to send for a file and what they are encoded with, by the request's Accept-Encoding. */
  static body(file: UiFile, acceptEncoding: string | undefined): { body: Buffer; encoding: ContentEncoding | null } {
    const encoding = pickEncoding(acceptEncoding, Object.keys(file.encoded) as ContentEncoding[]);
    return encoding ? { body: file.encoded[encoding]!, encoding } : { body: file.body, encoding: null };
  }

  /** Every path with a file, e.g. `/index.html`, `/assets/index-1a2b.js`. */
  paths(): string[] {
    this.table ??= this.load();
    return [...this.table.keys()];
  }

  /** The file for a request path (query string already removed), or undefined. The .br/.gz copies have no path of their own. */
  get(urlPath: string): UiFile | undefined {
    this.table ??= this.load();
    return this.table.get(urlPath === '/' ? '/index.html' : urlPath);
  }
}
