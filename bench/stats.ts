/** Rounding and quantiles for the benchmarks' JSON. */

export function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** p50 and p99 (2 decimals) of xs, with the sample count; null without samples. */
export function q(xs: number[]): { p50: number; p99: number; samples: number } | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((x, y) => x - y);
  const at = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), samples: s.length };
}
