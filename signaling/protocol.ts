/**
 * Wire protocol of the bootstrap signaling server: JSON text frames, one message each.
 * Shared by the server (parses client messages) and the client (parses server messages),
 * so both sides agree on what is valid. Pure: no Node or DOM APIs, runs in browsers.
 *
 * Client → server
 *   { type: 'join', room, peerId }   enter a room (one ring per room); answered by `joined`
 *   { type: 'signal', to, data }     relay `data` to peer `to` in the same room
 *   { type: 'peers' }                refresh the peer list; answered by `peers`
 *   { type: 'ping' }                 answered by `pong` (lets a browser detect a dead server)
 * Server → client
 *   { type: 'joined', peers }        up to peers_returned_max other peers, most recently seen first
 *   { type: 'peers', peers }         same list, in reply to `peers`
 *   { type: 'signal', from, data }   relayed from another peer of the room
 *   { type: 'pong' }
 *   { type: 'error', code, message, re?, peer? }
 *       `re` names the request type the error answers (so a client can fail the right
 *       pending call); `peer` is the target of a failed `signal`.
 *
 * Unknown fields are ignored (room for additions); unknown types are `invalid-message`.
 */
import type { Json, PeerId } from '../src/core/types.ts';
import { DEFAULT_LIMITS, type SignalingLimits } from './limits.ts';

/** Peer ids live on the ring's id space [0, 2^52) (see src/core/types.ts). */
export const PEER_ID_LIMIT = 2 ** 52;
/** Room names: short and URL/log safe, so they can be logged and used as keys unescaped. */
export const ROOM_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export type ClientMessageType = 'join' | 'signal' | 'peers' | 'ping';

export type ClientMessage =
  | { type: 'join'; room: string; peerId: PeerId }
  | { type: 'signal'; to: PeerId; data: Json }
  | { type: 'peers' }
  | { type: 'ping' };

/** Error codes the server sends. Clients must also accept codes not listed here. */
export type ErrorCode =
  | 'invalid-json' // the frame is not JSON text
  | 'invalid-message' // JSON, but not a valid message (shape, type, binary frame)
  | 'oversized' // frame above message_bytes_max, or signal data above signal_data_bytes_max
  | 'rate-limited' // too many messages; the message was dropped
  | 'room-full' // room_peers_max reached
  | 'server-full' // rooms_max or connections_max reached
  | 'not-joined' // signal / peers before a successful join
  | 'already-joined' // a second join with another room or peer id on the same socket
  | 'duplicate-peer' // the peer id is held by another live socket in the room
  | 'unknown-peer' // signal target not in the sender's room
  | 'peer-busy'; // signal target is not reading; the message was dropped

export type ServerMessage =
  | { type: 'joined'; peers: PeerId[] }
  | { type: 'peers'; peers: PeerId[] }
  | { type: 'signal'; from: PeerId; data: Json }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string; re?: ClientMessageType; peer?: PeerId };

/**
 * WebSocket close codes the server uses. A client must not reconnect after `replaced`
 * (another connection now holds its peer id), and should back off after `policy`.
 */
export const CloseCode = {
  /** Server shutting down. */
  goingAway: 1001,
  /** Kept flooding past rate_violations_max. */
  policy: 1008,
  /** Frame above frame_bytes_max (sent by `ws` itself). */
  tooBig: 1009,
  /** connections_max reached. */
  tryAgainLater: 1013,
  /** No frame for idle_timeout_ms. */
  idle: 4000,
  /** A newer socket took over this peer id after this one failed the liveness probe. */
  replaced: 4001,
  /** Did not join within join_timeout_ms. */
  joinTimeout: 4002,
  /** Outgoing queue above send_buffer_bytes_max: the client is not reading. */
  slowConsumer: 4003,
} as const;

export type ParseResult<T> =
  | { ok: true; value: T }
  | { ok: false; code: 'invalid-json' | 'invalid-message' | 'oversized'; reason: string };

type ParseLimits = Pick<SignalingLimits, 'message_bytes_max' | 'signal_data_bytes_max' | 'signal_data_depth_max'>;

const CLIENT_TYPES: ReadonlySet<string> = new Set<ClientMessageType>(['join', 'signal', 'peers', 'ping']);

export function isPeerId(value: unknown): value is PeerId {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < PEER_ID_LIMIT;
}

export function isRoomName(value: unknown): value is string {
  return typeof value === 'string' && ROOM_PATTERN.test(value);
}

/** UTF-8 length of a string without allocating (what the socket will carry). */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Checks a signal payload: JSON, not too deep, not too large once serialized. Returns why
 * it is refused, or null. The depth check is iterative and comes first because
 * JSON.stringify recurses and throws on deeply nested values (about 10^4 levels in V8).
 */
export function checkSignalData(
  data: unknown,
  limits: Pick<SignalingLimits, 'signal_data_bytes_max' | 'signal_data_depth_max'> = DEFAULT_LIMITS,
): { code: 'invalid-message' | 'oversized'; reason: string } | null {
  if (data === undefined) return { code: 'invalid-message', reason: 'signal.data is missing' };
  const stack: Array<{ value: unknown; depth: number }> = [{ value: data, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { code: 'invalid-message', reason: 'signal.data holds a non-finite number' };
      continue;
    }
    if (typeof value !== 'object') return { code: 'invalid-message', reason: `signal.data holds a ${typeof value}` };
    if (depth > limits.signal_data_depth_max) {
      return { code: 'invalid-message', reason: `signal.data is nested deeper than ${limits.signal_data_depth_max}` };
    }
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
  const bytes = utf8Bytes(JSON.stringify(data));
  if (bytes > limits.signal_data_bytes_max) {
    return { code: 'oversized', reason: `signal.data is ${bytes} bytes, limit ${limits.signal_data_bytes_max}` };
  }
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(reason: string): { ok: false; code: 'invalid-message'; reason: string } {
  return { ok: false, code: 'invalid-message', reason };
}

function parseJsonObject(
  text: string,
  bytesMax: number,
): { ok: true; value: Record<string, unknown> } | { ok: false; code: 'invalid-json' | 'invalid-message' | 'oversized'; reason: string } {
  const bytes = utf8Bytes(text);
  if (bytes > bytesMax) return { ok: false, code: 'oversized', reason: `message is ${bytes} bytes, limit ${bytesMax}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid-json', reason: 'message is not valid JSON' };
  }
  if (!isRecord(raw)) return invalid('message must be a JSON object');
  if (typeof raw.type !== 'string') return invalid('message.type must be a string');
  return { ok: true, value: raw };
}

/** Parses and validates one frame from a client (server side). */
export function parseClientMessage(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParseResult<ClientMessage> {
  const parsed = parseJsonObject(text, limits.message_bytes_max);
  if (!parsed.ok) return parsed;
  const m = parsed.value;
  switch (m.type) {
    case 'join':
      if (!isRoomName(m.room)) return invalid('join.room must be 1-64 characters of [A-Za-z0-9._-]');
      if (!isPeerId(m.peerId)) return invalid('join.peerId must be an integer in [0, 2^52)');
      return { ok: true, value: { type: 'join', room: m.room, peerId: m.peerId } };
    case 'signal': {
      if (!isPeerId(m.to)) return invalid('signal.to must be an integer in [0, 2^52)');
      const refused = checkSignalData(m.data, limits);
      if (refused) return { ok: false, ...refused };
      return { ok: true, value: { type: 'signal', to: m.to, data: m.data as Json } };
    }
    case 'peers':
      return { ok: true, value: { type: 'peers' } };
    case 'ping':
      return { ok: true, value: { type: 'ping' } };
    default:
      return invalid(`unknown message type ${JSON.stringify(m.type).slice(0, 40)}`);
  }
}

function isPeerList(value: unknown): value is PeerId[] {
  return Array.isArray(value) && value.every(isPeerId);
}

/**
 * Parses and validates one frame from the server (client side). Bounded by the frame
 * limit rather than message_bytes_max because a relayed signal carries a wrapper.
 */
export function parseServerMessage(
  text: string,
  limits: Pick<SignalingLimits, 'frame_bytes_max' | 'signal_data_bytes_max' | 'signal_data_depth_max'> = DEFAULT_LIMITS,
): ParseResult<ServerMessage> {
  const parsed = parseJsonObject(text, limits.frame_bytes_max);
  if (!parsed.ok) return parsed;
  const m = parsed.value;
  switch (m.type) {
    case 'joined':
    case 'peers':
      if (!isPeerList(m.peers)) return invalid(`${m.type}.peers must be a list of peer ids`);
      return { ok: true, value: { type: m.type, peers: m.peers } };
    case 'signal': {
      if (!isPeerId(m.from)) return invalid('signal.from must be a peer id');
      const refused = checkSignalData(m.data, limits);
      if (refused) return { ok: false, ...refused };
      return { ok: true, value: { type: 'signal', from: m.from, data: m.data as Json } };
    }
    case 'pong':
      return { ok: true, value: { type: 'pong' } };
    case 'error': {
      if (typeof m.code !== 'string' || m.code.length === 0) return invalid('error.code must be a non-empty string');
      if (typeof m.message !== 'string') return invalid('error.message must be a string');
      const value: ServerMessage = { type: 'error', code: m.code, message: m.message };
      if (typeof m.re === 'string' && CLIENT_TYPES.has(m.re)) value.re = m.re as ClientMessageType;
      if (isPeerId(m.peer)) value.peer = m.peer;
      return { ok: true, value };
    }
    default:
      return invalid(`unknown message type ${JSON.stringify(m.type).slice(0, 40)}`);
  }
}
