import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_SPACE, inOpenClosed } from '../core/id.ts';
import { RangeSet } from './ranges.ts';

describe('RangeSet', () => {
  it('matches a brute-force model of arcs under add/remove/intersect', () => {
    const pos = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(ID_SPACE - 1, ID_SPACE - 2, 0, 1));
    const op = fc.record({ kind: fc.constantFrom('add', 'remove', 'intersect'), lo: pos, hi: pos });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.array(pos, { minLength: 10, maxLength: 30 }), (ops, probes) => {
        const set = new RangeSet();
        // Model: membership of each probe point.
        const model = new Map<number, boolean>(probes.map((p) => [p, false]));
        for (const o of ops) {
          if (o.kind === 'add') set.add(o.lo, o.hi);
          else if (o.kind === 'remove') set.remove(o.lo, o.hi);
          else set.intersect(o.lo, o.hi);
          for (const p of probes) {
            const inArc = inOpenClosed(p, o.lo, o.hi);
            const cur = model.get(p)!;
            model.set(p, o.kind === 'add' ? cur || inArc : o.kind === 'remove' ? cur && !inArc : cur && inArc);
          }
        }
        for (const p of probes) expect(set.contains(p), `probe ${p}`).toBe(model.get(p));
        // arcs(): the same points, an arc through zero as one arc, none of them empty.
        const arcs = set.arcs();
        for (const p of probes) expect(arcs.some(([lo, hi]) => inOpenClosed(p, lo, hi)), `probe ${p} in arcs`).toBe(model.get(p));
        expect(arcs.filter(([lo, hi]) => inOpenClosed(0, lo, hi)).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});
