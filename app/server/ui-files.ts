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

export interface UiFile {
  type: string;
  body: Buffer;
  /** Vite's hashed assets never change under one name; everything else is revalidated. */
  immutable: boolean;
}

/**
 * The built web UI, as the fixed set of files the build wrote. Requests are
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
        else if (e.isFile()) {
          const type = TYPES[path.extname(e.name).toLowerCase()] ?? 'application/octet-stream';
          table.set(urlPath, { type, body: fs.readFileSync(full), immutable: urlPath.startsWith('/assets/') });
        }
      }
    };
    if (fs.existsSync(this.dir)) walk(this.dir, '');
    return table;
  }

  /** The file for a request path (query string already removed), or undefined. */
  get(urlPath: string): UiFile | undefined {
    this.table ??= this.load();
    return this.table.get(urlPath === '/' ? '/index.html' : urlPath);
  }
}
