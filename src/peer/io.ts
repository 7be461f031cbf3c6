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
  | { readonly op: 'lookup'; readonly target: PeerId };

export interface ClientRequest {
  readonly reqId: number;
  readonly op: ClientOp;
}

export type ErrorCode = 'timeout' | 'not_joined' | 'invalid' | 'limit' | 'unavailable' | 'stopped';

export type ClientReply =
  | { readonly reqId: number; readonly ok: true; readonly value: Json; readonly found?: boolean; readonly hops?: number }
  | { readonly reqId: number; readonly ok: false; readonly code: ErrorCode; readonly message: string };

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
  /** Earliest time the peer wants tick() called, or null. */
  readonly wakeAt: number | null;
}
