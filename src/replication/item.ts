import type { Json, PeerId } from '../core/types.ts';

/**
 * A participant's record of one transaction touching this replica: its vote, and what to
 * apply if the transaction commits. A 'prepared' vote on a write is a write lock, on a
 * read a read lock. Votes are kept (and persisted) before they are sent, so a restarted
 * participant never votes twice differently.
 */
export interface Pending {
  /** Transaction id. */
  tx: string;
  op: 'r' | 'w';
  vote: 'prepared' | 'abort';
  /** For writes: the version, value and existence the commit installs. */
  nv: number;
  val: Json;
  ex: boolean;
  /** Acceptor peers (slot i at acc[i]), the transaction manager, and every key of the transaction. */
  acc: PeerId[];
  tm: PeerId;
  keys: string[];
  /** When this replica learned of it (for in-doubt inquiries). */
  at: number;
  /** Wait-die priority (lower = older). */
  prio: number;
}

/** One replica of one key. Version 0 = never written; exists=false with version > 0 = deleted. */
export interface Item {
  val: Json;
  ex: boolean;
  ver: number;
  pend: Pending[];
}

export function emptyItem(): Item {
  return { val: null, ex: false, ver: 0, pend: [] };
}

export function writeLocked(it: Item): Pending | undefined {
  return it.pend.find((p) => p.vote === 'prepared' && p.op === 'w');
}

export function locked(it: Item): boolean {
  return it.pend.some((p) => p.vote === 'prepared');
}

/**
 * Validation of a participant (optimistic concurrency with locks held until the decision):
 * the version read is still current, and no other prepared transaction conflicts (a write
 * conflicts with any lock, a read with a write lock).
 */
export function validate(it: Item, op: 'r' | 'w', readVersion: number, tx: string): boolean {
  if (it.ver !== readVersion) return false;
  for (const p of it.pend) {
    if (p.tx === tx || p.vote !== 'prepared') continue;
    if (op === 'w' || p.op === 'w') return false;
  }
  return true;
}

/**
 * Would a prepare of tx fail only because of locks held by transactions it may wait for?
 * Wait-die: an older transaction (lower priority value) waits for younger lock holders; a
 * younger one never waits (it votes abort at once), so waiting never forms a cycle.
 */
export function mayWait(it: Item, op: 'r' | 'w', readVersion: number, tx: string, prio: number): boolean {
  if (it.ver !== readVersion) return false;
  let conflict = false;
  for (const p of it.pend) {
    if (p.tx === tx || p.vote !== 'prepared') continue;
    if (op === 'w' || p.op === 'w') {
      conflict = true;
      if (!(prio < p.prio || (prio === p.prio && tx < p.tx))) return false;
    }
  }
  return conflict;
}

/**
 * Merge what another replica knows into ours: the higher applied version wins (every
 * applied version was committed), pending transactions are united (so an in-doubt write is
 * not forgotten by a replica rebuilt from others). Pending entries already covered by the
 * applied version are dropped.
 */
export function mergeItems(a: Item, b: Item): Item {
  const base = b.ver > a.ver ? b : a;
  const pend = [...a.pend];
  for (const p of b.pend) if (!pend.some((q) => q.tx === p.tx)) pend.push(p);
  return { val: base.val, ex: base.ex, ver: base.ver, pend: pend.filter((p) => p.op === 'r' || p.nv > base.ver || p.vote === 'prepared') };
}

/** Apply a decision for tx; returns whether anything changed. */
export function decide(it: Item, tx: string, commit: boolean): boolean {
  const i = it.pend.findIndex((p) => p.tx === tx);
  if (i < 0) return false;
  const p = it.pend[i]!;
  it.pend.splice(i, 1);
  if (commit && p.op === 'w' && p.nv > it.ver) {
    it.val = p.val;
    it.ex = p.ex;
    it.ver = p.nv;
  }
  return true;
}
