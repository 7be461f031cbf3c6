import { ID_SPACE } from '../core/id.ts';

/**
 * A set of arcs (lo, hi] of the circle, kept as sorted, disjoint linear intervals (a, b]
 * with -1 <= a < b <= ID_SPACE - 1: an arc that wraps past zero becomes two intervals.
 * Used for the ranges a peer is responsible for without authoritative data. Small sets,
 * plain arrays.
 */
export type Interval = [a: number, b: number];

const TOP = ID_SPACE - 1;

function linear(lo: number, hi: number): Interval[] {
  if (lo === hi) return [[-1, TOP]];
  if (lo < hi) return [[lo, hi]];
  const out: Interval[] = [];
  if (lo < TOP) out.push([lo, TOP]);
  out.push([-1, hi]);
  return out;
}

export class RangeSet {
  private iv: Interval[] = [];

  constructor(intervals: Interval[] = []) {
    for (const [a, b] of intervals) this.addInterval(a, b);
  }

  get empty(): boolean {
    return this.iv.length === 0;
  }

  contains(x: number): boolean {
    for (const [a, b] of this.iv) if (x > a && x <= b) return true;
    return false;
  }

  /** Does the set hold any point of the arc (lo, hi]? */
  intersects(lo: number, hi: number): boolean {
    for (const [c, d] of linear(lo, hi)) for (const [a, b] of this.iv) if (c < b && a < d) return true;
    return false;
  }

  /** Add the arc (lo, hi]; lo === hi is the whole circle. */
  add(lo: number, hi: number): void {
    for (const [a, b] of linear(lo, hi)) this.addInterval(a, b);
  }

  /** Remove the arc (lo, hi]. */
  remove(lo: number, hi: number): void {
    for (const [c, d] of linear(lo, hi)) {
      const out: Interval[] = [];
      for (const [a, b] of this.iv) {
        if (d <= a || c >= b) {
          out.push([a, b]);
          continue;
        }
        if (c > a) out.push([a, c]);
        if (d < b) out.push([d, b]);
      }
      this.iv = out;
    }
  }

  /** Keep only what lies within the arc (lo, hi]. */
  intersect(lo: number, hi: number): void {
    const keep = new RangeSet();
    for (const [c, d] of linear(lo, hi)) {
      for (const [a, b] of this.iv) {
        const x = Math.max(a, c);
        const y = Math.min(b, d);
        if (x < y) keep.addInterval(x, y);
      }
    }
    this.iv = keep.iv;
  }

  intervals(): Interval[] {
    return this.iv.map(([a, b]) => [a, b]);
  }

  /**
   * The set as arcs (lo, hi] of the circle: an arc through zero is one arc, not the two
   * intervals it is kept as (a handover of it must end where the arc ends).
   */
  arcs(): Interval[] {
    const out = this.iv.map(([a, b]): Interval => [a < 0 ? TOP : a, b]);
    if (out.length > 1 && this.iv[0]![0] < 0 && this.iv[this.iv.length - 1]![1] === TOP) {
      const first = out.shift()!;
      out[out.length - 1]![1] = first[1];
    }
    return out;
  }

  private addInterval(a: number, b: number): void {
    let na = a;
    let nb = b;
    const out: Interval[] = [];
    for (const [x, y] of this.iv) {
      if (y < na || x > nb) out.push([x, y]);
      else {
        na = Math.min(na, x);
        nb = Math.max(nb, y);
      }
    }
    out.push([na, nb]);
    out.sort((p, q) => p[0] - q[0]);
    this.iv = out;
  }
}
