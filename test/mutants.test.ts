import { describe, expect, it } from 'vitest';
import { runSeed } from '../src/sim/vopr.ts';

/** The checkers bite: each planted bug is caught within 200 seeds. */
const MUTANTS = ['read_one_replica', 'commit_minority', 'ack_before_persist', 'skip_validation', 'nonauth_answers'] as const;

describe('planted bugs are caught by the seed runner', () => {
  for (const m of MUTANTS) {
    it(m, () => {
      let caught: number | null = null;
      for (let seed = 1; seed <= 200 && caught === null; seed++) {
        if (!runSeed(seed, { mutants: { [m]: true }, liveness_ms_max: 60_000 }).ok) caught = seed;
      }
      expect(caught, `${m} survived 200 seeds`).not.toBeNull();
    });
  }
});
