import type { Json } from '../core/types.ts';
import { StorageError, type WriteBatch } from './storage.ts';

/**
 * Validation and encoding shared by every storage adapter, so they all accept and reject the
 * same inputs and store the same thing: a value is kept as its JSON text.
 *
 * Decisions (the shared suite checks them):
 * - A value must be a JSON value made of plain objects, arrays without holes, finite numbers,
 *   strings, booleans and null. undefined (anywhere, also as a property value), functions,
 *   symbols, bigints, NaN, ±Infinity, Dates, Maps, class instances and cycles are 'invalid'.
 * - -0 is stored as 0: JSON has no negative zero, and every adapter must agree.
 * - Within one batch the puts apply in order (a later put of the same key wins), then the
 *   dels: a key both put and deleted in one batch ends up deleted.
 */

/** Longest key, in UTF-16 code units. Keys are application keys plus a short prefix. */
export const KEY_CHARS_MAX = 64 * 1024;
/** Longest value, as JSON text in UTF-16 code units (~16 MiB). Bounds one record on disk. */
export const VALUE_JSON_CHARS_MAX = 16 * 1024 * 1024;
/** Deepest nesting accepted; deeper values would overflow the recursive encoder. */
export const VALUE_DEPTH_MAX = 512;

export interface PreparedBatch {
  readonly puts: ReadonlyArray<readonly [string, string]>;
  readonly dels: ReadonlyArray<string>;
  /** Sum of key and JSON lengths, for group sizing. */
  readonly chars: number;
}

function invalid(message: string): StorageError {
  return new StorageError('invalid', message);
}

/** Where a value breaks the rules (path segments, innermost first) and why. */
interface Invalid {
  at: string[];
  why: string;
}

/**
 * null when value is storable JSON, else where and why. The path is built only on the way
 * back from a failure: building a path string per node cost more than the JSON encoding on
 * a peer's hot path.
 */
function whyInvalid(value: unknown, depth: number, stack: Set<object>): Invalid | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : { at: [], why: `${value} is not a JSON number` };
    case 'object':
      break;
    default:
      return { at: [], why: `a ${typeof value} is not a JSON value` };
  }
  if (value === null) return null;
  if (depth >= VALUE_DEPTH_MAX) return { at: [], why: `nested deeper than ${VALUE_DEPTH_MAX}` };
  if (stack.has(value)) return { at: [], why: 'cyclic value' };
  stack.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return { at: [`[${i}]`], why: 'hole in array' };
      const bad = whyInvalid(value[i], depth + 1, stack);
      if (bad) return (bad.at.push(`[${i}]`), bad);
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return { at: [], why: 'not a plain object' };
    if (Object.getOwnPropertySymbols(value).length > 0) return { at: [], why: 'symbol keys' };
    for (const key of Object.keys(value)) {
      const bad = whyInvalid((value as Record<string, unknown>)[key], depth + 1, stack);
      if (bad) return (bad.at.push(`.${key}`), bad);
    }
  }
  stack.delete(value);
  return null;
}

/** Validates a value and returns its JSON text; throws StorageError('invalid'). */
export function encodeValue(value: unknown, path: string | (() => string) = 'value'): string {
  const where = (): string => (typeof path === 'string' ? path : path());
  const bad = whyInvalid(value, 0, new Set());
  if (bad) throw invalid(`${where()}${bad.at.reverse().join('')}: ${bad.why}`);
  const json = JSON.stringify(value);
  if (json.length > VALUE_JSON_CHARS_MAX) {
    throw invalid(`${where()}: ${json.length} chars of JSON, more than ${VALUE_JSON_CHARS_MAX}`);
  }
  return json;
}

export function decodeValue(json: string): Json {
  return JSON.parse(json) as Json;
}

function checkKey(key: unknown, path: string): string {
  if (typeof key !== 'string') throw invalid(`${path}: key must be a string, got ${typeof key}`);
  if (key.length > KEY_CHARS_MAX) throw invalid(`${path}: key longer than ${KEY_CHARS_MAX}`);
  return key;
}

/**
 * Validates and encodes a batch at the moment write() is called, so later mutation of the
 * caller's objects cannot change what gets stored. Throws StorageError('invalid').
 */
export function prepareBatch(batch: WriteBatch): PreparedBatch {
  if (typeof batch !== 'object' || batch === null) throw invalid('batch must be an object');
  const { puts, dels } = batch as { puts: unknown; dels: unknown };
  if (!Array.isArray(puts) || !Array.isArray(dels)) throw invalid('batch needs puts and dels arrays');
  let chars = 0;
  const outPuts: Array<readonly [string, string]> = [];
  for (let i = 0; i < puts.length; i++) {
    const entry: unknown = puts[i];
    if (!Array.isArray(entry) || entry.length !== 2) throw invalid(`puts[${i}] must be [key, value]`);
    const key = checkKey(entry[0], `puts[${i}]`);
    const json = encodeValue(entry[1], () => `puts[${i}] ${JSON.stringify(key.slice(0, 64))}`);
    chars += key.length + json.length;
    outPuts.push([key, json]);
  }
  const outDels: string[] = [];
  for (let i = 0; i < dels.length; i++) {
    const key = checkKey(dels[i], `dels[${i}]`);
    chars += key.length;
    outDels.push(key);
  }
  return { puts: outPuts, dels: outDels, chars };
}

/** Byte-ish size of one record as usage() counts it: key length + JSON length. */
export function recordSize(key: string, json: string): number {
  return key.length + json.length;
}

/** String order of IndexedDB keys (UTF-16 code units), used to sort loadAll results. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Live record sizes, kept incrementally so usage() never scans. apply() is idempotent per
 * key (it looks up the old size), so replaying a batch that is already counted is harmless.
 */
export class UsageIndex {
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  put(key: string, json: string): void {
    const size = recordSize(key, json);
    this.bytes += size - (this.sizes.get(key) ?? 0);
    this.sizes.set(key, size);
  }

  del(key: string): void {
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }

  apply(batch: PreparedBatch): void {
    for (const [key, json] of batch.puts) this.put(key, json);
    for (const key of batch.dels) this.del(key);
  }

  /** Bytes the store would hold after the batch (for quota checks), without applying it. */
  bytesAfter(batch: PreparedBatch): number {
    const touched = new Map<string, number>();
    for (const [key, json] of batch.puts) touched.set(key, recordSize(key, json));
    for (const key of batch.dels) touched.set(key, 0);
    let bytes = this.bytes;
    for (const [key, size] of touched) bytes += size - (this.sizes.get(key) ?? 0);
    return bytes;
  }

  clear(): void {
    this.sizes.clear();
    this.bytes = 0;
  }

  usage(): { records: number; bytes: number } {
    return { records: this.sizes.size, bytes: this.bytes };
  }
}
