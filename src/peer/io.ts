import type { WriteBatch } from '../adapters/storage.ts';
import type { Msg } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';

/** A message to send: the effect as data, handed to the driver. */
export interface Envelope {
  readonly to: PeerId;
  readonly msg: Msg;
}

/** What a client (the API, a workload) asks its peer to do. */
export type ClientOp =
  | { readonly op: 'kv_put'; readonly key: string; readonly value: Json }
  | { readonly op: 'kv_get'; readonly key: string }
  | { readonly op: 'kv_del'; readonly key: string }
  | { readonly op: 'lookup'; readonly target: PeerId }
  /** Linearizable single read (majority quorum). */
  | { readonly op: 'read'; readonly key: string }
  /** A read inside transaction tx (client-chosen id: retries by id are idempotent). */
  | { readonly op: 'tx_read'; readonly tx: string; readonly key: string }
  /** Commit tx with its writes [key, value, exists]. retryKeys: every key of tx, when retrying a commit of unknown outcome. */
  | { readonly op: 'tx_commit'; readonly tx: string; readonly writes: ReadonlyArray<readonly [string, Json, boolean]>; readonly retryKeys?: readonly string[] }
  | { readonly op: 'tx_abandon'; readonly tx: string }
  /** Be told of every change of key (events carry this request's id) until unwatch. */
  | { readonly op: 'watch'; readonly key: string }
  | { readonly op: 'unwatch'; readonly watchId: number }
  /** A snapshot of this peer for consoles and tests. */
  | { readonly op: 'status' }
  /** Diagnostic: each of key's r replicas as its holder has it (version, authority, lock). Read-only. */
  | { readonly op: 'replicas'; readonly key: string }
  /** Route signaling data (WebRTC offer/answer) through the ring to peer `to`. */
  | { readonly op: 'signal'; readonly to: PeerId; readonly data: Json };

export interface ClientRequest {
  readonly reqId: number;
  readonly op: ClientOp;
}

export type ErrorCode = 'timeout' | 'not_joined' | 'invalid' | 'limit' | 'unavailable' | 'stopped' | 'aborted' | 'unknown';

export type ClientReply =
  | { readonly reqId: number; readonly ok: true; readonly value: Json; readonly found?: boolean; readonly ver?: number; readonly hops?: number }
  | { readonly reqId: number; readonly ok: false; readonly code: ErrorCode; readonly message: string; readonly keys?: string[] };

/** A change of a watched key (one per new version seen). */
export interface WatchEvent {
  readonly watchId: number;
  readonly key: string;
  readonly ver: number;
  readonly found: boolean;
  readonly value: Json;
}

/**
 * Everything a step produced, for the driver to carry out. Durability ordering (as in
 * etcd raft's Ready): `persist` must be durable before any of `sendAfterPersist` or
 * `replies` leave the peer; `send` may go at once.
 */
export interface Output {
  readonly send: Envelope[];
  readonly persist: WriteBatch | null;
  readonly sendAfterPersist: Envelope[];
  readonly replies: ClientReply[];
  readonly events: WatchEvent[];
  /** Signaling data that reached us through the ring, for the runtime's connection manager. */
  readonly signals: Array<{ readonly from: PeerId; readonly data: Json }>;
  /** Earliest time the peer wants tick() called, or null. */
  readonly wakeAt: number | null;
}
