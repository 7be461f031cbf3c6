import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dist, inOpenClosed } from '../core/id.ts';
import { PositionIndex } from './position-index.ts';

const SPACE = 2 ** 52;

describe('PositionIndex', () => {
  it('answers arcs exactly like a scan and a sort, through inserts, moves and deletes', () => {
    const pos = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: SPACE - 1 }), fc.constantFrom(0, SPACE - 1));
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), id: fc.integer({ min: 0, max: 30 }), pos }),
      fc.record({ k: fc.constant('del' as const), id: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ k: fc.constant('arc' as const), lo: pos, hi: pos, limit: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const index = new PositionIndex<{ pos: number; tag: number }>();
        const model = new Map<string, { pos: number; tag: number }>();
        let tag = 0;
        for (const o of ops) {
          if (o.k === 'set') {
            const v = { pos: o.pos, tag: tag++ };
            index.set(`e${o.id}`, v);
            model.set(`e${o.id}`, v);
          } else if (o.k === 'del') {
            expect(index.delete(`e${o.id}`)).toBe(model.delete(`e${o.id}`));
          } else {
            const expected = [...model.entries()]
              .filter(([, v]) => inOpenClosed(v.pos, o.lo, o.hi))
              // Clockwise from lo; ties by id, as the index keeps them.
              .sort(([ia, a], [ib, b]) => (dist(o.lo, a.pos) || SPACE) - (dist(o.lo, b.pos) || SPACE) || (ia < ib ? -1 : 1))
              .slice(0, o.limit)
              .map(([, v]) => v);
            expect(index.inArc(o.lo, o.hi, o.limit)).toEqual(expected);
          }
          expect(index.size).toBe(model.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});
