import { defineConfig } from 'vite';
import path from 'node:path';

// The web UI: built into out/renderer, which app/server serves.
export default defineConfig({
  root: path.resolve(import.meta.dirname),
  base: './',
  build: {
    outDir: path.resolve(import.meta.dirname, '../out/renderer'),
    emptyOutDir: true,
    sourcemap: false,
  },
});
