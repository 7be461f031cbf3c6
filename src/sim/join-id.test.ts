import { describe, expect, it } from 'vitest';
import { randomId } from '../core/id.ts';
import { chooseJoinId } from '../replication/replicas.ts';
import { chooseJoinIdSorted } from './join-id.ts';
import { Rng } from './rng.ts';

describe('chooseJoinIdSorted', () => {
  it('picks what chooseJoinId picks, for sorted unique ids', () => {
    const rng = new Rng(5);
    for (let round = 0; round < 500; round++) {
      const n = round % 40; // below the 64 small ids some rounds draw from (neighbouring ids, gaps of 1)
      const ids = new Set<number>();
      while (ids.size < n) ids.add(round % 3 === 0 ? Math.floor(rng.next() * 64) : randomId(() => rng.next()));
      const sorted = Float64Array.from(ids).sort();
      // Same draws for the empty ring (a random id).
      const a = new Rng(round);
      const b = new Rng(round);
      expect(chooseJoinIdSorted(sorted, () => a.next())).toBe(chooseJoinId([...ids], () => b.next()));
    }
  });
});
