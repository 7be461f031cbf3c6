import * as v from 'valibot';
import { isId } from './id.ts';
import { isJson } from './json.ts';
import { key_bytes_max, successor_list_length, route_hops_max } from './limits.ts';
import type { Json, PeerId } from './types.ts';

/** Building blocks for message schemas; every field from the wire passes one of these. */
export const id = v.custom<PeerId>(isId, 'expected a peer id (integer in [0, 2^52))');
export const optId = v.nullable(id);
export const json = v.custom<Json>((x) => isJson(x), 'expected a JSON value');
export const uint = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
export const key = v.pipe(v.string(), v.maxLength(key_bytes_max));
export const reqId = uint;
/** Successor lists are bounded on the wire as everywhere else. */
export const ids = v.pipe(v.array(id), v.maxLength(successor_list_length + 1));
export const hops = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(route_hops_max));
