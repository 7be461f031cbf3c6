import { describe, expect, it } from 'vitest';
import * as check from './index.ts';

describe('checker API', () => {
  it('exposes every checker through the index', () => {
    expect(check.checkLinearizable([]).ok).toBe(true);
    expect(check.checkListAppend([]).ok).toBe(true);
    expect(check.checkBank({ accounts: ['a'], total: 0, reads: [] }).ok).toBe(true);
    expect(check.checkLostAppends([], {}).ok).toBe(true);
    expect(check.checkLostRegisterWrites([], {}).ok).toBe(true);
    expect(check.jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(check.jsonEqual({ a: 1 }, { a: 2 })).toBe(false);
  });
});
