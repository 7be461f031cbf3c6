import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Json } from '../../core/types.ts';
import type { MicroOp, OpStatus, TxnOp } from './history.ts';
import { checkListAppend, type ListAppendResult } from './list-append.ts';
import { canonicalJson } from './json.ts';
import { Rng, clone, genTxnHistory } from './test-histories.ts';

let nextId = 0;
const T = (
  ops: MicroOp[],
  invokeMs: number,
  completeMs: number | null,
  status: OpStatus = 'ok',
  id = `T${++nextId}`,
): TxnOp => ({ id, process: 0, ops, invokeMs, completeMs: status === 'unknown' ? null : completeMs, status });
const ap = (key: string, v: Json): MicroOp => ['append', key, v];
const rd = (key: string, v: Json[] | null): MicroOp => ['r', key, v];

const types = (res: ListAppendResult): string[] => [...new Set(res.anomalies.map((a) => a.type))].sort();

describe('list-append: hand-written histories', () => {
  it('accepts a serial history and the empty one', () => {
    expect(checkListAppend([])).toEqual({ ok: true, anomalies: [] });
    const h = [
      T([ap('x', 1), rd('y', null)], 0, 10),
      T([rd('x', [1]), ap('x', 2), ap('y', 1)], 20, 30),
      T([rd('x', [1, 2]), rd('y', [1]), ap('x', 3), rd('x', [1, 2, 3])], 40, 50),
    ];
    expect(checkListAppend(h)).toEqual({ ok: true, anomalies: [] });
  });

  it('G0: write cycle (two transactions interleave their appends)', () => {
    const h = [
      T([ap('x', 1), ap('y', 1)], 0, 10, 'ok', 'A'),
      T([ap('x', 2), ap('y', 2)], 0, 10, 'ok', 'B'),
      T([rd('x', [1, 2]), rd('y', [2, 1])], 20, 30, 'ok', 'R'),
    ];
    const res = checkListAppend(h);
    expect(res.ok).toBe(false);
    expect(types(res)).toEqual(['G0']);
    expect(res.anomalies[0].txns.sort()).toEqual(['A', 'B']);
    expect(res.anomalies[0].explanation).toMatch(/-ww->/);
  });

  it('G1a: aborted read', () => {
    const h = [T([ap('x', 1)], 0, 10, 'fail', 'A'), T([rd('x', [1])], 20, 30, 'ok', 'R')];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G1a']);
    expect(res.anomalies[0].txns).toEqual(['A', 'R']);
    // Without the read, a failed append is fine.
    expect(checkListAppend([h[0], T([rd('x', [])], 20, 30)]).ok).toBe(true);
  });

  it('G1b: intermediate read', () => {
    const h = [T([ap('x', 1), ap('x', 2)], 0, 10, 'ok', 'A'), T([rd('x', [1])], 5, 30, 'ok', 'R')];
    const res = checkListAppend(h);
    expect(types(res)).toContain('G1b');
    expect(res.anomalies.find((a) => a.type === 'G1b')!.txns).toEqual(['A', 'R']);
    // Reading the final append of the transaction is fine.
    expect(checkListAppend([h[0], T([rd('x', [1, 2])], 5, 30)]).ok).toBe(true);
  });

  it('G1c: circular information flow', () => {
    const h = [
      T([ap('x', 1), rd('y', [1])], 0, 10, 'ok', 'A'),
      T([ap('y', 1), rd('x', [1])], 0, 10, 'ok', 'B'),
    ];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G1c']);
    expect(res.anomalies[0].explanation).toMatch(/-wr->/);
  });

  it('G-single: read skew', () => {
    const h = [
      T([ap('x', 1), ap('y', 1)], 0, 10, 'ok', 'A'),
      T([rd('x', []), rd('y', [1])], 0, 10, 'ok', 'B'),
      T([rd('x', [1])], 20, 30, 'ok', 'C'),
    ];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G-single']);
    expect(res.anomalies[0].txns.sort()).toEqual(['A', 'B']);
    expect(res.anomalies[0].explanation).toMatch(/-rw->/);
  });

  it('G2: write skew (two rw edges), whether or not the appends were read', () => {
    const h = [
      T([rd('x', []), ap('y', 1)], 0, 10, 'ok', 'A'),
      T([rd('y', []), ap('x', 1)], 0, 10, 'ok', 'B'),
    ];
    expect(types(checkListAppend(h))).toEqual(['G2']);
    const observed = [...h, T([rd('x', [1]), rd('y', [1])], 20, 30)];
    const res = checkListAppend(observed);
    expect(types(res)).toEqual(['G2']);
    expect(res.anomalies[0].txns.sort()).toEqual(['A', 'B']);
  });

  it('G-single-realtime: stale read after a completed append', () => {
    const h = [
      T([ap('x', 1)], 0, 10, 'ok', 'A'),
      T([rd('x', [])], 20, 30, 'ok', 'B'),
      T([rd('x', [1])], 40, 50, 'ok', 'C'),
    ];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G-single-realtime']);
    expect(res.anomalies[0].explanation).toMatch(/-realtime->/);
    // Serializable though, and with equal timestamps the two are concurrent.
    expect(checkListAppend(h, { realtime: false }).ok).toBe(true);
    expect(checkListAppend([T([ap('x', 1)], 0, 20), T([rd('x', [])], 20, 30), T([rd('x', [1])], 40, 50)]).ok).toBe(true);
  });

  it('G0-realtime: appends ordered against real time', () => {
    const h = [
      T([ap('x', 1)], 0, 10, 'ok', 'A'),
      T([ap('x', 2)], 20, 30, 'ok', 'B'),
      T([rd('x', [2, 1])], 40, 50, 'ok', 'R'),
    ];
    expect(types(checkListAppend(h))).toEqual(['G0-realtime']);
    expect(checkListAppend(h, { realtime: false }).ok).toBe(true);
  });

  it('G1c-realtime: reading the future', () => {
    const h = [T([rd('x', [1])], 0, 10, 'ok', 'R'), T([ap('x', 1)], 20, 30, 'ok', 'A')];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G1c-realtime']);
    expect(res.anomalies[0].txns.sort()).toEqual(['A', 'R']);
  });

  it('G2-realtime: a cycle with two rw edges closed by real time', () => {
    const h = [
      T([rd('x', [])], 10, 20, 'ok', 'A'),
      T([ap('x', 1), rd('y', [])], 0, 20, 'ok', 'B'),
      T([ap('y', 1)], 0, 5, 'ok', 'C'),
      T([rd('x', [1]), rd('y', [1])], 40, 50, 'ok', 'R'),
    ];
    const res = checkListAppend(h);
    expect(types(res)).toEqual(['G2-realtime']);
    expect(res.anomalies[0].txns.sort()).toEqual(['A', 'B', 'C']);
    expect(checkListAppend(h, { realtime: false }).ok).toBe(true);
  });

  it('internal: a read disagreeing with the transaction\'s own appends or reads', () => {
    expect(types(checkListAppend([T([ap('x', 1), rd('x', [])], 0, 10)]))).toEqual(['internal']);
    expect(types(checkListAppend([T([rd('x', []), rd('x', [5])], 0, 10), T([ap('x', 5)], 0, 10)]))).toContain('internal');
    expect(types(checkListAppend([T([rd('x', [1]), ap('x', 2), rd('x', [1])], 0, 10), T([ap('x', 1)], 0, 5)]))).toContain('internal');
    expect(types(checkListAppend([T([rd('x', [1]), ap('x', 1)], 0, 10)]))).toContain('internal');
    expect(checkListAppend([T([ap('x', 1)], 0, 5), T([rd('x', [1]), ap('x', 2), rd('x', [1, 2])], 10, 20)]).ok).toBe(true);
  });

  it('incompatible-order: a transaction\'s appends seen out of its order or torn apart', () => {
    const A = T([ap('x', 1), ap('x', 2)], 0, 10, 'ok', 'A');
    // [2, 1] also ends in A's intermediate append: G1b too.
    expect(types(checkListAppend([A, T([rd('x', [2, 1])], 20, 30)]))).toEqual(['G1b', 'incompatible-order']);
    // [2] also misses 1, so the reader both depends on A and precedes it: G-single, and 1 is lost.
    expect(types(checkListAppend([A, T([rd('x', [2])], 20, 30)]))).toEqual(['G-single', 'incompatible-order', 'lost-append']);
    expect(checkListAppend([A, T([rd('x', [1, 2])], 20, 30)]).ok).toBe(true);
  });

  it('duplicate-elements', () => {
    const res = checkListAppend([T([ap('x', 1)], 0, 10), T([rd('x', [1, 1])], 20, 30)]);
    expect(types(res)).toContain('duplicate-elements');
  });

  it('incompatible-order', () => {
    const h = [
      T([ap('x', 1)], 0, 10, 'ok', 'A'),
      T([ap('x', 2)], 0, 10, 'ok', 'B'),
      T([rd('x', [1, 2])], 20, 30, 'ok', 'R1'),
      T([rd('x', [2, 1])], 20, 30, 'ok', 'R2'),
    ];
    const res = checkListAppend(h);
    expect(types(res)).toContain('incompatible-order');
    expect(res.anomalies.find((a) => a.type === 'incompatible-order')!.txns.sort()).toEqual(['R1', 'R2']);
  });

  it('lost-append: acknowledged, never seen by a later read', () => {
    const h = [T([ap('x', 1)], 0, 10, 'ok', 'A'), T([rd('x', [])], 20, 30, 'ok', 'R')];
    const res = checkListAppend(h);
    expect(types(res)).toContain('lost-append');
    expect(res.anomalies.find((a) => a.type === 'lost-append')!.txns).toEqual(['A', 'R']);
    // Concurrent read: may have happened before the append.
    expect(checkListAppend([T([ap('x', 1)], 0, 10), T([rd('x', [])], 5, 30)]).ok).toBe(true);
    // Unknown append never seen: may not have happened.
    expect(checkListAppend([T([ap('x', 1)], 0, null, 'unknown'), T([rd('x', [])], 20, 30)]).ok).toBe(true);
  });

  it('garbage-read: an element nobody appended', () => {
    expect(types(checkListAppend([T([rd('x', [99])], 0, 10)]))).toEqual(['garbage-read']);
  });

  it('unknown transactions: observed appends count, reads are ignored', () => {
    expect(checkListAppend([T([ap('x', 1)], 0, null, 'unknown'), T([rd('x', [1])], 20, 30)]).ok).toBe(true);
    expect(checkListAppend([T([rd('x', [42]), ap('x', 1)], 0, null, 'unknown')]).ok).toBe(true);
    // An unknown transaction that committed is still ordered after what completed before it began.
    const h = [
      T([ap('x', 1)], 0, 10, 'ok', 'A'),
      T([rd('y', []), ap('x', 2)], 20, null, 'unknown', 'U'),
      T([rd('x', [2, 1])], 40, 50, 'ok', 'R'),
    ];
    expect(types(checkListAppend(h))).toEqual(['G0-realtime']);
  });

  it('compares elements as JSON values', () => {
    const h = [T([ap('x', { a: 1, b: 2 })], 0, 10), T([rd('x', [{ b: 2, a: 1 }])], 20, 30)];
    expect(checkListAppend(h).ok).toBe(true);
  });

  it('rejects malformed histories loudly', () => {
    expect(() => checkListAppend([T([ap('x', 1)], 0, 10), T([ap('x', 1)], 0, 10)])).toThrow(/unique/);
    expect(() => checkListAppend([T([], 0, 10, 'ok', 'same'), T([], 0, 10, 'ok', 'same')])).toThrow(/duplicate/);
  });

  it('caps the anomalies listed per type and counts the rest', () => {
    const h: TxnOp[] = [];
    for (let i = 0; i < 20; i++) h.push(T([rd(`k${i}`, [i])], 0, 10));
    const res = checkListAppend(h, { anomalies_per_type_max: 3 });
    expect(res.anomalies).toHaveLength(3);
    expect(res.omitted).toEqual({ 'garbage-read': 17 });
  });

  // Speed is measured, not asserted (a loaded CI machine must not fail a correct checker);
  // this checks that a history of thousands of transactions is judged, and judged right.
  it('checks a few thousand transactions', () => {
    const { history } = genTxnHistory(5, { processes: 12, keys: 8, ops: 4000, unknown_p: 0.02, fail_p: 0.05, ops_per_txn_max: 4 });
    const res = checkListAppend(history);
    expect(res.anomalies).toEqual([]);
    expect(res.ok).toBe(true);
  }, 60_000);
});

/** Oracle: tries every order of the ok transactions plus every subset of the unknown ones (tiny histories only). */
function bruteForceStrictSerializable(history: TxnOp[]): boolean {
  const txns = history.filter((t) => t.status !== 'fail');
  const end = (t: TxnOp): number => (t.status === 'unknown' || t.completeMs === null ? Infinity : t.completeMs);
  const used = new Array<boolean>(txns.length).fill(false);
  const mustPlace = txns.filter((t) => t.status === 'ok').length;
  const search = (lists: Map<string, string[]>, left: number): boolean => {
    if (left === 0) return true;
    for (let i = 0; i < txns.length; i++) {
      if (used[i]) continue;
      const t = txns[i];
      if (txns.some((d, j) => !used[j] && j !== i && d.status === 'ok' && end(d) < t.invokeMs)) continue;
      const next = new Map([...lists].map(([k, v]) => [k, [...v]]));
      let ok = true;
      for (const mop of t.ops) {
        const cur = next.get(mop[1]) ?? [];
        if (mop[0] === 'append') next.set(mop[1], [...cur, canonicalJson(mop[2])]);
        else if (t.status === 'ok') {
          const seen = (mop[2] ?? []).map((e) => canonicalJson(e));
          if (seen.length !== cur.length || seen.some((e, k) => e !== cur[k])) ok = false;
        }
      }
      if (!ok) continue;
      used[i] = true;
      const found = search(next, left - (t.status === 'ok' ? 1 : 0));
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(new Map(), mustPlace);
}

/** Tiny random history: plausible reads (prefixes of random orders of the appends), random timing and status. */
function randomSmallTxnHistory(seed: number): TxnOp[] {
  const rng = new Rng(seed);
  const n = rng.int(1, 5);
  const keys = ['x', 'y'];
  let counter = 0;
  const txns: TxnOp[] = [];
  for (let i = 0; i < n; i++) {
    const ops: MicroOp[] = [];
    for (let k = rng.int(1, 3); k > 0; k--) ops.push(rng.chance(0.5) ? ['append', rng.pick(keys), ++counter] : ['r', rng.pick(keys), null]);
    const invokeMs = rng.int(0, 10);
    const status = rng.pick(['ok', 'ok', 'ok', 'fail', 'unknown'] as const);
    txns.push({ id: `T${i}`, process: i, ops, invokeMs, completeMs: status === 'unknown' ? null : invokeMs + rng.int(0, 6), status });
  }
  // Per key, a random order of all its appends; each read returns a random prefix of it.
  const orders = new Map<string, Json[]>();
  for (const key of keys) {
    const elems = txns.flatMap((t) => t.ops.filter((m) => m[0] === 'append' && m[1] === key).map((m) => m[2] as Json));
    for (let i = elems.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [elems[i], elems[j]] = [elems[j], elems[i]];
    }
    orders.set(key, elems);
  }
  for (const t of txns) {
    for (const m of t.ops) if (m[0] === 'r') m[2] = orders.get(m[1])!.slice(0, rng.int(0, orders.get(m[1])!.length));
  }
  return txns;
}

describe('list-append: properties', () => {
  const shapeArb = fc.record({
    processes: fc.integer({ min: 1, max: 8 }),
    keys: fc.integer({ min: 1, max: 5 }),
    ops: fc.integer({ min: 1, max: 120 }),
    unknown_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
    fail_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
    ops_per_txn_max: fc.integer({ min: 1, max: 5 }),
  });

  it('agrees with a brute-force oracle on tiny random histories', () => {
    const runs = 3000;
    let serializable = 0;
    let caught = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const h = randomSmallTxnHistory(seed);
        const expected = bruteForceStrictSerializable(h);
        const res = checkListAppend(h);
        if (expected) {
          serializable++;
          expect(res.anomalies).toEqual([]);
        } else if (!res.ok) {
          caught++;
        }
      }),
      { numRuns: runs, seed: 5 },
    );
    expect(serializable).toBeGreaterThan(runs / 5);
    expect(serializable).toBeLessThan((runs * 4) / 5);
    // Inference from reads cannot see every violation in general (it knows no order of
    // appends nobody read), but on these histories it misses none: 30 000 runs agreed.
    expect(caught).toBe(runs - serializable);
  });

  it('accepts every history of a correct strictly serializable store', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const { history } = genTxnHistory(seed, shape);
        expect(checkListAppend(history).anomalies).toEqual([]);
      }),
      { numRuns: 300, seed: 6 },
    );
  });

  it('detects a planted stale read (a read missing an append that completed before it began)', () => {
    let planted = 0;
    const found = new Set<string>();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const h = clone(genTxnHistory(seed, { ...shape, ops: shape.ops + 20 }).history);
        const byElem = new Map<string, TxnOp>();
        for (const t of h) for (const m of t.ops) if (m[0] === 'append') byElem.set(`${m[1]}|${canonicalJson(m[2])}`, t);
        for (const t of h) {
          if (t.status !== 'ok') continue;
          for (const m of t.ops) {
            if (m[0] !== 'r' || m[2] === null || m[2].length === 0) continue;
            const w = byElem.get(`${m[1]}|${canonicalJson(m[2].at(-1)!)}`)!;
            if (w === t || w.status !== 'ok' || !(w.completeMs! < t.invokeMs)) continue;
            m[2] = m[2].slice(0, -1);
            planted++;
            const res = checkListAppend(h);
            expect(res.ok).toBe(false);
            for (const a of res.anomalies) found.add(a.type);
            return;
          }
        }
      }),
      { numRuns: 200, seed: 7 },
    );
    expect(planted).toBeGreaterThan(100);
    expect(found).toContain('G-single-realtime');
  });

  it('detects a planted aborted read and a planted lost append', () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const h = clone(genTxnHistory(seed, { ...shape, ops: shape.ops + 20, fail_p: 0.2 }).history);
        // Aborted read: a failed transaction's append shows up at the end of an ok read.
        const failed = h.find((t) => t.status === 'fail' && t.ops.some((m) => m[0] === 'append'));
        if (failed !== undefined) {
          const app = failed.ops.find((m) => m[0] === 'append')!;
          const reader = h.find((t) => t.status === 'ok' && t.ops.some((m) => m[0] === 'r' && m[1] === app[1]));
          if (reader !== undefined) {
            const g = clone(h);
            const r = g.find((t) => t.id === reader.id)!.ops.find((m) => m[0] === 'r' && m[1] === app[1]) as ['r', string, Json[] | null];
            r[2] = [...(r[2] ?? []), app[2]];
            planted++;
            expect(checkListAppend(g).anomalies.map((a) => a.type)).toContain('G1a');
          }
        }
        // Lost append: an acknowledged element removed from every read, one of which began after it completed.
        for (const w of h) {
          if (w.status !== 'ok') continue;
          const app = w.ops.find((m) => m[0] === 'append');
          if (app === undefined) continue;
          const later = h.some((t) => t.status === 'ok' && t.invokeMs > w.completeMs! && t.ops.some((m) => m[0] === 'r' && m[1] === app[1]));
          if (!later) continue;
          const g = clone(h);
          const e = canonicalJson(app[2]);
          for (const t of g) for (const m of t.ops) if (m[0] === 'r' && m[1] === app[1] && m[2] !== null) m[2] = m[2].filter((x) => canonicalJson(x) !== e);
          planted++;
          expect(checkListAppend(g).ok).toBe(false);
          break;
        }
      }),
      { numRuns: 200, seed: 8 },
    );
    expect(planted).toBeGreaterThan(150);
  });
});
