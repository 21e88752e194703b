import { defineConfig } from 'vite';
import path from 'node:path';

// The web UI: built into out/renderer, which app/server serves.
export default defineConfig({
  root: path.resolve(import.meta.dirname),
  // The server serves the UI at its root; absolute asset paths keep deep links (/anything -> index.html) working.
  base: '/',
  build: {
    outDir: path.resolve(import.meta.dirname, '../out/renderer'),
    emptyOutDir: true,
    sourcemap: false,
  },
});
