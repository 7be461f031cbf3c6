import { check, decode, type DecodeResult } from './codec.ts';
import { frame_messages_max, message_bytes_max } from './limits.ts';
import type { Msg } from './messages.ts';

/**
 * Frames: what a runtime hands its transport. A frame is either one message (its JSON
 * object text, exactly what encode() gives, so a frame of one is the plain message) or
 * several, as a JSON array of message objects. Grouping is the runtime's business (the
 * protocol core neither knows nor cares); every message in a frame is validated on its own,
 * so one bad message in a frame costs only itself.
 *
 * Why: in a browser, each data-channel send costs tens of µs in the worker plus SCTP, DTLS
 * and a hop to the network process on both ends; a transaction sends ~50 small messages,
 * and under load most of them leave a peer in bursts towards the same few peers.
 */

/** Characters of one frame at most: 3 UTF-8 bytes per char in the worst case stays under message_bytes_max. */
export const frame_chars_max = Math.floor(message_bytes_max / 3);

/**
 * Groups encoded messages (texts from encode(), in order) into frames of at most
 * frame_chars_max characters and frame_messages_max messages. A message longer than the
 * budget travels alone, as it would without frames. Order is kept.
 */
export function packFrames(texts: readonly string[]): string[] {
  if (texts.length === 1) return [texts[0]!];
  const frames: string[] = [];
  let group: string[] = [];
  let chars = 1;
  const close = (): void => {
    if (group.length === 1) frames.push(group[0]!);
    else if (group.length > 1) frames.push(`[${group.join(',')}]`);
    group = [];
    chars = 1;
  };
  for (const t of texts) {
    if (group.length > 0 && (chars + t.length + 1 > frame_chars_max || group.length >= frame_messages_max)) close();
    group.push(t);
    chars += t.length + 1;
  }
  close();
  return frames;
}

export type FrameResult = { msgs: Msg[]; dropped: Array<Exclude<DecodeResult, { ok: true }>> };

/** Decodes a frame: every valid message in it, and why each invalid one was dropped. */
export function decodeFrame(data: unknown): FrameResult {
  if (typeof data !== 'string' || data.charCodeAt(0) !== 0x5b /* [ */) {
    const r = decode(data);
    return r.ok ? { msgs: [r.msg], dropped: [] } : { msgs: [], dropped: [r] };
  }
  if (data.length > message_bytes_max) return { msgs: [], dropped: [{ ok: false, reason: 'oversized', detail: `frame of ${data.length} chars` }] };
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch (e) {
    return { msgs: [], dropped: [{ ok: false, reason: 'malformed', detail: String(e).slice(0, 120) }] };
  }
  if (!Array.isArray(raw) || raw.length < 2 || raw.length > frame_messages_max) {
    const n = Array.isArray(raw) ? raw.length : 0;
    return { msgs: [], dropped: [{ ok: false, reason: 'malformed', detail: `a frame holds 2 to ${frame_messages_max} messages, got ${n}` }] };
  }
  const out: FrameResult = { msgs: [], dropped: [] };
  for (const item of raw) {
    const r = check(item);
    if (r.ok) out.msgs.push(r.msg);
    else out.dropped.push(r);
  }
  return out;
}
