import { isJson, utf8Length } from '../core/json.ts';
import { key_bytes_max, tx_keys_max, value_bytes_max } from '../core/limits.ts';
import type { Json } from '../core/types.ts';
import { InvalidError, LimitError } from './errors.ts';

/** The documented limits, checked on the client before anything is sent. */
export const limits = { key_bytes_max, value_bytes_max, tx_keys_max } as const;

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw new InvalidError(`a key must be a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidError('a key must not be empty');
  if (utf8Length(key) > key_bytes_max) throw new LimitError(`key is ${utf8Length(key)} bytes; the limit is ${key_bytes_max}`);
}

export function checkValue(key: string, value: unknown): asserts value is Json {
  if (!isJson(value)) throw new InvalidError(`value of "${key.slice(0, 40)}" is not JSON (plain objects, arrays, strings, finite numbers, booleans, null)`);
  const size = utf8Length(JSON.stringify(value));
  if (size > value_bytes_max) throw new LimitError(`value of "${key.slice(0, 40)}" is ${size} bytes; the limit is ${value_bytes_max}`);
}

export function checkTxKeys(count: number): void {
  if (count > tx_keys_max) throw new LimitError(`a transaction may touch at most ${tx_keys_max} keys; this one touches ${count}`);
}
