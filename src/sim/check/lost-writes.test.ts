import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Json } from '../../core/types.ts';
import type { OpStatus, RegisterOp, TxnOp } from './history.ts';
import { checkLostAppends, checkLostRegisterWrites } from './lost-writes.ts';
import { canonicalJson } from './json.ts';
import { genRegisterHistory, genTxnHistory } from './test-histories.ts';

const txn = (id: string, key: string, v: Json, status: OpStatus = 'ok'): TxnOp => ({
  id, process: 0, ops: [['append', key, v]], invokeMs: 0, completeMs: status === 'unknown' ? null : 1, status,
});
const w = (value: Json, invokeMs: number, completeMs: number | null, status: OpStatus = 'ok', key = 'x'): RegisterOp => ({
  process: 0, key, kind: 'write', value, invokeMs, completeMs, status,
});
const del = (invokeMs: number, completeMs: number | null, status: OpStatus = 'ok'): RegisterOp => ({
  process: 0, key: 'x', kind: 'delete', invokeMs, completeMs, status,
});

describe('lost writes: appends', () => {
  it('accepts a final read holding every acknowledged append', () => {
    const h = [txn('A', 'x', 1), txn('B', 'x', 2), txn('C', 'y', 3), txn('U', 'x', 4, 'unknown')];
    expect(checkLostAppends(h, { x: [2, 1], y: [3] })).toEqual({ ok: true, anomalies: [] });
    expect(checkLostAppends(h, { x: [2, 1, 4], y: [3] }).ok).toBe(true);
  });

  it('flags a lost acknowledged append', () => {
    const res = checkLostAppends([txn('A', 'x', 1), txn('B', 'x', 2)], { x: [2] });
    expect(res.anomalies).toEqual([expect.objectContaining({ type: 'lost-append', key: 'x', txns: ['A'] })]);
  });

  it('flags a failed append that is visible', () => {
    const res = checkLostAppends([txn('A', 'x', 1, 'fail')], { x: [1] });
    expect(res.anomalies.map((a) => a.type)).toEqual(['failed-append-visible']);
  });

  it('flags a key without a final read, and treats null as empty', () => {
    expect(checkLostAppends([txn('A', 'x', 1)], {}).anomalies.map((a) => a.type)).toEqual(['missing-final-read']);
    expect(checkLostAppends([txn('A', 'x', 1)], { x: null }).anomalies.map((a) => a.type)).toEqual(['lost-append']);
  });
});

describe('lost writes: registers', () => {
  it('accepts the last acknowledged write', () => {
    expect(checkLostRegisterWrites([w(1, 0, 10), w(2, 20, 30)], { x: 2 }).ok).toBe(true);
  });

  it('flags a final value from a superseded write', () => {
    const res = checkLostRegisterWrites([w(1, 0, 10), w(2, 20, 30)], { x: 1 });
    expect(res.anomalies).toEqual([expect.objectContaining({ type: 'lost-write', key: 'x' })]);
  });

  it('accepts either of two concurrent writes', () => {
    expect(checkLostRegisterWrites([w(1, 0, 30), w(2, 10, 20)], { x: 1 }).ok).toBe(true);
    expect(checkLostRegisterWrites([w(1, 0, 30), w(2, 10, 20)], { x: 2 }).ok).toBe(true);
    // Equal timestamps are concurrent too.
    expect(checkLostRegisterWrites([w(1, 0, 10), w(2, 10, 20)], { x: 1 }).ok).toBe(true);
    expect(checkLostRegisterWrites([w(1, 0, 10), w(2, 11, 20)], { x: 1 }).ok).toBe(false);
  });

  it('accepts an unknown write as last, never a failed one', () => {
    expect(checkLostRegisterWrites([w(1, 0, 10), w(2, 5, null, 'unknown')], { x: 2 }).ok).toBe(true);
    expect(checkLostRegisterWrites([w(1, 0, 10), w(2, 20, 30, 'fail')], { x: 2 }).ok).toBe(false);
  });

  it('accepts null only after a delete that can be last, or with no acknowledged write', () => {
    expect(checkLostRegisterWrites([w(1, 0, 10), del(20, 30)], { x: null }).ok).toBe(true);
    expect(checkLostRegisterWrites([w(1, 0, 10)], { x: null }).ok).toBe(false);
    expect(checkLostRegisterWrites([w(1, 0, 10, 'unknown')], { x: null }).ok).toBe(true);
    expect(checkLostRegisterWrites([], { x: null }).ok).toBe(true);
    expect(checkLostRegisterWrites([], { x: 5 }).ok).toBe(false);
  });

  it('treats a successful cas as a write and compares JSON deeply', () => {
    const cas: RegisterOp = { process: 1, key: 'x', kind: 'cas', expected: 1, value: { a: 1, b: 2 }, invokeMs: 20, completeMs: 30, status: 'ok' };
    expect(checkLostRegisterWrites([w(1, 0, 10), cas], { x: { b: 2, a: 1 } }).ok).toBe(true);
    expect(checkLostRegisterWrites([w(1, 0, 10), cas], { x: 1 }).ok).toBe(false);
  });

  it('flags a key with acknowledged writes but no final read', () => {
    expect(checkLostRegisterWrites([w(1, 0, 10)], {}).anomalies.map((a) => a.type)).toEqual(['missing-final-read']);
  });
});

describe('lost writes: properties', () => {
  const shapeArb = fc.record({
    processes: fc.integer({ min: 1, max: 6 }),
    keys: fc.integer({ min: 1, max: 4 }),
    ops: fc.integer({ min: 1, max: 150 }),
    unknown_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
    fail_p: fc.double({ min: 0, max: 0.2, noNaN: true }),
  });

  it('accepts the final state of a correct register store, and catches a rolled-back key', () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const { history, finals } = genRegisterHistory(seed, shape);
        expect(checkLostRegisterWrites(history, finals).anomalies).toEqual([]);
        // Roll a key back to a write that an acknowledged later write superseded.
        for (const a of history) {
          if (a.kind !== 'write' || a.status !== 'ok' || a.completeMs === null) continue;
          const later = history.some((b) => b.key === a.key && b.kind !== 'read' && b.status === 'ok' && b.invokeMs > a.completeMs!);
          const seenElsewhere = history.some((b) => b !== a && b.key === a.key && b.kind !== 'read' && b.status !== 'fail' &&
            canonicalJson(b.kind === 'delete' ? null : b.value) === canonicalJson(a.value));
          if (!later || seenElsewhere) continue;
          planted++;
          expect(checkLostRegisterWrites(history, { ...finals, [a.key]: a.value! }).ok).toBe(false);
          return;
        }
      }),
      { numRuns: 300, seed: 10 },
    );
    expect(planted).toBeGreaterThan(100);
  });

  it('accepts the final lists of a correct store, and catches a dropped append', () => {
    let planted = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), shapeArb, (seed, shape) => {
        const { history, finals } = genTxnHistory(seed, { ...shape, ops_per_txn_max: 4 });
        expect(checkLostAppends(history, finals).anomalies).toEqual([]);
        const t = history.find((x) => x.status === 'ok' && x.ops.some((m) => m[0] === 'append'));
        if (t === undefined) return;
        const [, key, value] = t.ops.find((m) => m[0] === 'append')!;
        planted++;
        const dropped = { ...finals, [key]: finals[key].filter((e) => canonicalJson(e) !== canonicalJson(value)) };
        expect(checkLostAppends(history, dropped).anomalies.map((a) => a.type)).toEqual(['lost-append']);
      }),
      { numRuns: 300, seed: 11 },
    );
    expect(planted).toBeGreaterThan(200);
  });
});
