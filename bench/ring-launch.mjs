/**
 * `npm run bench:ring -- ...`: runs bench/ring.ts (same arguments, same output) from a
 * bundle that esbuild builds into a temporary directory, with node and a larger young
 * generation, instead of under tsx. Why:
 * - tsx compiles with esbuild's keepNames, which defines a `name` property on every named
 *   closure (a peer has hundreds): ~3 KB of property arrays per peer that a simulation of
 *   thousands of peers drags through the caches and the garbage collector;
 * - the simulator allocates small short-lived objects for every message (the messages
 *   themselves); with node's default young generation (16 MB semi-spaces) a 4096-peer run
 *   does ~400 scavenges of ~11 ms each, most of that time spent on what is still in flight
 *   and on the old peers' pointers into the young generation, not on the garbage:
 *   --max-semi-space-size=64 scavenges a quarter as often.
 * The code run is the same as under tsx (same trace hashes). BENCH_RING_TSX=1 runs it under
 * tsx as before (also the fallback when esbuild cannot be loaded).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'ring.ts');
const args = process.argv.slice(2);
const nodeFlags = ['--max-semi-space-size=64'];

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

let esbuild = null;
if (process.env.BENCH_RING_TSX !== '1') {
  try {
    const m = await import('esbuild');
    esbuild = m.build ? m : m.default;
  } catch {
    console.error('bench:ring: esbuild not found, running under tsx');
  }
}

if (esbuild === null) {
  process.exitCode = run(join(here, '..', 'node_modules', '.bin', 'tsx'), [entry, ...args]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ring-'));
  try {
    const outfile = join(dir, 'ring.mjs');
    await esbuild.build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'warning' });
    process.exitCode = run(process.execPath, [...nodeFlags, outfile, ...args]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
