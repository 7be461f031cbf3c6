import * as v from 'valibot';
import { handover_items_per_message_max } from './limits.ts';
import { hops, id, ids, json, key, optId, reqId, uint } from './schema.ts';
import { tx_gc_entries_per_message_max, tx_keys_max } from './limits.ts';

/**
 * Every message between peers: one discriminated union (field `t`), one schema per
 * variant. The schema is the single source of truth: the TypeScript types are inferred
 * from it, and the codec validates everything that comes from the wire against it.
 */

// ---- bodies of routed messages (delivered to the peer responsible for `target`) ----
/** A replica or acceptor slot index (r is at most 16). */
const slot = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(15));
const slots = v.pipe(v.array(slot), v.maxLength(16));
const txId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const acceptors = v.pipe(v.array(id), v.minLength(1), v.maxLength(16));
const txKeys = v.pipe(v.array(key), v.minLength(1), v.maxLength(tx_keys_max));
const pending = v.strictObject({
  tx: txId,
  op: v.picklist(['r', 'w']),
  vote: v.picklist(['prepared', 'abort']),
  nv: uint,
  val: json,
  ex: v.boolean(),
  acc: acceptors,
  tm: id,
  keys: txKeys,
  at: v.number(),
  prio: v.pipe(v.number(), v.finite()),
});
const item = v.strictObject({ val: json, ex: v.boolean(), ver: uint, pend: v.pipe(v.array(pending), v.maxLength(64)) });
const range = v.tuple([id, id]);

export const RoutedBody = v.variant('k', [
  /** A new peer asks the responsible peer of its own id to let it in. */
  v.strictObject({ k: v.literal('join') }),
  /** Who is responsible for target? (finger repair and lookups) */
  v.strictObject({ k: v.literal('find'), reqId }),
  /** The plain, unreplicated DHT (issue 2): put/get/delete at the responsible peer. */
  v.strictObject({ k: v.literal('kv_put'), reqId, key, value: json }),
  v.strictObject({ k: v.literal('kv_get'), reqId, key }),
  v.strictObject({ k: v.literal('kv_del'), reqId, key }),

  // ---- replicated store (addressed to the position of replica i of key) ----
  /** Quorum read: one replica's state of key. */
  v.strictObject({ k: v.literal('rep_read'), reqId, key, i: slot }),
  /** Paxos Commit, step 1: the TM asks replica i of key to validate, lock and vote. */
  v.strictObject({
    k: v.literal('tx_prepare'),
    tx: txId,
    key,
    i: slot,
    op: v.picklist(['r', 'w']),
    rv: uint,
    val: json,
    ex: v.boolean(),
    acc: acceptors,
    keys: txKeys,
    /** Priority for lock waits (wait-die): lower is older and may wait for a younger lock holder. */
    prio: v.pipe(v.number(), v.finite()),
  }),
  /** The decision, to every replica of every key (apply and unlock). */
  v.strictObject({ k: v.literal('tx_decide'), tx: txId, key, i: slot, commit: v.boolean() }),
  /** Read repair: a newer committed state of one replica. */
  v.strictObject({ k: v.literal('rep_repair'), key, i: slot, item }),
  /** Range sync (repair and anti-entropy): the items of (lo, hi] the receiver holds. */
  v.strictObject({ k: v.literal('rep_sync'), reqId, lo: id, hi: id }),
  /**
   * WebRTC signaling through the overlay: an offer/answer/candidate for the peer whose id
   * is the target (a member is responsible for its own id). Lets a ring open new
   * connections without the bootstrap server.
   */
  v.strictObject({ k: v.literal('signal'), data: json }),
  /** Subscribe to changes of key at replica i for lease_ms. */
  /** `ver`: the newest version the subscriber knows; a replica holding a newer one tells it at once (a registration that moved with a range, or an event that was lost, is caught up). */
  v.strictObject({ k: v.literal('watch_reg'), key, i: slot, lease: uint, ver: uint }),
  /** Diagnostic (consoles): what replica i of key looks like at its holder. Read-only: no repair, no lock, no effect on data. */
  v.strictObject({ k: v.literal('rep_probe'), reqId, key, i: slot }),
]);
export type RoutedBody = v.InferOutput<typeof RoutedBody>;

const kvItem = v.tuple([key, json]);
const items = v.pipe(v.array(kvItem), v.maxLength(handover_items_per_message_max));
const repItems = v.pipe(v.array(v.tuple([key, slot, item])), v.maxLength(handover_items_per_message_max));
const vote = v.picklist(['prepared', 'abort']);
/** Paxos values of instances (key, replica slot). */
const instanceValues = v.pipe(v.array(v.tuple([key, slot, vote])), v.maxLength(tx_keys_max * 16));
const acceptedValues = v.pipe(v.array(v.tuple([key, slot, uint, vote])), v.maxLength(tx_keys_max * 16));

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
  /** "Consider me as your successor": sent to a peer heard again after a suspicion (ring merge). */
  v.strictObject({ t: v.literal('hint') }),
  /** Leaving peer x to its successor: take over my range; my predecessor was pred. */
  v.strictObject({ t: v.literal('leave'), pred: optId }),
  /** Leaving peer x to its predecessor: your successor is now succs[0]. */
  v.strictObject({ t: v.literal('leave_pred'), succs: ids }),
  /**
   * A peer that is leaving gracefully, to the peers it hears from: do not name me as an
   * acceptor of new transactions (acceptor slots are fixed for a transaction's life and would
   * leave with me).
   */
  v.strictObject({ t: v.literal('retiring') }),

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

  // ---- replicated store ----
  /**
   * A replica's answer to rep_read. status 'unknown': this replica is not authoritative
   * (took over without data, or not responsible). `lockedNv`: version of a prepared write
   * not yet decided (0 if none): a reader must wait for its decision. `range` is the
   * responder's (pred, self], so the reader can send the next request directly.
   */
  v.strictObject({
    t: v.literal('rep_read_reply'),
    reqId,
    i: slot,
    status: v.picklist(['ok', 'unknown']),
    val: json,
    ex: v.boolean(),
    ver: uint,
    lockedNv: uint,
    range: v.nullable(range),
  }),
  /**
   * Handover of replicas in (lo, hi] (join or leave); `done`: last chunk. `state` is how the
   * sender held the range: 'auth' (authoritatively), 'stale' (its own data from before a
   * restart, not yet checked: the lineage goes on at the receiver, still to be checked), or
   * 'none' (it held no trusted data of some of it).
   */
  v.strictObject({ t: v.literal('rep_items'), lo: id, hi: id, items: repItems, done: v.boolean(), state: v.picklist(['auth', 'stale', 'none']), seq: uint }),
  /**
   * Every chunk of the handover of (lo, hi] arrived and what it carried is durable. `state`
   * echoes the handover's: the sender may have handed one range twice (first as 'none', then
   * with the authority it received later), and only the matching one is done.
   */
  v.strictObject({ t: v.literal('rep_items_ack'), lo: id, hi: id, state: v.optional(v.picklist(['auth', 'stale', 'none'])) }),
  /** Answer to rep_sync: items with position in (lo, coveredTo]; status 'ok' when the sender is authoritative for that part. */
  v.strictObject({ t: v.literal('rep_sync_reply'), reqId, status: v.picklist(['ok', 'stored', 'unknown']), items: repItems, coveredTo: id, range: v.nullable(range) }),
  /**
   * Answer to rep_probe: the holder's replica i of key as it is, whether or not it is
   * authoritative. `auth`: how the holder holds that position ('auth'; 'empty': taken over
   * without data; 'stale': its data from before a restart, unchecked; 'other': not
   * responsible). `has`: an entry exists. `locked`: a prepared, undecided transaction holds
   * a lock on it (`lockedNv`: version a prepared write would install, 0 if none; `pend`:
   * undecided transactions on it). `hops`: routing hops the probe took.
   */
  v.strictObject({
    t: v.literal('rep_probe_reply'),
    reqId,
    i: slot,
    auth: v.picklist(['auth', 'empty', 'stale', 'other']),
    has: v.boolean(),
    ex: v.boolean(),
    ver: uint,
    locked: v.boolean(),
    lockedNv: uint,
    pend: uint,
    hops,
    range: v.nullable(range),
  }),
  /** A watched key changed (sent by each replica; the subscriber keeps the highest version). */
  v.strictObject({ t: v.literal('watch_evt'), key, ver: uint, ex: v.boolean(), val: json }),

  // ---- Paxos Commit (acceptors are slots 0..r-1 hosted at acc[i]) ----
  /** A participant's vote for its instance (key, i), proposed at ballot 0 to the acceptor slots hosted by the receiver. */
  v.strictObject({ t: v.literal('tx_vote'), tx: txId, key, i: slot, vote, slots, tm: id, acc: acceptors, keys: txKeys }),
  /** Acceptor slots accepted these instance values at this ballot (phase 2b), to the learners. */
  v.strictObject({ t: v.literal('tx_accepted'), tx: txId, ballot: uint, slots, values: instanceValues }),
  /** Recovery by a new leader: phase 1a for every instance of the transaction. */
  v.strictObject({ t: v.literal('tx_p1a'), tx: txId, ballot: uint, slots, tm: id, acc: acceptors, keys: txKeys }),
  v.strictObject({ t: v.literal('tx_p1b'), tx: txId, ballot: uint, slots, ok: v.boolean(), accepted: acceptedValues }),
  v.strictObject({ t: v.literal('tx_p2a'), tx: txId, ballot: uint, slots, values: instanceValues }),
  /** The outcome, to acceptors and the TM; to participants via tx_decide. */
  v.strictObject({ t: v.literal('tx_decision'), tx: txId, commit: v.boolean() }),
  /** A participant (or anyone) in doubt asks the acceptors for the outcome. */
  v.strictObject({ t: v.literal('tx_inquire'), tx: txId, tm: id, acc: acceptors, keys: txKeys }),
  /**
   * Participants to the TM: these decisions are applied and durable here, as
   * [tx, index of the key in the transaction's key list, replica slot].
   */
  v.strictObject({ t: v.literal('tx_applied'), done: v.pipe(v.array(v.tuple([txId, v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(tx_keys_max - 1)), slot])), v.minLength(1), v.maxLength(tx_gc_entries_per_message_max)) }),
  /** TM to acceptors: every replica applied these transactions' decisions; their state may go. */
  v.strictObject({ t: v.literal('tx_forget'), txs: v.pipe(v.array(txId), v.minLength(1), v.maxLength(tx_gc_entries_per_message_max)) }),
]);
export type Msg = v.InferOutput<typeof Msg>;
export type MsgType = Msg['t'];
export type MsgOf<T extends MsgType> = Extract<Msg, { t: T }>;
