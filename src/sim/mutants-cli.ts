/**
 * npm run vopr:mutants -- [--json] [--seeds-max 200]
 * Plants each known bug in turn and runs seeds until the checkers catch it, printing per
 * bug whether it was caught, by which seed, and by which violation. A bug that survives
 * seeds-max seeds means the checkers (or the seed runner's faults) are too weak.
 */
import { runSeed } from './vopr.ts';

const MUTANTS = ['read_one_replica', 'commit_minority', 'ack_before_persist', 'skip_validation', 'nonauth_answers'] as const;

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const i = argv.indexOf('--seeds-max');
const seedsMax = i >= 0 ? Number(argv[i + 1]) : 200;
const only = argv.indexOf('--only') >= 0 ? argv[argv.indexOf('--only') + 1] : undefined;

const results = [];
for (const m of MUTANTS) {
  if (only && m !== only) continue;
  const t0 = performance.now();
  let caughtBy: number | null = null;
  let violation = '';
  let seed = 1;
  for (; seed <= seedsMax; seed++) {
    const r = runSeed(seed, { mutants: { [m]: true }, liveness_ms_max: 60_000 });
    if (!r.ok) {
      caughtBy = seed;
      violation = r.violations[0] ?? '';
      break;
    }
  }
  const res = { mutant: m, caught: caughtBy !== null, seed: caughtBy, seedsRun: Math.min(seed, seedsMax), violation: violation.slice(0, 300), wallSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)) };
  results.push(res);
  if (!json) console.log(res);
}
if (json) console.log(JSON.stringify({ mutants: results, allCaught: results.every((r) => r.caught) }));
process.exitCode = results.every((r) => r.caught) ? 0 : 1;
