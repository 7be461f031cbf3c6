import { describe, expect, it } from 'vitest';
import { runSeed } from '../src/sim/vopr.ts';

/**
 * Seeds 1 to 120 of the seed runner (the other part runs in parallel in another
 * file). A failure names its seed: replay it with npm run vopr -- --seed S.
 */
describe('seed runner, part 1', () => {
  it('seeds 1..120: every history passes every checker and every liveness bound', () => {
    const failures: string[] = [];
    let committed = 0;
    for (let seed = 1; seed < 121; seed++) {
      const r = runSeed(seed);
      committed += r.committed;
      if (!r.ok) failures.push(`seed ${seed}: ${r.violations.join('; ')}`);
    }
    expect(failures).toEqual([]);
    // The workload did real work: thousands of transactions committed.
    expect(committed).toBeGreaterThan(1000);
  });
});
