import * as v from 'valibot';
import { handover_items_per_message_max } from './limits.ts';
import { hops, id, ids, json, key, optId, reqId, uint } from './schema.ts';

/**
 * Every message between peers: one discriminated union (field `t`), one schema per
 * variant. The schema is the single source of truth: the TypeScript types are inferred
 * from it, and the codec validates everything that comes from the wire against it.
 */

// ---- bodies of routed messages (delivered to the peer responsible for `target`) ----
export const RoutedBody = v.variant('k', [
  /** A new peer asks the responsible peer of its own id to let it in. */
  v.strictObject({ k: v.literal('join') }),
  /** Who is responsible for target? (finger repair and lookups) */
  v.strictObject({ k: v.literal('find'), reqId }),
  /** The plain, unreplicated DHT (issue 2): put/get/delete at the responsible peer. */
  v.strictObject({ k: v.literal('kv_put'), reqId, key, value: json }),
  v.strictObject({ k: v.literal('kv_get'), reqId, key }),
  v.strictObject({ k: v.literal('kv_del'), reqId, key }),
]);
export type RoutedBody = v.InferOutput<typeof RoutedBody>;

const item = v.tuple([key, json]);
const items = v.pipe(v.array(item), v.maxLength(handover_items_per_message_max));

export const Msg = v.variant('t', [
  // ---- failure detector and stabilization ----
  /** Heartbeat. `seq` lets the sender measure the round trip for its adaptive timeout. */
  v.strictObject({ t: v.literal('ping'), seq: uint }),
  /**
   * Reply to ping; carries what the sender needs to stabilize (our predecessor and
   * successors) and whether we are a member of the ring at all (a restarted peer that is
   * joining again is alive but not a member).
   */
  v.strictObject({ t: v.literal('pong'), seq: uint, member: v.boolean(), pred: optId, succs: ids }),

  // ---- relaxed ring ----
  /** r to joiner q: you are in; your predecessor is pred (null when r did not know one). */
  v.strictObject({ t: v.literal('join_ok'), pred: optId, succs: ids }),
  /** r to joiner q: not now (r is not responsible for q's id, or is busy); try again later. */
  v.strictObject({ t: v.literal('join_retry') }),
  /** Joiner q to its predecessor p: I am your new successor (second step of the join). */
  v.strictObject({ t: v.literal('new_succ'), succs: ids }),
  /** p to its successor s: I believe I am your predecessor (stabilization and crash recovery). */
  v.strictObject({ t: v.literal('notify') }),
  /** Leaving peer x to its successor: take over my range; my predecessor was pred. */
  v.strictObject({ t: v.literal('leave'), pred: optId }),
  /** Leaving peer x to its predecessor: your successor is now succs[0]. */
  v.strictObject({ t: v.literal('leave_pred'), succs: ids }),

  // ---- routing ----
  /**
   * A message for the peer responsible for `target`. `last` is set by a peer that believes
   * the receiver is responsible; a receiver that is not (a joiner or a branch sits behind
   * it) passes the message backwards to its predecessor.
   */
  v.strictObject({ t: v.literal('route'), target: id, origin: id, hops, last: v.boolean(), body: RoutedBody }),
  /** Answer to `find`: `peer` is responsible for `target`. */
  v.strictObject({ t: v.literal('found'), reqId, target: id, peer: id, hops }),

  // ---- plain DHT (issue 2) ----
  v.strictObject({ t: v.literal('kv_reply'), reqId, found: v.boolean(), value: json }),
  /** Handover of items from a peer that gives up part of its range. */
  v.strictObject({ t: v.literal('kv_items'), items }),
]);
export type Msg = v.InferOutput<typeof Msg>;
export type MsgType = Msg['t'];
export type MsgOf<T extends MsgType> = Extract<Msg, { t: T }>;
