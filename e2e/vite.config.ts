import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Vite for browser tests and benchmarks (started by e2e/harness.ts, never by hand): rooted at
 * the repository so test pages can import src/, worker/ and test/ directly. Listens on
 * 127.0.0.1 only.
 */
const root = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root,
  logLevel: 'warn',
  clearScreen: false,
  server: {
    host: '127.0.0.1',
    // No HMR: a test page must never reload itself while a test drives it.
    hmr: false,
    watch: null,
    fs: { strict: true, allow: [root] },
  },
  optimizeDeps: {
    // Dependencies discovered late (imported from a worker) would make Vite re-optimize
    // and reload the page mid-test. List the browser dependencies up front instead.
    noDiscovery: true,
    include: ['idb', 'comlink'],
  },
  worker: { format: 'es' },
});
