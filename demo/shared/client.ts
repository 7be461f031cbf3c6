import type { Db } from '../../src/api/index.ts';

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
}

/** One replica of a key as the console shows it. */
export interface ReplicaInfo {
  slot: number;
  position: number;
  peer: number | null;
  /** null: the runtime cannot tell per replica (only the majority's answer). */
  found: boolean | null;
  version: number | null;
  /** False while the holder has not got authoritative data for that position; null: unknown. */
  authoritative: boolean | null;
  /** Routing hops the lookup of this position took. */
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
