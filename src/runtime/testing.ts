import type { PeerConfig } from '../peer/config.ts';

/**
 * Protocol timers shortened for tests of real-time drivers (heartbeats of 50 ms), so that a
 * ring forms and heals in well under a second of real time. Not for production: on a busy
 * machine such short failure-detector timeouts suspect live peers.
 */
export const fastConfig: Partial<PeerConfig> = {
  heartbeat_interval_ms: 50,
  fd_timeout_min_ms: 300,
  suspect_probe_interval_ms: 300,
  finger_fix_interval_ms: 100,
  join_retry_ms: 100,
  lookup_timeout_ms: 1000,
  request_timeout_ms: 1000,
  read_timeout_ms: 300,
  tx_commit_timeout_ms: 500,
  tx_outcome_timeout_ms: 3000,
  tx_recovery_timeout_ms: 1000,
  tp_inquiry_ms: 1000,
  repair_interval_ms: 100,
  anti_entropy_interval_ms: 1000,
  handover_retry_ms: 300,
};
