import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StorageError } from './storage.ts';
import { encodeValue } from './storage-codec.ts';

describe('storage codec', () => {
  it('accepts every JSON value as its JSON text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(encodeValue(v)).toBe(JSON.stringify(v));
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses anything else with invalid, never a TypeError, and says where', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withSparseArray: true, withDate: true, withMap: true, withBigInt: true, withTypedArray: true }), (v) => {
        try {
          const json = encodeValue(v);
          expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(v)));
        } catch (e) {
          expect(e).toBeInstanceOf(StorageError);
          expect((e as StorageError).code).toBe('invalid');
        }
      }),
      { numRuns: 2000 },
    );
    const cyclic: Record<string, unknown> = { a: [1, { b: 2 }] };
    (cyclic.a as unknown[]).push(cyclic);
    expect(() => encodeValue(cyclic)).toThrow('value.a[2]: cyclic value');
    expect(() => encodeValue({ x: [1, , 3] })).toThrow('value.x[1]: hole in array');
    expect(() => encodeValue({ x: { y: NaN } }, () => 'puts[0] "k"')).toThrow('puts[0] "k".x.y: NaN is not a JSON number');
  });
});
