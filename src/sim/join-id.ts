import { addId, dist, ID_SPACE } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';
import { chooseJoinId } from '../replication/replicas.ts';

/**
 * chooseJoinId(ids, random) for ids that are already sorted ascending and unique: the same
 * id (the midpoint of the largest gap between neighbours, the first such gap in ring order
 * on ties, the gap across zero counted first), in one pass over a typed array, without
 * chooseJoinId's copy, set and comparator sort. The simulator picks an id this way for every
 * peer that joins (a bootstrap server would), and those were a fifth of building a ring of
 * 4096 peers. join-id.test.ts checks it against chooseJoinId.
 */
export function chooseJoinIdSorted(ids: Float64Array, random: () => number): PeerId {
  const n = ids.length;
  if (n === 0) return chooseJoinId([], random);
  let bestLo = ids[n - 1]!;
  let bestGap = n === 1 ? ID_SPACE : dist(ids[n - 1]!, ids[0]!);
  for (let i = 1; i < n; i++) {
    const g = dist(ids[i - 1]!, ids[i]!);
    if (g > bestGap) {
      bestGap = g;
      bestLo = ids[i - 1]!;
    }
  }
  return addId(bestLo, Math.floor(bestGap / 2));
}
