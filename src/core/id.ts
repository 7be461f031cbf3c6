import type { PeerId } from './types.ts';

/** Size of the identifier circle: 2^52 (see types.ts for why). */
export const ID_SPACE = 2 ** 52;

export function isId(x: unknown): x is PeerId {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < ID_SPACE;
}

/** Clockwise distance from a to b, in [0, ID_SPACE). */
export function dist(a: number, b: number): number {
  const d = b - a;
  return d >= 0 ? d : d + ID_SPACE;
}

/** x in (a, b] going clockwise. When a === b the interval is the whole circle. */
export function inOpenClosed(x: number, a: number, b: number): boolean {
  if (a === b) return true;
  const dx = dist(a, x);
  return dx !== 0 && dx <= dist(a, b);
}

/** x in (a, b) going clockwise. When a === b the interval is the whole circle minus a. */
export function inOpen(x: number, a: number, b: number): boolean {
  if (a === b) return x !== a;
  const dx = dist(a, x);
  return dx !== 0 && dx < dist(a, b);
}

/** (a + d) mod ID_SPACE, exact because both are below 2^52. */
export function addId(a: number, d: number): number {
  const s = a + d;
  return s >= ID_SPACE ? s - ID_SPACE : s;
}

/** A uniformly random id from a source of uniform floats in [0, 1) (26 bits from each of two draws). */
export function randomId(random: () => number): PeerId {
  const hi = Math.floor(random() * 2 ** 26);
  const lo = Math.floor(random() * 2 ** 26);
  return hi * 2 ** 26 + lo;
}

/** Short, stable label for logs and traces: the top 24 bits in hex. */
export function shortId(id: PeerId): string {
  return Math.floor(id / 2 ** 28).toString(16).padStart(6, '0');
}
