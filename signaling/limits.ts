/**
 * Every bound the signaling server enforces, with its unit in the name or comment.
 *
 * The server is reachable by anyone who can open a browser tab, so each resource a client
 * can make it hold (memory, sockets, rooms, CPU per message, log lines) has a ceiling here.
 * Tests pass smaller values through `startSignalingServer({ limits })`; the defaults are
 * sized for bootstrap traffic: a joining tab sends one join, one offer, a handful of ICE
 * candidates and an occasional peers refresh, so a legitimate client stays far below them.
 */
export interface SignalingLimits {
  /** Bytes of one text frame that the server will parse; larger frames get `oversized` and the socket stays open. */
  message_bytes_max: number;
  /**
   * Bytes of one frame that `ws` accepts at all (its `maxPayload`). Past this the frame is
   * refused while it is being received and the socket closed with 1009, so a client cannot
   * make the server buffer arbitrary amounts before the `oversized` check.
   */
  frame_bytes_max: number;
  /** Bytes of `signal.data` once serialized as JSON (an SDP offer is 2-6 KiB). */
  signal_data_bytes_max: number;
  /** Nesting depth of `signal.data`; deeper values are refused because serializing them can overflow the stack. */
  signal_data_depth_max: number;
  /** Sustained messages per second per socket (token bucket refill rate). */
  messages_per_second_max: number;
  /** Messages a socket may send in a burst (token bucket capacity). */
  messages_burst_max: number;
  /** Messages refused with `rate-limited` on one socket before the server closes it (1008). */
  rate_violations_max: number;
  /** Peers in one room (one ring). */
  room_peers_max: number;
  /** Rooms (non-empty) on the server. */
  rooms_max: number;
  /** Open sockets on the server; more are told `server-full` and closed (1013). */
  connections_max: number;
  /** Peers listed in `joined` / `peers` replies, most recently seen first. */
  peers_returned_max: number;
  /** Milliseconds between server heartbeats (a `ws` ping to each socket, plus the idle and join checks). */
  heartbeat_interval_ms: number;
  /** Milliseconds without any frame (message or pong) after which a socket is considered dead and terminated. */
  idle_timeout_ms: number;
  /** Milliseconds a socket may stay open without joining a room before it is closed (4002). */
  join_timeout_ms: number;
  /** Milliseconds the server waits for the holder of a duplicated peer id to prove it is alive. */
  duplicate_probe_ms: number;
  /** Bytes queued for one socket (`bufferedAmount`) above which nothing more is sent to it. */
  send_buffer_bytes_max: number;
  /** Milliseconds `close()` waits for clients to acknowledge the close frame before terminating them. */
  shutdown_grace_ms: number;
}

export const DEFAULT_LIMITS: Readonly<SignalingLimits> = Object.freeze({
  message_bytes_max: 64 * 1024,
  frame_bytes_max: 256 * 1024,
  signal_data_bytes_max: 16 * 1024,
  signal_data_depth_max: 32,
  messages_per_second_max: 20,
  messages_burst_max: 50,
  rate_violations_max: 50,
  room_peers_max: 256,
  rooms_max: 10_000,
  connections_max: 4096,
  peers_returned_max: 8,
  heartbeat_interval_ms: 15_000,
  idle_timeout_ms: 45_000,
  join_timeout_ms: 10_000,
  duplicate_probe_ms: 2_000,
  send_buffer_bytes_max: 1024 * 1024,
  shutdown_grace_ms: 1_000,
});

/** Defaults overridden by `partial`; rejects values that would disable a bound or contradict another. */
export function resolveLimits(partial: Partial<SignalingLimits> = {}): SignalingLimits {
  const limits: SignalingLimits = { ...DEFAULT_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`signaling limit ${name} must be a positive finite number, got ${String(value)}`);
    }
  }
  if (limits.frame_bytes_max < limits.message_bytes_max) {
    throw new RangeError('signaling limit frame_bytes_max must be >= message_bytes_max');
  }
  if (limits.message_bytes_max < limits.signal_data_bytes_max) {
    throw new RangeError('signaling limit message_bytes_max must be >= signal_data_bytes_max');
  }
  return limits;
}

/**
 * Token bucket: `capacity` tokens, refilled at `ratePerSecond`. Time is passed in (ms,
 * monotonic) rather than read, so the bucket is deterministic under test.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly capacity: number,
    private readonly ratePerSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
