import { inOpen } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';
import type { SimNode } from './simulation.ts';

/**
 * Ring invariants over the simulated peers. Each returns null when it holds, or a
 * sentence saying what is wrong.
 */

/** Never two responsible peers for one key: the ranges (pred, self] of members are disjoint. */
export function lookupConsistency(nodes: readonly SimNode[]): string | null {
  const resp = nodes
    .filter((n) => n.alive && n.peer.ring.status === 'in' && n.peer.ring.pred !== null)
    .map((n) => ({ id: n.id, pred: n.peer.ring.pred! }))
    .sort((a, b) => a.id - b.id);
  if (resp.length < 2) return null;
  for (let i = 0; i < resp.length; i++) {
    const b = resp[i]!;
    const a = resp[(i - 1 + resp.length) % resp.length]!;
    // b's range (pred_b, b] must not reach back over a.
    if (b.pred === b.id || inOpen(a.id, b.pred, b.id)) {
      return `peers ${a.id} and ${b.id} are both responsible for ${a.id} (pred of ${b.id} is ${b.pred})`;
    }
  }
  return null;
}

/** Every member's successor is the next member clockwise, and its predecessor the previous one. */
export function perfectRing(nodes: readonly SimNode[]): string | null {
  const members = nodes.filter((n) => n.alive && n.peer.ring.status === 'in').sort((a, b) => a.id - b.id);
  if (members.length === 0) return 'no member';
  for (let i = 0; i < members.length; i++) {
    const n = members[i]!;
    const next = members[(i + 1) % members.length]!.id;
    const prev = members[(i - 1 + members.length) % members.length]!.id;
    if (n.peer.ring.succ !== next) return `succ of ${n.id} is ${n.peer.ring.succ}, expected ${next}`;
    if (n.peer.ring.pred !== prev) return `pred of ${n.id} is ${n.peer.ring.pred}, expected ${prev}`;
  }
  return null;
}

/** Following successors from any member visits every member exactly once. */
export function oneRing(nodes: readonly SimNode[]): string | null {
  const members = new Map<PeerId, SimNode>();
  for (const n of nodes) if (n.alive && n.peer.ring.status === 'in') members.set(n.id, n);
  if (members.size === 0) return 'no member';
  const start = members.keys().next().value as PeerId;
  const seen = new Set<PeerId>();
  let cur = start;
  while (!seen.has(cur)) {
    seen.add(cur);
    const n = members.get(cur);
    if (!n) return `successor chain reaches ${cur}, which is not a member`;
    cur = n.peer.ring.succ;
  }
  if (cur !== start) return `successor chain from ${start} loops without returning to it`;
  if (seen.size !== members.size) return `successor chain visits ${seen.size} of ${members.size} members`;
  return null;
}

/** No member keeps a branch: everybody's predecessor points back at it (perfect ring) — alias kept for readability. */
export const noBranches = perfectRing;
