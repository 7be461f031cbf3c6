/**
 * Canonical JSON for the checkers: two values are equal iff their canonical strings are
 * equal. Object keys are sorted so {a,b} and {b,a} compare equal (storage and the wire may
 * reorder keys); strings make values usable as Map keys and memo keys.
 */
import type { Json } from '../../core/types.ts';

export function canonicalJson(value: Json | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(value[k])).join(',') + '}';
  }
  // -0 and 0 are the same JSON number; JSON.stringify already prints -0 as "0".
  return JSON.stringify(value);
}

export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** A short human-readable rendering for explanations, cut so one huge value cannot flood a report. */
export function showJson(value: Json | undefined, chars_max = 80): string {
  const s = canonicalJson(value);
  return s.length <= chars_max ? s : s.slice(0, chars_max - 3) + '...';
}
