import { addId, dist, ID_SPACE } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';

/**
 * Symmetric replication (Ghodsi): replica i of a key sits at h(key) + i * SPACE / r.
 * Any peer computes any key's replica set locally, and the set is the same from whichever
 * member it is computed. A range (lo, hi] shifted by d * SPACE / r holds the d-th next
 * replicas of every key that has a replica in (lo, hi]: that is how a replica that lost
 * its data finds the others.
 */
export function replicaPositions(h: PeerId, r: number): PeerId[] {
  const step = ID_SPACE / r;
  const out: PeerId[] = [];
  for (let i = 0; i < r; i++) out.push(addId(h, i * step));
  return out;
}

/** Shift a position by d replica steps (d may be negative). */
export function shift(pos: PeerId, d: number, r: number): PeerId {
  const step = ID_SPACE / r;
  const k = ((d % r) + r) % r;
  return addId(pos, k * step);
}

/** Majority of r replicas: floor(r / 2) + 1 (3 of 4). */
export function majority(r: number): number {
  return Math.floor(r / 2) + 1;
}

/**
 * How many replica slots must contribute to a repair: a committed write is on at least a
 * majority m of the r replicas, so any r - m + 1 of them include at least one that has it.
 */
export function repairQuorum(r: number): number {
  return r - majority(r) + 1;
}

/**
 * An identifier for a joining peer: the midpoint of the largest gap between the peers it
 * knows of (from the bootstrap server or its contact). Joins then halve the largest range,
 * so 4 peers sit at quarter positions and each key's 4 replicas land on 4 distinct peers:
 * symmetric replication needs balanced ranges to spread replicas, random ids do not give
 * that in small rings. The midpoint is exact: any jitter would make some ranges slightly
 * larger than SPACE / r, and a peer whose range exceeds SPACE / r holds two replicas of the
 * keys in the excess, so a sliver of the ring could never be repaired from a majority of
 * other replicas after that peer loses its data. Two joiners that pick the same id are
 * kept apart by the bootstrap server, which refuses a second live peer with an id in use
 * (the second then picks again, knowing the first). With nobody known, a random id.
 */
export function chooseJoinId(known: readonly PeerId[], random: () => number): PeerId {
  const ids = [...new Set(known)].sort((a, b) => a - b);
  if (ids.length === 0) return Math.floor(random() * 2 ** 26) * 2 ** 26 + Math.floor(random() * 2 ** 26);
  let bestLo = ids[ids.length - 1]!;
  let bestGap = ids.length === 1 ? ID_SPACE : dist(ids[ids.length - 1]!, ids[0]!);
  for (let i = 1; i < ids.length; i++) {
    const g = dist(ids[i - 1]!, ids[i]!);
    if (g > bestGap) {
      bestGap = g;
      bestLo = ids[i - 1]!;
    }
  }
  return addId(bestLo, Math.floor(bestGap / 2));
}
