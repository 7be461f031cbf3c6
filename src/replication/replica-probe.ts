import { keyPosition } from '../core/hash.ts';
import type { MsgOf, RoutedBody } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { Ring } from '../ring/ring.ts';
import type { RouteMsg, Router } from '../routing/router.ts';
import { locked, writeLocked } from './item.ts';
import { replicaPositions, shift } from './replicas.ts';
import type { ReplicaStore } from './store.ts';

/** How a holder holds a replica position (see ReplicaStore: authority). */
export type ReplicaAuthority = 'auth' | 'empty' | 'stale' | 'other';

/** One replica slot of a key, as its holder describes it. */
export interface ReplicaSlot {
  /** Replica index i (0 .. r-1). */
  slot: number;
  /** Position of replica i on the circle: h(key) + i * SPACE / r. */
  position: PeerId;
  /** The peer that answered for that position; null when none answered in time. */
  holder: PeerId | null;
  answered: boolean;
  /** 'auth': the holder answers reads for it; 'empty' / 'stale': it holds no trusted data there (answers "unknown"); 'other': not responsible. null: no answer. */
  authority: ReplicaAuthority | null;
  /** Shorthand for authority === 'auth'. */
  authoritative: boolean;
  /** The holder has an entry for this replica (version > 0 or undecided transactions). */
  held: boolean;
  /** The replica's applied version (0: never written); null without an answer. */
  version: number | null;
  /** The key exists at that version (false: never written or deleted). */
  found: boolean | null;
  /** A prepared, undecided transaction holds a lock on this replica. */
  locked: boolean;
  /** Version a prepared write would install (0: none). */
  lockedVersion: number;
  /** Undecided transactions recorded on this replica (votes prepared or abort). */
  pending: number;
  /** Routing hops the probe took to reach the holder. */
  hops: number | null;
}

export interface ReplicasReport {
  key: string;
  position: PeerId;
  /** Slots that answered within the timeout. */
  answered: number;
  slots: ReplicaSlot[];
}

interface Probe {
  key: string;
  positions: PeerId[];
  replies: Map<number, { from: PeerId; msg: MsgOf<'rep_probe_reply'> }>;
  timer: number;
  cb: (r: ReplicasReport) => void;
}

/**
 * The `replicas` diagnostic: ask each of a key's r replica positions what it holds,
 * routed exactly like a quorum read (routeFast to every position). Unlike a quorum read
 * it reports every slot as it is (version, authority, locks), decides nothing, repairs
 * nothing and waits for no lock: it has no effect on data. Answers come back when all r
 * replied, or after read_timeout_ms with the slots that did.
 */
export class ReplicaProbes {
  private readonly pending = new Map<number, Probe>();
  private nextReq = 1;

  constructor(
    private readonly ctx: PeerContext,
    private readonly router: Router,
  ) {}

  query(key: string, cb: (r: ReplicasReport) => void): void {
    const r = this.ctx.config.replication_factor;
    const reqId = this.nextReq++;
    const p: Probe = { key, positions: replicaPositions(keyPosition(key), r), replies: new Map(), timer: 0, cb };
    this.pending.set(reqId, p);
    p.positions.forEach((pos, i) => this.router.routeFast(pos, { k: 'rep_probe', reqId, key, i }));
    p.timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.read_timeout_ms, () => this.finish(reqId));
  }

  onReply(from: PeerId, msg: MsgOf<'rep_probe_reply'>): void {
    this.router.learn(msg.range, from);
    const p = this.pending.get(msg.reqId);
    if (!p || p.replies.has(msg.i) || msg.i >= p.positions.length) return;
    p.replies.set(msg.i, { from, msg });
    if (p.replies.size === p.positions.length) this.finish(msg.reqId);
  }

  private finish(reqId: number): void {
    const p = this.pending.get(reqId);
    if (!p) return;
    this.pending.delete(reqId);
    this.ctx.timers.cancel(p.timer);
    const slots = p.positions.map((position, slot): ReplicaSlot => {
      const a = p.replies.get(slot);
      if (!a) {
        return { slot, position, holder: null, answered: false, authority: null, authoritative: false, held: false, version: null, found: null, locked: false, lockedVersion: 0, pending: 0, hops: null };
      }
      const m = a.msg;
      return {
        slot,
        position,
        holder: a.from,
        answered: true,
        authority: m.auth,
        authoritative: m.auth === 'auth',
        held: m.has,
        version: m.ver,
        found: m.ex,
        locked: m.locked,
        lockedVersion: m.lockedNv,
        pending: m.pend,
        hops: m.hops,
      };
    });
    p.cb({ key: p.key, position: keyPosition(p.key), answered: p.replies.size, slots });
  }
}

/** The holder's side: describe replica body.i of body.key as it is. Reads state only. */
export function answerProbe(ctx: PeerContext, ring: Ring, store: ReplicaStore, body: Extract<RoutedBody, { k: 'rep_probe' }>, msg: RouteMsg): void {
  const r = ctx.config.replication_factor;
  const e = store.get(body.key, body.i);
  const pos = e?.pos ?? shift(keyPosition(body.key), body.i, r);
  const auth: ReplicaAuthority = !ring.isResponsible(pos) ? 'other' : store.empty.contains(pos) ? 'empty' : store.stale.contains(pos) ? 'stale' : 'auth';
  const it = e?.item;
  const wl = it ? writeLocked(it) : undefined;
  // Like every replica answer, it describes durable state only.
  ctx.sendAfterPersist(msg.origin, {
    t: 'rep_probe_reply',
    reqId: body.reqId,
    i: body.i,
    auth,
    has: it !== undefined,
    ex: it?.ex ?? false,
    ver: it?.ver ?? 0,
    locked: it ? locked(it) : false,
    lockedNv: wl && it && wl.nv > it.ver ? wl.nv : 0,
    pend: it?.pend.length ?? 0,
    hops: msg.hops,
    range: ring.pred === null ? null : [ring.pred, ctx.self],
  });
}

/** The report as the JSON a client reply carries. */
export function reportJson(r: ReplicasReport): Json {
  return r as unknown as Json;
}
