import type { Db, ReplicaAuthority, ReplicasReport } from '../../src/api/index.ts';
import type { LatencyReport } from '../../src/api/latency.ts';

/** What the protocol's `{op:'status'}` answers (src/peer/peer.ts status()). */
export interface PeerStatus {
  id: number;
  ring: string;
  pred: number | null;
  succs: number[];
  fingers: number[];
  suspected: number[];
  items: number;
  emptyRanges: unknown;
  staleRanges: unknown;
  openTransactions: number;
  acceptorTransactions: number;
  counters: Record<string, number>;
  /** Finger table: entry `exponent` points at the peer responsible for `start` = self + 2^exponent. */
  fingerTable?: Array<{ exponent: number; start: number; peer: number }>;
  /** Transactions this peer manages (as TM), oldest first. */
  openTxList?: Array<{ tx: string; state: string; keys: number; ageMs: number }>;
  /** Heartbeat round trips to the peers the failure detector watches. */
  rtt?: Array<{ peer: number; srttMs: number; rttvarMs: number; reasons: string[] }>;
}

/** Traffic with one peer (the runtime's transport, per peer). */
export interface LinkInfo {
  peer: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  connected: boolean;
}

/** The short summary every page shows in its status bar. */
export interface RingSummary {
  /** This tab's peer id, or null while it has none. */
  peerId: number | null;
  /** 'in' once this tab is a member of the ring. */
  state: 'connecting' | 'joining' | 'in' | 'offline';
  /** Peers this tab knows of, itself included. */
  ringSize: number;
  /** Peers with an open connection to this tab. */
  connected: number[];
  /** Bytes this tab's replicas take in storage, when the runtime tells. */
  storageBytes: number | null;
  /** Why the tab is offline, when it is. */
  problem?: string;
  /** p50/p99 of this tab's reads and commits over a sliding window, when the runtime measures them. */
  latency?: LatencyReport;
  /** Messages and bytes per peer, when the runtime counts them. */
  links?: LinkInfo[];
}

/** One replica of a key as the console shows it (the protocol's `replicas` diagnostic). */
export interface ReplicaInfo {
  slot: number;
  position: number;
  /** The holder that answered; null when none answered in time. */
  peer: number | null;
  answered: boolean;
  /** null: no answer. */
  found: boolean | null;
  version: number | null;
  /** False while the holder has not got authoritative data for that position; null: no answer. */
  authoritative: boolean | null;
  /** How the holder holds the position: 'auth', 'empty' (no data yet), 'stale' (unchecked data from before a restart), 'other'. */
  authority: ReplicaAuthority | null;
  /** An undecided transaction holds a lock on this replica. */
  locked: boolean;
  /** Version a prepared write would install (0: none). */
  lockedVersion: number;
  /** Routing hops the probe took. */
  hops: number | null;
}

/** A quorum read with the version the majority agreed on. */
export interface VersionedValue {
  found: boolean;
  value: unknown;
  version: number;
}

/**
 * What a demo page needs from the store: the key/value API, plus what the ring status bar
 * and the console show. `kind` says whether this is the real ring of browser tabs or a
 * sandbox ring simulated inside this tab (used when the browser runtime is missing).
 */
export interface DemoClient {
  readonly db: Db;
  readonly kind: 'ring' | 'sandbox';
  readonly room: string;
  summary(): Promise<RingSummary>;
  /** The peer's protocol status, or null when the runtime does not expose it. */
  peerStatus(): Promise<PeerStatus | null>;
  /** The peer responsible for a position on the ring, or null when unknown. */
  lookup(position: number): Promise<{ peer: number; hops: number } | null>;
  /** Where a key's r replicas are and, where the runtime can tell, which version each holds. */
  replicas(key: string): Promise<ReplicaInfo[] | null>;
  /** A read that also tells the version, or null when the runtime gives no raw access. */
  readVersioned(key: string): Promise<VersionedValue | null>;
  close(): Promise<void>;
}

/** The protocol's replicas report as the console's rows. */
export function replicaInfos(r: ReplicasReport): ReplicaInfo[] {
  return r.slots.map((s) => ({
    slot: s.slot,
    position: s.position,
    peer: s.holder,
    answered: s.answered,
    found: s.found,
    version: s.version,
    authoritative: s.answered ? s.authoritative : null,
    authority: s.authority,
    locked: s.locked,
    lockedVersion: s.lockedVersion,
    hops: s.hops,
  }));
}
