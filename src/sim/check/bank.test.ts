import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkBank, type BankRead } from './bank.ts';
import { Rng } from './test-histories.ts';

const accounts = ['a', 'b', 'c'];
const read = (id: string, balances: Record<string, number>, status: BankRead['status'] = 'ok'): BankRead => ({ id, balances, status });

describe('bank: hand-written histories', () => {
  it('accepts reads that see the total', () => {
    const res = checkBank({ accounts, total: 30, reads: [read('r1', { a: 10, b: 10, c: 10 }), read('r2', { a: 0, b: 25, c: 5 })] });
    expect(res).toEqual({ ok: true, anomalies: [] });
  });

  it('counts an account missing from a read as 0', () => {
    expect(checkBank({ accounts, total: 30, reads: [read('r', { a: 30 })] }).ok).toBe(true);
  });

  it('flags a wrong total', () => {
    const res = checkBank({ accounts, total: 30, reads: [read('r1', { a: 10, b: 10, c: 10 }), read('r2', { a: 5, b: 10, c: 10 })] });
    expect(res.ok).toBe(false);
    expect(res.anomalies).toEqual([expect.objectContaining({ type: 'wrong-total', reads: ['r2'] })]);
    expect(res.anomalies[0].explanation).toContain('25');
  });

  it('flags a negative balance unless allowed', () => {
    const h = { accounts, total: 30, reads: [read('r', { a: -5, b: 25, c: 10 })] };
    expect(checkBank(h).anomalies.map((a) => a.type)).toEqual(['negative-balance']);
    expect(checkBank(h, { negative_allowed: true }).ok).toBe(true);
  });

  it('flags unknown accounts and non-numbers', () => {
    expect(checkBank({ accounts, total: 30, reads: [read('r', { a: 10, b: 10, c: 10, z: 0 })] }).anomalies.map((a) => a.type)).toEqual([
      'unknown-account',
    ]);
    const bad = read('r', { a: 10, b: 10, c: Number.NaN });
    expect(checkBank({ accounts, total: 30, reads: [bad] }).anomalies.map((a) => a.type)).toEqual(['not-a-number']);
  });

  it('ignores failed and unknown reads', () => {
    const res = checkBank({ accounts, total: 30, reads: [read('r1', { a: 1 }, 'fail'), read('r2', { a: -1 }, 'unknown')] });
    expect(res.ok).toBe(true);
  });

  it('caps the anomalies listed', () => {
    const reads = Array.from({ length: 20 }, (_, i) => read(`r${i}`, { a: 1 }));
    const res = checkBank({ accounts, total: 30, reads }, { anomalies_per_type_max: 2 });
    expect(res.anomalies).toHaveLength(2);
    expect(res.omitted).toEqual({ 'wrong-total': 18 });
  });
});

/** Transfers applied atomically to a model; reads are snapshots, some taken in the middle of a transfer when `torn`. */
function bankRun(seed: number, steps: number, torn: boolean): { reads: BankRead[]; tornReads: number } {
  const rng = new Rng(seed);
  const balances: Record<string, number> = { a: 10, b: 10, c: 10 };
  const reads: BankRead[] = [];
  let tornReads = 0;
  for (let i = 0; i < steps; i++) {
    if (rng.chance(0.5)) {
      const from = rng.pick(accounts);
      const to = rng.pick(accounts.filter((x) => x !== from));
      const amount = rng.int(1, 5);
      if (balances[from] < amount) continue; // the workload checks funds
      balances[from] -= amount;
      if (torn && rng.chance(0.3)) {
        // A read between the debit and the credit: what a non-atomic transfer exposes.
        reads.push(read(`r${i}`, { ...balances }));
        tornReads++;
      }
      balances[to] += amount;
    } else {
      reads.push(read(`r${i}`, { ...balances }, rng.pick(['ok', 'ok', 'ok', 'unknown'] as const)));
    }
  }
  return { reads, tornReads };
}

describe('bank: properties', () => {
  it('accepts snapshots of an atomic bank and catches torn transfers', () => {
    let torn = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 200 }), (seed, steps) => {
        expect(checkBank({ accounts, total: 30, reads: bankRun(seed, steps, false).reads }).ok).toBe(true);
        const bad = bankRun(seed, steps, true);
        if (bad.tornReads > 0) torn++;
        expect(checkBank({ accounts, total: 30, reads: bad.reads }).ok).toBe(bad.tornReads === 0);
      }),
      { numRuns: 300, seed: 9 },
    );
    expect(torn).toBeGreaterThan(150);
  });
});
