import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkValue, isPlainJson } from './storage-codec.ts';

describe('storage codec', () => {
  it('the fast JSON check agrees with the rule (checkValue) on any value', () => {
    const accepts = (v: unknown): boolean => {
      try {
        checkValue(v, 0, 'value', new Set());
        return true;
      } catch {
        return false;
      }
    };
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withNullPrototype: true, withSparseArray: true, withDate: true, withMap: true, withBigInt: true, withTypedArray: true }), fc.jsonValue()), (v) => {
        expect(isPlainJson(v, 0, new Set())).toBe(accepts(v));
      }),
      { numRuns: 2000 },
    );
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(isPlainJson(cyclic, 0, new Set())).toBe(false);
    expect(accepts(cyclic)).toBe(false);
  });
});
