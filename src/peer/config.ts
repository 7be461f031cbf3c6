/**
 * Tunables of one peer. Every duration is in milliseconds of the Env's clock, every count
 * has its unit in the name. Defaults suit browser tabs on one machine or a LAN.
 */
export interface PeerConfig {
  /** Heartbeats to successor, predecessor and fingers. */
  heartbeat_interval_ms: number;
  /** Lower bound of the adaptive failure-detector timeout. */
  fd_timeout_min_ms: number;
  /** Upper bound of the extra margin a peer earns after each false suspicion. */
  fd_false_suspicion_margin_max_ms: number;
  /** How often a suspected peer is probed again (to notice it is back, and to heal partitions). */
  suspect_probe_interval_ms: number;
  /** Suspected peers probed at most; the oldest suspicion is forgotten beyond it. */
  suspects_max: number;
  /** One finger is repaired per period, round robin. */
  finger_fix_interval_ms: number;
  /** A join attempt without answer is retried after this (with backoff). */
  join_retry_ms: number;
  /** A lookup without answer fails after this. */
  lookup_timeout_ms: number;
  /** Client requests (plain DHT) time out after this and are retried up to request_attempts_max. */
  request_timeout_ms: number;
  request_attempts_max: number;
  /** Routed messages held by a joining peer until its join completes. */
  joining_buffer_messages_max: number;
}

export const defaultPeerConfig: PeerConfig = {
  heartbeat_interval_ms: 1000,
  fd_timeout_min_ms: 3000,
  fd_false_suspicion_margin_max_ms: 30_000,
  suspect_probe_interval_ms: 5000,
  suspects_max: 64,
  finger_fix_interval_ms: 2000,
  join_retry_ms: 1500,
  lookup_timeout_ms: 4000,
  request_timeout_ms: 4000,
  request_attempts_max: 4,
  joining_buffer_messages_max: 1024,
};
