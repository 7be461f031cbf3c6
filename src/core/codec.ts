import * as v from 'valibot';
import { message_bytes_max } from './limits.ts';
import { Msg } from './messages.ts';

/**
 * The wire codec: JSON text, validated against the message schema on the way in.
 * JSON because V8's parser is faster than any JavaScript binary decoder we measured for
 * messages this small, data channels carry text natively, and traces stay readable.
 */
export function encode(msg: Msg): string {
  return JSON.stringify(msg);
}

export type DecodeResult = { ok: true; msg: Msg } | { ok: false; reason: 'oversized' | 'malformed' | 'invalid'; detail: string };

export function decode(data: unknown): DecodeResult {
  if (typeof data !== 'string') return { ok: false, reason: 'malformed', detail: `expected text, got ${typeof data}` };
  // String length is a lower bound on UTF-8 bytes and at most a third of them: checking it
  // first refuses a huge frame before parsing it.
  if (data.length > message_bytes_max) return { ok: false, reason: 'oversized', detail: `${data.length} chars` };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch (e) {
    return { ok: false, reason: 'malformed', detail: String(e).slice(0, 120) };
  }
  return check(raw);
}

/** Validates one parsed message against the schema. */
export function check(raw: unknown): DecodeResult {
  const r = v.safeParse(Msg, raw);
  if (!r.success) return { ok: false, reason: 'invalid', detail: r.issues[0]?.message ?? 'schema' };
  return { ok: true, msg: r.output };
}
