import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The demo app (`npm start`, src/runtime/start.ts): Vite rooted at demo/, on 127.0.0.1 only
 * (TABRING_HOST to expose it deliberately), port TABRING_PORT or 5173. The pages import the
 * library from ../src and the worker from ../worker, so the whole repository is served.
 * The signaling URL reaches the pages as import.meta.env.VITE_TABRING_SIGNALING (start.ts
 * sets it).
 */
const repo = fileURLToPath(new URL('.', import.meta.url));
const demo = fileURLToPath(new URL('./demo/', import.meta.url));

export default defineConfig({
  root: demo,
  clearScreen: false,
  server: {
    host: process.env.TABRING_HOST ?? '127.0.0.1',
    port: Number(process.env.TABRING_PORT ?? 5173),
    fs: { allow: [repo] },
  },
  preview: { host: process.env.TABRING_HOST ?? '127.0.0.1' },
  optimizeDeps: {
    // The peer worker's dependencies are found only when a worker starts, which would make
    // Vite re-optimize and reload the page: name them up front.
    include: ['idb', 'comlink', 'simple-peer/simplepeer.min.js'],
  },
  worker: { format: 'es' },
  build: {
    outDir: fileURLToPath(new URL('./dist/demo/', import.meta.url)),
    emptyOutDir: true,
    rollupOptions: {
      // Every page of the demo (a multi-page app).
      input: Object.fromEntries(readdirSync(demo).filter((f) => f.endsWith('.html')).map((f) => [f.slice(0, -5), `${demo}${f}`])),
    },
  },
});
