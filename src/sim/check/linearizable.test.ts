import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Json } from '../../core/types.ts';
import type { OpStatus, RegisterOp } from './history.ts';
import { checkKeyLinearizable, checkLinearizable, searchKeyForTest } from './linearizable.ts';
import { canonicalJson } from './json.ts';
import { Rng, clone, genRegisterHistory } from './test-histories.ts';

type Extra = { p?: number; key?: string; status?: OpStatus };
const w = (value: Json, invokeMs: number, completeMs: number | null, x: Extra = {}): RegisterOp => ({
  process: x.p ?? 0, key: x.key ?? 'x', kind: 'write', value, invokeMs, completeMs, status: x.status ?? 'ok',
});
const r = (output: Json, invokeMs: number, completeMs: number | null, x: Extra = {}): RegisterOp => ({
  process: x.p ?? 1, key: x.key ?? 'x', kind: 'read', output, invokeMs, completeMs, status: x.status ?? 'ok',
});
const cas = (expected: Json, value: Json, invokeMs: number, completeMs: number | null, x: Extra = {}): RegisterOp => ({
  process: x.p ?? 2, key: x.key ?? 'x', kind: 'cas', expected, value, invokeMs, completeMs, status: x.status ?? 'ok',
});
const del = (invokeMs: number, completeMs: number | null, x: Extra = {}): RegisterOp => ({
  process: x.p ?? 3, key: x.key ?? 'x', kind: 'delete', invokeMs, completeMs, status: x.status ?? 'ok',
});

describe('linearizability: hand-written histories', () => {
  it('accepts the empty history and a sequential one', () => {
    expect(checkLinearizable([]).ok).toBe(true);
    expect(checkLinearizable([r(null, 0, 1), w(1, 2, 3), r(1, 4, 5), w(2, 6, 7), r(2, 8, 9)]).ok).toBe(true);
  });

  it('rejects a stale read after a completed write', () => {
    const res = checkLinearizable([w(1, 0, 10), w(2, 20, 30), r(1, 40, 50)]);
    expect(res).toMatchObject({ ok: false, key: 'x' });
    expect(res.timedOut).toBeUndefined();
    expect(res.explanation).toContain('read -> 1');
  });

  it('rejects a read of the initial value after a completed write', () => {
    expect(checkLinearizable([w(1, 0, 10), r(null, 11, 12)]).ok).toBe(false);
  });

  it('accepts a read concurrent with a write returning either value', () => {
    expect(checkLinearizable([w(1, 0, 10), r(1, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), r(null, 5, 6)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), r(null, 5, 6), r(1, 7, 8, { p: 2 })]).ok).toBe(true);
  });

  it('rejects a value going back in time across two readers', () => {
    // Concurrent with the write, but the second read starts after the first saw the new value.
    expect(checkLinearizable([w(1, 0, 100), r(1, 5, 6), r(null, 7, 8, { p: 2 })]).ok).toBe(false);
  });

  it('treats equal timestamps as concurrent', () => {
    expect(checkLinearizable([w(1, 0, 10), r(null, 10, 12)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), r(null, 11, 12)]).ok).toBe(false);
  });

  it('accepts an unknown write that later appears, or never appears', () => {
    expect(checkLinearizable([w(1, 0, null, { status: 'unknown' }), r(1, 100, 110)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, null, { status: 'unknown' }), r(null, 100, 110)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, null, { status: 'unknown' }), r(null, 50, 60), r(1, 100, 110)]).ok).toBe(true);
  });

  it('rejects an unknown write that appears then disappears', () => {
    expect(checkLinearizable([w(1, 0, null, { status: 'unknown' }), r(1, 100, 110), r(null, 120, 130)]).ok).toBe(false);
  });

  it('rejects an unknown write observed before it was invoked', () => {
    expect(checkLinearizable([r(1, 0, 10), w(1, 20, null, { status: 'unknown' })]).ok).toBe(false);
  });

  it('rejects a failed write that appears', () => {
    expect(checkLinearizable([w(1, 0, 10, { status: 'fail' }), r(1, 20, 30)]).ok).toBe(false);
    expect(checkLinearizable([w(1, 0, 10, { status: 'fail' }), r(null, 20, 30)]).ok).toBe(true);
  });

  it('ignores unknown reads', () => {
    expect(checkLinearizable([w(1, 0, 10), r(42, 20, null, { status: 'unknown' })]).ok).toBe(true);
  });

  it('models cas: succeeds only on the expected value', () => {
    expect(checkLinearizable([w(1, 0, 10), cas(1, 2, 20, 30), r(2, 40, 50)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), cas(5, 2, 20, 30)]).ok).toBe(false);
    expect(checkLinearizable([cas(null, 7, 0, 10), r(7, 20, 30)]).ok).toBe(true);
    // Failed cas did not take effect.
    expect(checkLinearizable([w(1, 0, 10), cas(1, 2, 20, 30, { status: 'fail' }), r(1, 40, 50)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), cas(1, 2, 20, 30, { status: 'fail' }), r(2, 40, 50)]).ok).toBe(false);
    // Two concurrent cas from the same value cannot both succeed.
    expect(checkLinearizable([w(1, 0, 10), cas(1, 2, 20, 30), cas(1, 3, 20, 30, { p: 4 })]).ok).toBe(false);
    // An unknown cas explains its value only if the expected value was current.
    expect(checkLinearizable([w(1, 0, 10), cas(1, 2, 20, null, { status: 'unknown' }), r(2, 40, 50)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), cas(9, 2, 20, null, { status: 'unknown' }), r(2, 40, 50)]).ok).toBe(false);
  });

  it('models delete as setting null', () => {
    expect(checkLinearizable([w(1, 0, 10), del(20, 30), r(null, 40, 50)]).ok).toBe(true);
    expect(checkLinearizable([w(1, 0, 10), del(20, 30), r(1, 40, 50)]).ok).toBe(false);
  });

  it('compares JSON values deeply, ignoring object key order', () => {
    expect(checkLinearizable([w({ a: 1, b: [1, { c: 2 }] }, 0, 10), r({ b: [1, { c: 2 }], a: 1 }, 20, 30)]).ok).toBe(true);
    expect(checkLinearizable([w({ a: 1, b: [1, 2] }, 0, 10), r({ a: 1, b: [2, 1] }, 20, 30)]).ok).toBe(false);
  });

  it('checks keys independently and names the failing key', () => {
    const res = checkLinearizable([
      w(1, 0, 10, { key: 'a' }), r(1, 20, 30, { key: 'a' }),
      w(1, 0, 10, { key: 'b' }), r(null, 20, 30, { key: 'b' }),
    ]);
    expect(res).toMatchObject({ ok: false, key: 'b' });
    // A write to one key does not explain a read of another.
    expect(checkLinearizable([w(1, 0, 10, { key: 'a' }), r(1, 20, 30, { key: 'b' })]).ok).toBe(false);
  });

  it('reports a bounded search as timed out, never as a pass', () => {
    // Many concurrent writes and a read that no order explains: the search must try them all.
    const ops: RegisterOp[] = [];
    for (let i = 0; i < 12; i++) ops.push(w(i, 0, 100, { p: i }));
    ops.push(r(999, 0, 100, { p: 99 }));
    const res = checkLinearizable(ops, { search_steps_max: 50 });
    expect(res).toMatchObject({ ok: false, timedOut: true, key: 'x' });
    const full = checkLinearizable(ops);
    expect(full.ok).toBe(false);
    expect(full.timedOut).toBeUndefined();
  });

  it('rejects malformed histories loudly', () => {
    expect(() => checkLinearizable([w(1, 10, 5)])).toThrow(/malformed/);
  });

  // Speed is measured, not asserted: a loaded machine must not fail a correct checker.
  it('handles a few thousand ops on one key', () => {
    const { history } = genRegisterHistory(7, { processes: 8, keys: 1, ops: 3000, unknown_p: 0.02, fail_p: 0.05 });
    const res = checkLinearizable(history);
    expect(res.ok).toBe(true);
    expect(res.timedOut).toBeFalsy();
  }, 60_000);
});

/** Oracle: tries every order of every subset of the unknown ops (tiny histories only). */
function bruteForceLinearizable(ops: RegisterOp[]): boolean {
  const kept = ops.filter((o) => o.status !== 'fail' && !(o.status === 'unknown' && o.kind === 'read'));
  const end = (o: RegisterOp): number => (o.status === 'unknown' || o.completeMs === null ? Infinity : o.completeMs);
  const used = new Array<boolean>(kept.length).fill(false);
  const search = (state: string, left: number): boolean => {
    if (left === 0) return true;
    for (let i = 0; i < kept.length; i++) {
      if (used[i]) continue;
      const o = kept[i];
      // o can go next only if no unplaced acknowledged op completed before o was invoked.
      if (kept.some((d, j) => !used[j] && j !== i && d.status === 'ok' && end(d) < o.invokeMs)) continue;
      let next: string | undefined;
      if (o.kind === 'read') next = canonicalJson(o.output) === state ? state : undefined;
      else if (o.kind === 'write') next = canonicalJson(o.value);
      else if (o.kind === 'delete') next = 'null';
      else next = canonicalJson(o.expected) === state ? canonicalJson(o.value) : undefined;
      if (next === undefined) continue;
      used[i] = true;
      const ok = search(next, left - (o.status === 'ok' ? 1 : 0));
      used[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return search('null', kept.filter((o) => o.status === 'ok').length);
}

/** Tiny random history; `unique`: every write has its own value (exercises the pruning rule). */
function randomSmallHistory(seed: number, unique: boolean): RegisterOp[] {
  const rng = new Rng(seed);
  const n = rng.int(1, unique ? 8 : 7);
  const values: Json[] = unique ? [null, ...Array.from({ length: n }, (_, i) => i + 1)] : [null, 1, 2, 3];
  const ops: RegisterOp[] = [];
  for (let i = 0; i < n; i++) {
    const invokeMs = rng.int(0, 20);
    const status = rng.pick(['ok', 'ok', 'ok', 'fail', 'unknown'] as const);
    const completeMs = status === 'unknown' ? null : invokeMs + rng.int(0, 10);
    const kind = rng.pick(['read', 'read', 'write', 'write', 'cas', 'delete'] as const);
    const op: RegisterOp = { process: i, key: 'x', kind, invokeMs, completeMs, status };
    if (kind === 'read') op.output = rng.pick(values);
    if (kind === 'write' || kind === 'cas') op.value = unique ? i + 1 : rng.pick(values.slice(1));
    if (kind === 'cas') op.expected = rng.pick(values);
    ops.push(op);
  }
  return ops;
}

describe('linearizability: properties', () => {
  for (const unique of [false, true]) {
    it(`agrees with a brute-force oracle on tiny random histories (unique values: ${unique})`, () => {
      let violations = 0;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
          const h = randomSmallHistory(seed, unique);
          const expected = bruteForceLinearizable(h);
          if (!expected) violations++;
          expect(checkKeyLinearizable(h).ok).toBe(expected);
          // The pruned and the plain search must each be exact on their own.
          expect(searchKeyForTest(h, true).ok).toBe(expected);
          expect(searchKeyForTest(h, false).ok).toBe(expected);
        }),
        { numRuns: 3000, seed: unique ? 11 : 1 },
      );
      // Both verdicts occur often, so the comparison means something.
      expect(violations).toBeGreaterThan(300);
      expect(violations).toBeLessThan(2700);
    });
  }

  const shapeArb = fc.record({
    processes: fc.integer({ min: 1, max: 6 }),
    keys: fc.integer({ min: 1, max: 3 }),
    ops: fc.integer({ min: 1, max: 150 }),
    unknown_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
    fail_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
  });

  it('accepts every history of a correct register', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const { history } = genRegisterHistory(seed, shape);
        const res = checkLinearizable(history);
        expect(res, res.explanation).toEqual({ ok: true });
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it('detects a planted stale read (a read returning an overwritten value)', () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const h = clone(genRegisterHistory(seed, { ...shape, ops: shape.ops + 20 }).history);
        const done = (o: RegisterOp): boolean => o.status === 'ok' && o.completeMs !== null;
        // A read R, a write W1 of a unique value, and an acknowledged mutation W2 after W1 and before R.
        for (const read of h) {
          if (read.kind !== 'read' || !done(read)) continue;
          const w1 = h.find((o) => o.key === read.key && (o.kind === 'write' || o.kind === 'cas') && done(o) && o.completeMs! < read.invokeMs &&
            h.some((o2) => o2 !== o && o2.key === o.key && o2.kind !== 'read' && done(o2) && o.completeMs! < o2.invokeMs && o2.completeMs! < read.invokeMs));
          if (w1 === undefined) continue;
          read.output = w1.value;
          planted++;
          const res = checkLinearizable(h);
          expect(res.ok).toBe(false);
          expect(res.timedOut).toBeUndefined();
          return;
        }
      }),
      { numRuns: 200, seed: 3 },
    );
    expect(planted).toBeGreaterThan(100);
  });

  it('detects a planted read of a failed write', () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const h = clone(genRegisterHistory(seed, { ...shape, ops: shape.ops + 20, fail_p: 0.2 }).history);
        const failed = h.find((o) => o.kind === 'write' && o.status === 'fail');
        const read = h.find((o) => failed !== undefined && o.kind === 'read' && o.status === 'ok' && o.key === failed.key);
        if (failed === undefined || read === undefined) return;
        read.output = failed.value;
        planted++;
        expect(checkLinearizable(h).ok).toBe(false);
      }),
      { numRuns: 200, seed: 4 },
    );
    expect(planted).toBeGreaterThan(50);
  });
});
