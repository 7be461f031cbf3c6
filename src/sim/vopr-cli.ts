/**
 * npm run vopr -- --seeds N [--from S] [--seed S] [--json] [--verbose]
 * Runs N seeded simulations (or the one seed S) and checks every history. A failing seed
 * is printed with its violations; `--seed S` replays it exactly (same trace hash).
 */
import { runSeed, type SeedResult } from './vopr.ts';

const argv = process.argv.slice(2);
const get = (n: string) => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const json = argv.includes('--json');
const verbose = argv.includes('--verbose');
const one = get('seed');
const seeds = one !== undefined ? [Number(one)] : Array.from({ length: Number(get('seeds') ?? 50) }, (_, i) => Number(get('from') ?? 1) + i);

const t0 = performance.now();
const results: SeedResult[] = [];
for (const seed of seeds) {
  const r = runSeed(seed);
  results.push(r);
  if (!r.ok) {
    console.error(`seed ${seed} FAILED (replay: npm run vopr -- --seed ${seed}) trace ${r.traceHash}`);
    console.error(`  shape ${JSON.stringify(r.shape)}`);
    for (const v of r.violations) console.error(`  - ${v}`);
  } else if (verbose || one !== undefined) {
    console.error(`seed ${seed} ok: ${r.committed} committed, ${r.aborted} aborted, ${r.unknown} unknown; ring ${r.healToRingMs} ms, repaired ${r.healToRepairedMs} ms after heal; trace ${r.traceHash}`);
  }
}
const sum = (f: (r: SeedResult) => number) => results.reduce((s, r) => s + f(r), 0);
const summary = {
  seeds: results.length,
  failures: results.filter((r) => !r.ok).length,
  failedSeeds: results.filter((r) => !r.ok).map((r) => r.seed),
  committed: sum((r) => r.committed),
  aborted: sum((r) => r.aborted),
  unknown: sum((r) => r.unknown),
  unavailable: sum((r) => r.unavailable),
  violations: sum((r) => r.violations.length),
  healToRingMsMax: Math.max(...results.map((r) => r.healToRingMs)),
  healToRepairedMsMax: Math.max(...results.map((r) => r.healToRepairedMs)),
  wallSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
};
console.log(json ? JSON.stringify(summary) : summary);
process.exitCode = summary.failures > 0 ? 1 : 0;
