/**
 * Bugs that tests plant on purpose, to prove that the seed runner's checkers catch them.
 * Never set outside tests.
 */
export interface ProtocolMutants {
  /** Quorum reads return after the first replica answers. */
  read_one_replica?: boolean;
  /** A transaction commits when any one replica per key voted prepared. */
  commit_minority?: boolean;
  /** Participants lock without checking that the version read is still current. */
  skip_validation?: boolean;
  /** Replicas without authoritative data answer reads and validate as if they had it. */
  nonauth_answers?: boolean;
}

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

  // ---- replicated store and transactions ----
  /** Replication degree r (symmetric replication); quorums are majorities of r. */
  replication_factor: number;
  /** A quorum read without a majority of answers is re-sent after this, up to read_attempts_max. */
  read_timeout_ms: number;
  read_attempts_max: number;
  /** A read that meets an undecided prepared write waits this long before asking again. */
  read_lock_wait_ms: number;
  /** The TM starts recovery (a higher ballot) when no decision came within this. */
  tx_commit_timeout_ms: number;
  /** The client is told "commit outcome unknown" when no decision came within this. */
  tx_outcome_timeout_ms: number;
  /** An acceptor that saw a vote but no decision for this long takes over as leader. */
  tx_recovery_timeout_ms: number;
  /** An older transaction's prepare waits at most this long for a younger lock holder's decision. */
  tp_lock_wait_ms: number;
  /** A participant holding an undecided vote this long asks the acceptors. */
  tp_inquiry_ms: number;
  /**
   * Decisions an acceptor keeps on disk for late participants, in ms, when not every
   * replica acknowledged applying it (normally the TM tells the acceptors to forget at once).
   */
  tx_decision_retention_ms: number;
  /**
   * Participants acknowledge applied decisions to the TM, and the TM tells acceptors to
   * forget, in batches this often (ms): a few messages per peer pair per period instead
   * of several per transaction.
   */
  tx_gc_batch_ms: number;
  /** The TM waits this long (ms) for every replica's acknowledgement, then leaves the acceptors to their retention. */
  tx_gc_wait_ms: number;
  /** How often a peer retries repairing ranges it holds without authoritative data. */
  repair_interval_ms: number;
  /** Anti-entropy: how often a peer pulls one shifted copy of its range to converge replicas. */
  anti_entropy_interval_ms: number;
  /** Lease of a watch registration at a replica. */
  watch_lease_ms: number;
  /**
   * The subscriber renews its registrations this often. Registrations are soft state: a
   * range that moved to another peer loses them, and the renewal (which carries the newest
   * version the subscriber knows) both re-registers and catches up what it missed.
   */
  watch_renew_ms: number;
  /** Handover chunks are re-sent after this until acknowledged. */
  handover_retry_ms: number;
  /** Planted bugs (tests only). */
  mutants: ProtocolMutants;
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
  replication_factor: 4,
  read_timeout_ms: 1500,
  read_attempts_max: 4,
  read_lock_wait_ms: 20,
  tx_commit_timeout_ms: 2000,
  tx_outcome_timeout_ms: 10_000,
  tx_recovery_timeout_ms: 4000,
  tp_lock_wait_ms: 300,
  tp_inquiry_ms: 5000,
  tx_decision_retention_ms: 3_600_000,
  tx_gc_batch_ms: 50,
  tx_gc_wait_ms: 30_000,
  repair_interval_ms: 1000,
  anti_entropy_interval_ms: 10_000,
  watch_lease_ms: 20_000,
  watch_renew_ms: 3000,
  handover_retry_ms: 2000,
  mutants: {},
};
