import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** The simulator's seeded randomness (xoroshiro128+ from pure-rand). One seed reproduces a whole run. */
export class Rng {
  private readonly gen;

  constructor(readonly seed: number) {
    // Nearby small seeds give correlated first outputs from xoroshiro's simple seeding:
    // scramble the seed (murmur3's finalizer) and drop a few outputs.
    this.gen = xoroshiro128plus(fmix32(seed | 0));
    for (let i = 0; i < 8; i++) this.gen.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Exponentially distributed with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** A new generator whose seed is drawn from this one: independent streams, still one seed. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 2 ** 31));
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}
