import * as v from 'valibot';
import { message_bytes_max } from './limits.ts';
import { Msg, RoutedBody } from './messages.ts';

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

/**
 * The schema of each message type (and of each kind of routed message), looked up by its
 * tag. Why not v.safeParse(Msg, raw): valibot's variant tries every option in turn and
 * records an issue for each mismatch; with ~40 message types that was the largest single
 * cost of a running peer (measured: a fifth of its CPU under a transaction load). The
 * schemas are the same objects, so what is accepted is exactly what Msg accepts.
 */
const byTag = new Map<string, v.GenericSchema>();
for (const option of Msg.options) byTag.set(option.entries.t.literal, option);
const routeByKind = new Map<string, v.GenericSchema>();
{
  const route = Msg.options.find((o) => o.entries.t.literal === 'route') as Extract<(typeof Msg.options)[number], { entries: { t: v.LiteralSchema<'route', undefined> } }>;
  for (const body of RoutedBody.options) routeByKind.set(body.entries.k.literal, v.strictObject({ ...route.entries, body }));
}

function field(raw: object, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(raw, name) ? (raw as Record<string, unknown>)[name] : undefined;
}

/** Validates one parsed message against the schema. */
export function check(raw: unknown): DecodeResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'invalid', detail: 'a message is a JSON object' };
  const t = field(raw, 't');
  let schema = typeof t === 'string' ? byTag.get(t) : undefined;
  if (schema === undefined) return { ok: false, reason: 'invalid', detail: `unknown message type ${JSON.stringify(t ?? null)?.slice(0, 40)}` };
  if (t === 'route') {
    const body = field(raw, 'body');
    const k = typeof body === 'object' && body !== null ? field(body, 'k') : undefined;
    schema = typeof k === 'string' ? routeByKind.get(k) : undefined;
    if (schema === undefined) return { ok: false, reason: 'invalid', detail: `unknown routed message kind ${JSON.stringify(k ?? null)?.slice(0, 40)}` };
  }
  const r = v.safeParse(schema, raw);
  if (!r.success) return { ok: false, reason: 'invalid', detail: r.issues[0]?.message ?? 'schema' };
  return { ok: true, msg: r.output as Msg };
}
