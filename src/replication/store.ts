import { keyPosition } from '../core/hash.ts';
import { dist, inOpenClosed } from '../core/id.ts';
import { handover_items_per_message_max } from '../core/limits.ts';
import type { MsgOf, RoutedBody } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { Ring } from '../ring/ring.ts';
import type { RouteMsg, Router } from '../routing/router.ts';
import { decide, emptyItem, type Item, mayWait, mergeItems, type Pending, validate, writeLocked } from './item.ts';
import { PositionIndex } from './position-index.ts';
import { RangeSet, type Interval } from './ranges.ts';
import { majority, repairQuorum, shift } from './replicas.ts';

type Body<K extends RoutedBody['k']> = Extract<RoutedBody, { k: K }>;

interface Entry {
  key: string;
  /** Replica slot. */
  i: number;
  /** Position of this replica on the circle. */
  pos: PeerId;
  item: Item;
}

const ITEM_PREFIX = 'item/';
/** The highest position: a linear interval (-1, b] of a RangeSet is the arc (TOP, b]. */
const TOP = 2 ** 52 - 1;

type State = 'auth' | 'stale' | 'none';
type Wire = [string, number, Item];

interface Handover {
  key: string;
  to: PeerId;
  lo: PeerId;
  hi: PeerId;
  state: State;
  chunks: Array<MsgOf<'rep_items'>>;
  timer: number;
  attempts: number;
}

interface Grant {
  lo: PeerId;
  hi: PeerId;
  set: RangeSet;
  /** Expiry; Infinity while we are still joining (see applyGrants). */
  until: number;
  receivedAt: number;
  stale: boolean;
  items: Wire[] | null;
}

interface Incoming {
  /** Chunk seq -> its items; the chunk marked done says how many there are. */
  chunks: Map<number, Wire[]>;
  last: number;
  /** Every chunk arrived (later copies only get the acknowledgement again). */
  complete: boolean;
}

const META_AUTH = 'meta/auth';

/** Items per sync answer: bounded like a handover chunk. */
const sync_items_per_reply_max = handover_items_per_message_max;

interface RepairRound {
  reqs: Map<number, { d: number; lo: PeerId; hi: PeerId }>;
  /** Per shift d (1..r-1): the part of our target range that a trustworthy replica answered for. */
  covered: RangeSet[];
  target: RangeSet;
  startedAt: number;
}

/**
 * The replicas one peer holds, as a transaction participant (TP) and as a replica.
 *
 * Authority: a replica answers reads and validates only for positions it holds
 * authoritatively. Taking over a range without its data (a crashed predecessor), a handover
 * not yet complete, or a restart from storage makes positions non-authoritative: "empty"
 * (no data) or "stale" (data from before a restart). Such a replica answers "unknown",
 * never "not found" or an old version, until a repair has merged the state of enough other
 * replicas (see settleRepair for how many, and why).
 */
export class ReplicaStore {
  /** Every (key, slot) we hold, by id and (for range requests) by position. */
  readonly entries = new PositionIndex<Entry>();
  /** Responsible positions without data. */
  readonly empty = new RangeSet();
  /** Responsible positions with data from before a restart, not yet checked against others. */
  readonly stale = new RangeSet();
  private nextReq = 1;
  private repair: RepairRound | null = null;
  private antiEntropyShift = 1;
  /** key -> subscriber -> lease expiry. */
  private readonly watchers = new Map<string, Map<PeerId, number>>();
  /** Handovers waiting for their acknowledgement: "lo:hi:state" -> chunks. */
  private readonly handovers = new Map<string, Handover>();
  private readonly r: number;
  /**
   * Handovers we received completely from an authoritative sender, for ranges that may
   * become ours a moment later (a leave message can overtake its items). They expire, so an
   * old grant never makes stale data authoritative. `set` is what is left of (lo, hi]: a
   * part becomes ours (then our own sets carry it) or is handed on, never both, so one
   * lineage never has two authoritative holders. `items`: what the sender gave, kept when
   * the grant may have to be passed on (see forwardGrants).
   */
  private grants: Grant[] = [];
  /** Handovers being received, by "from:lo:hi:state": the chunks seen so far (a grant needs every one). */
  private readonly incoming = new Map<string, Incoming>();
  static readonly incoming_handovers_max = 64;
  /** Grants kept at most (a peer that stays joining for long must not pile them up). */
  static readonly grants_max = 64;

  /** How long a grant waits for its range to become ours (ms): two handover retries. */
  private static grantWindow(handover_retry_ms: number): number {
    return 2 * handover_retry_ms;
  }
  /** Whether we started from stored data (a restart) rather than empty. */
  restored = false;
  /**
   * Outcomes we applied recently: a late duplicate prepare, or another replica's pending
   * entry merged by a sync, must not bring a decided transaction back as undecided.
   */
  private readonly decided = new Map<string, boolean>();
  static readonly decided_remembered_max = 10_000;

  constructor(
    private readonly ctx: PeerContext,
    private readonly ring: Ring,
    private readonly router: Router,
  ) {
    this.r = ctx.config.replication_factor;
    // Until a handover, a repair or the creation of a new ring says otherwise, we hold nothing.
    this.empty.add(0, 0);
  }

  // ------------------------------------------------------------------ state

  private static id(key: string, i: number): string {
    return `${i}/${key}`;
  }

  get(key: string, i: number): Entry | undefined {
    return this.entries.get(ReplicaStore.id(key, i));
  }

  private getOrCreate(key: string, i: number): Entry {
    const id = ReplicaStore.id(key, i);
    let e = this.entries.get(id);
    if (!e) {
      e = { key, i, pos: shift(keyPosition(key), i, this.r), item: emptyItem() };
      this.entries.set(id, e);
    }
    return e;
  }

  private save(e: Entry): void {
    const id = ReplicaStore.id(e.key, e.i);
    if (e.item.pend.length > 0) this.withPending.add(e);
    else this.withPending.delete(e);
    if (e.item.ver === 0 && e.item.pend.length === 0) {
      this.entries.delete(id);
      this.ctx.unpersist(ITEM_PREFIX + id);
    } else this.ctx.persist(ITEM_PREFIX + id, e.item as unknown as Json);
  }

  /**
   * Entries holding undecided transactions, kept by save(): a decision learned from an
   * acceptor, and the periodic in-doubt inquiry, look at these instead of every entry (a
   * scan per decision was most of a peer's CPU once it held tens of thousands of items).
   */
  private readonly withPending = new Set<Entry>();

  private saveAuth(): void {
    const self = this.ctx.self;
    this.ctx.persist(META_AUTH, {
      pred: this.ring.pred,
      self,
      empty: this.empty.intervals(),
      stale: this.stale.intervals(),
    } as unknown as Json);
  }

  /** Is position pos ours to answer for, with data we trust? */
  authoritative(pos: PeerId): boolean {
    if (this.ctx.config.mutants.nonauth_answers) return this.ring.isResponsible(pos);
    return this.ring.isResponsible(pos) && !this.empty.contains(pos) && !this.stale.contains(pos);
  }

  /**
   * Restart from storage. Data is trusted only where we held it authoritatively before, and
   * even there only as "stale" until compared with other replicas: we may have missed
   * commits while down. Everything else we may become responsible for starts empty.
   */
  restore(records: ReadonlyArray<readonly [string, Json]>): void {
    type Saved = { pred: PeerId | null; self: PeerId; empty: Interval[]; stale: Interval[] };
    let prev = null as Saved | null;
    for (const [k, v] of records) {
      if (k.startsWith(ITEM_PREFIX)) {
        const rest = k.slice(ITEM_PREFIX.length);
        const slash = rest.indexOf('/');
        const i = Number(rest.slice(0, slash));
        const key = rest.slice(slash + 1);
        const e: Entry = { key, i, pos: shift(keyPosition(key), i, this.r), item: v as unknown as Item };
        this.entries.set(rest, e);
        if (e.item.pend.length > 0) this.withPending.add(e);
      } else if (k === META_AUTH) prev = v as unknown as Saved;
    }
    this.restored = true;
    this.empty.add(0, 0);
    if (prev && prev.pred !== null) {
      const held = new RangeSet();
      held.add(prev.pred, prev.self);
      for (const [a, b] of prev.empty) held.remove(a, b);
      for (const [a, b] of prev.stale) held.remove(a, b);
      for (const [a, b] of held.intervals()) {
        this.empty.remove(a, b);
        this.stale.add(a, b);
      }
      for (const [a, b] of prev.stale) {
        this.empty.remove(a, b);
        this.stale.add(a, b);
      }
    }
  }

  // ------------------------------------------------------------------ responsibility moves

  /**
   * We created a ring. A brand new peer holds a brand new (empty) store: everything is ours
   * and empty is the truth. A restarted peer keeps its stale and empty ranges: its data
   * comes back only as other replica holders come back.
   */
  createdRing(): void {
    if (!this.restored) {
      this.empty.remove(0, 0);
      this.stale.remove(0, 0);
    }
    this.saveAuth();
  }

  /**
   * A restarted peer whose range is now smaller than before (others joined meanwhile) still
   * holds its old lineage of the part it lost, behind its new predecessor. Hand that part to
   * the predecessor as 'stale': there the lineage goes on instead of being rebuilt from a
   * majority of other replicas (which may not be there yet after every tab closed).
   */
  handOffLeftovers(): void {
    const pred = this.ring.pred;
    const self = this.ctx.self;
    if (!this.restored || pred === null || pred === self) return;
    const outside = new RangeSet(this.stale.intervals());
    outside.remove(pred, self);
    // As arcs: a part that runs through zero is one piece. (Taken as the two intervals it is
    // kept as, the one before zero did not end at our predecessor and was never handed on:
    // its lineage ended here, and keys with two slots in it stayed unavailable.)
    for (const [lo, b] of outside.arcs()) {
      // Only the part that ends at our predecessor belongs to it.
      if (b !== pred) continue;
      this.ctx.counters.add('handover.leftover');
      this.handOver(lo, b, pred);
      this.stale.remove(lo, b);
    }
  }

  /** Our predecessor changed: a range we gained without data is empty until handed over or repaired. */
  predChanged(oldPred: PeerId | null, newPred: PeerId | null): void {
    const self = this.ctx.self;
    if (newPred !== null && oldPred !== null && newPred !== oldPred && oldPred !== self) {
      // Gained (newPred, oldPred] when newPred lies before oldPred.
      if (newPred === self || inOpenClosed(oldPred, newPred, self)) {
        const lo = newPred === self ? self : newPred;
        this.empty.add(lo, oldPred);
        this.stale.remove(lo, oldPred);
      }
    }
    this.applyGrants();
    this.saveAuth();
  }

  private applyGrants(): void {
    const now = this.ctx.now();
    const window = ReplicaStore.grantWindow(this.ctx.config.handover_retry_ms);
    if (this.ring.status === 'in') {
      for (const g of this.grants) {
        if (g.until !== Infinity) continue;
        // Received while we were joining: the sender gave the lineage up then, and nobody
        // else held it while our join took its time (a lost join_ok, a stalled tab); it
        // is ours from now. Past the usual window it may have missed commits made through
        // the other replicas meanwhile, so it counts as stale: checked against one other
        // replica before it answers. (Letting it lapse lost the lineage: for keys with two
        // slots in the range, for good.)
        g.until = now + window;
        if (now - g.receivedAt > window) g.stale = true;
      }
    }
    this.grants = this.grants.filter((g) => g.until > now && !g.set.empty);
    for (const g of this.grants) {
      for (const [a, b] of g.set.intervals()) {
        for (const [x, y] of this.mine(a < 0 ? TOP : a, b).intervals()) {
          const lo = x < 0 ? TOP : x;
          if (g.stale) {
            // The sender's unchecked lineage continues here: no better than stale, but no longer empty.
            const part = new RangeSet(this.empty.intervals());
            part.intersect(lo, y);
            for (const [c, d] of part.intervals()) {
              this.empty.remove(c < 0 ? TOP : c, d);
              this.stale.add(c < 0 ? TOP : c, d);
            }
          } else {
            this.empty.remove(lo, y);
            this.stale.remove(lo, y);
          }
          // Ours now: from here on our own sets (and handovers) carry this part.
          g.set.remove(lo, y);
        }
      }
    }
    this.forwardGrants();
  }

  /**
   * Authority follows responsibility. The sender gave us (lo, hi] when that was our range
   * (we joined in front of it, or our range reached back to lo); if a peer joined behind us
   * before the items arrived, we already handed its part on as "none" (we held nothing
   * then), and without this the lineage of that part would end here: the new peer would
   * have to rebuild it from a majority of the other replicas. That is slower, and impossible
   * where two replicas of a key were handed on that way at once (concurrent joins; or a peer
   * whose range exceeds a quarter holds two slots of some keys): found by e2e/partition.spec.ts,
   * replayed in test/partition-liveness.test.ts. So what is left of such a grant, behind
   * our predecessor, goes on to it, with the sender's state and items; it does the same if
   * the range is not all its own either. Only grants that ended at us (given by the
   * successor side) are passed on, with the items the sender gave.
   */
  private forwardGrants(): void {
    const pred = this.ring.pred;
    const self = this.ctx.self;
    if (this.ring.status !== 'in' || pred === null || pred === self) return;
    for (const g of this.grants) {
      if (g.items === null || g.set.empty) continue;
      for (const [lo, b] of g.set.arcs()) {
        const items: Wire[] = [];
        for (const [key, i, item] of g.items) {
          if (!inOpenClosed(shift(keyPosition(key), i, this.r), lo, b)) continue;
          // Anything newer we learned of since (a decision, a merge) goes along.
          const e = this.get(key, i);
          items.push([key, i, e ? mergeItems(e.item, item) : item]);
        }
        this.ctx.counters.add('handover.forwarded');
        this.send(lo, b, pred, g.stale ? 'stale' : 'auth', items);
        g.set.remove(lo, b);
      }
    }
  }

  /**
   * We gave (from, to] to a joiner (or everything to our successor when leaving): hand the
   * replicas over. A range that is partly empty or stale goes as pieces of one state each:
   * sent whole it would carry its weakest state, and the receiver would lose authority over
   * the part we held authoritatively (a peer left alone after a crash, with part of the
   * circle empty, then made a joiner non-authoritative for data only it had).
   */
  handOver(lo: PeerId, hi: PeerId, to: PeerId): void {
    const points = this.boundaries(lo, hi);
    if (points.length === 0) return this.handOverUniform(lo, hi, to);
    points.push(hi);
    let from = lo;
    let prevState: string | null = null;
    let pieceLo = lo;
    const pieces: Array<[PeerId, PeerId]> = [];
    for (const x of points) {
      // (from, x] is of one state: test its end.
      const state = this.empty.contains(x) ? 'none' : this.stale.contains(x) ? 'stale' : 'auth';
      if (prevState !== null && state !== prevState) {
        pieces.push([pieceLo, from]);
        pieceLo = from;
      }
      prevState = state;
      from = x;
    }
    pieces.push([pieceLo, hi]);
    for (const [a, b] of pieces) this.handOverUniform(a, b, to);
  }

  /** Where the state (empty, stale, authoritative) may change inside (lo, hi), clockwise from lo. */
  private boundaries(lo: PeerId, hi: PeerId): PeerId[] {
    const cuts = new Set<PeerId>();
    for (const set of [this.empty, this.stale]) {
      for (const [a, b] of set.intervals()) {
        for (const x of [a < 0 ? 2 ** 52 - 1 : a, b]) if (x !== lo && x !== hi && inOpenClosed(x, lo, hi)) cuts.add(x);
      }
    }
    return [...cuts].sort((x, y) => dist(lo, x) - dist(lo, y));
  }

  private handOverUniform(lo: PeerId, hi: PeerId, to: PeerId): void {
    const state: State = this.empty.intersects(lo, hi) ? 'none' : this.stale.intersects(lo, hi) ? 'stale' : 'auth';
    const picked = this.entries.inArc(lo, hi);
    this.send(lo, hi, to, state, picked.map((e) => [e.key, e.i, e.item] as Wire));
    this.empty.remove(lo, hi);
    this.stale.remove(lo, hi);
    // Given away: no grant may make it ours again.
    for (const g of this.grants) g.set.remove(lo, hi);
  }

  /** Hand the items of (lo, hi] to `to` as held in `state`: in bounded chunks, re-sent until acknowledged. */
  private send(lo: PeerId, hi: PeerId, to: PeerId, state: State, items: Wire[]): void {
    const chunks: Array<MsgOf<'rep_items'>> = [];
    for (let k = 0; k === 0 || k < items.length; k += handover_items_per_message_max) {
      const part = items.slice(k, k + handover_items_per_message_max);
      chunks.push({ t: 'rep_items', lo, hi, items: part, done: k + handover_items_per_message_max >= items.length, state, seq: chunks.length });
    }
    const key = `${lo}:${hi}:${state}`;
    const old = this.handovers.get(key);
    if (old) this.ctx.timers.cancel(old.timer);
    const ho: Handover = { key, to, lo, hi, state, chunks, timer: 0, attempts: 0 };
    this.handovers.set(key, ho);
    this.sendHandover(ho);
  }

  /** Send a handover's chunks, and again every handover_retry_ms until acknowledged (bounded). */
  private sendHandover(ho: Handover): void {
    ho.attempts++;
    for (const c of ho.chunks) this.ctx.send(ho.to, c);
    ho.timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.handover_retry_ms, () => {
      if (this.handovers.get(ho.key) !== ho) return;
      if (ho.attempts >= ReplicaStore.handover_attempts_max) {
        // The receiver is gone: it will repair from the other replicas instead.
        this.handovers.delete(ho.key);
        this.ctx.counters.add('handover.abandoned');
        return;
      }
      this.sendHandover(ho);
    });
  }

  static readonly handover_attempts_max = 8;

  /** Handovers not yet acknowledged (a leaving peer waits for them). */
  handoversPending(): number {
    return this.handovers.size;
  }

  /** After a leave cleared every timer: keep re-sending what is not acknowledged yet. */
  resumeHandovers(): void {
    for (const ho of this.handovers.values()) {
      ho.attempts = Math.max(0, ho.attempts - 1);
      this.sendHandover(ho);
    }
  }

  onItems(from: PeerId, msg: MsgOf<'rep_items'>): void {
    // Accept items of a range we are taking over, even when the message that gives us the
    // range (join_ok, leave) has not arrived yet: it comes from our predecessor or successor.
    const expected = this.ring.status !== 'in' || from === this.ring.pred || from === this.ring.succ;
    for (const [key, i, item] of msg.items) {
      const e = this.getOrCreate(key, i);
      if (!expected && !this.ring.isResponsible(e.pos)) {
        if (e.item.ver === 0 && e.item.pend.length === 0) this.entries.delete(ReplicaStore.id(key, i));
        continue;
      }
      e.item = mergeItems(e.item, item as Item);
      this.resolveKnown(e);
      this.save(e);
    }
    // The range is handed over once every chunk has arrived (chunks may come out of order,
    // and the last one must not grant authority over items still on their way).
    const id = `${from}:${msg.lo}:${msg.hi}:${msg.state}`;
    let inc = this.incoming.get(id);
    if (!inc || inc.complete) {
      // (A chunk after a complete handover starts a new copy of it: the sender re-sends until
      // it hears our acknowledgement, and may hand the same range again later.)
      inc = { chunks: new Map(), last: -1, complete: false };
      this.incoming.set(id, inc);
      if (this.incoming.size > ReplicaStore.incoming_handovers_max) this.incoming.delete(this.incoming.keys().next().value as string);
    }
    inc.chunks.set(msg.seq, msg.items as Wire[]);
    if (msg.done) inc.last = msg.seq;
    // (Chunks 0..last: a chunk beyond the last one is left from an earlier copy that was cut
    // differently, and does not count.)
    let whole = inc.last >= 0;
    for (let k = 0; whole && k <= inc.last; k++) whole = inc.chunks.has(k);
    if (whole) {
      inc.complete = true;
      if (msg.state !== 'none' && msg.lo !== msg.hi) {
        // Given to us as the range in front of the sender (it ends at us): if part of it
        // turns out to be behind our predecessor, it is passed on (forwardGrants).
        const onward = msg.hi === this.ctx.self;
        const items: Wire[] = [];
        for (let k = 0; onward && k <= inc.last; k++) items.push(...inc.chunks.get(k)!);
        const set = new RangeSet();
        set.add(msg.lo, msg.hi);
        const now = this.ctx.now();
        const until = this.ring.status === 'in' ? now + ReplicaStore.grantWindow(this.ctx.config.handover_retry_ms) : Infinity;
        this.grants.push({ lo: msg.lo, hi: msg.hi, set, until, receivedAt: now, stale: msg.state === 'stale', items: onward ? items : null });
        if (this.grants.length > ReplicaStore.grants_max) this.grants.shift();
        this.applyGrants();
      }
      inc.chunks = new Map();
      this.saveAuth();
      // Acknowledge the whole handover once what we merged is durable; the sender then drops its copies.
      this.ctx.sendAfterPersist(from, { t: 'rep_items_ack', lo: msg.lo, hi: msg.hi, state: msg.state });
    }
  }

  onItemsAck(msg: MsgOf<'rep_items_ack'>): void {
    const acked = [...this.handovers.values()].filter((h) => h.lo === msg.lo && h.hi === msg.hi && (msg.state === undefined || h.state === msg.state));
    if (acked.length === 0) return;
    for (const ho of acked) {
      this.handovers.delete(ho.key);
      this.ctx.timers.cancel(ho.timer);
    }
    for (const e of this.entries.inArc(msg.lo, msg.hi)) {
      if (!this.ring.isResponsible(e.pos)) {
        this.entries.delete(ReplicaStore.id(e.key, e.i));
        this.withPending.delete(e);
        this.ctx.unpersist(ITEM_PREFIX + ReplicaStore.id(e.key, e.i));
      }
    }
  }

  /** The part of (lo, hi] we are responsible for now. */
  private mine(lo: PeerId, hi: PeerId): RangeSet {
    const s = new RangeSet();
    s.add(lo, hi);
    const pred = this.ring.pred;
    if (pred === null) return new RangeSet();
    s.intersect(pred, this.ctx.self);
    return s;
  }

  // ------------------------------------------------------------------ participant

  onRead(body: Body<'rep_read'>, msg: RouteMsg): void {
    const e = this.get(body.key, body.i);
    const pos = e?.pos ?? shift(keyPosition(body.key), body.i, this.r);
    const range = this.ring.pred === null ? null : ([this.ring.pred, this.ctx.self] as [PeerId, PeerId]);
    if (!this.authoritative(pos)) {
      this.reply(msg.origin, { t: 'rep_read_reply', reqId: body.reqId, i: body.i, status: 'unknown', val: null, ex: false, ver: 0, lockedNv: 0, range });
      return;
    }
    const it = e?.item ?? emptyItem();
    const wl = writeLocked(it);
    this.reply(msg.origin, {
      t: 'rep_read_reply',
      reqId: body.reqId,
      i: body.i,
      status: 'ok',
      val: it.val,
      ex: it.ex,
      ver: it.ver,
      lockedNv: wl && wl.nv > it.ver ? wl.nv : 0,
      range,
    });
  }

  /** Paxos Commit step 2: validate, lock, persist, then vote to the acceptors. */
  onPrepare(body: Body<'tx_prepare'>, msg: RouteMsg, waited = false): void {
    if (this.decided.has(body.tx)) {
      this.ctx.counters.add('tp.prepare_after_decision');
      return;
    }
    const e = this.getOrCreate(body.key, body.i);
    let p = e.item.pend.find((x) => x.tx === body.tx);
    if (!p) {
      const rv = this.ctx.config.mutants.skip_validation ? e.item.ver : body.rv;
      const ok = this.authoritative(e.pos) && validate(e.item, body.op, rv, body.tx);
      if (!ok && !waited && this.authoritative(e.pos) && mayWait(e.item, body.op, rv, body.tx, body.prio) && this.wait(e, body, msg)) return;
      p = {
        tx: body.tx,
        op: body.op,
        vote: ok ? 'prepared' : 'abort',
        nv: body.rv + 1,
        val: body.val,
        ex: body.ex,
        acc: body.acc,
        tm: msg.origin,
        keys: body.keys,
        at: this.ctx.now(),
        prio: body.prio,
      };
      e.item.pend.push(p);
      this.save(e);
      this.ctx.counters.add(ok ? 'tp.prepared' : 'tp.abort_vote');
    }
    // A repeated prepare (TM retry) gets the same vote again: votes never change.
    this.sendVote(e, p);
  }

  /**
   * Park a prepare that conflicts only with younger lock holders until their decision
   * (or tp_lock_wait_ms): instead of both votes splitting the replicas (and both
   * transactions aborting), the older one gets the lock once the younger is decided.
   */
  private wait(e: Entry, body: Body<'tx_prepare'>, msg: RouteMsg): boolean {
    const id = ReplicaStore.id(e.key, e.i);
    const list = this.waiting.get(id) ?? [];
    if (list.length >= ReplicaStore.waiting_prepares_per_item_max) return false;
    const w = { body, msg, timer: 0 };
    w.timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.tp_lock_wait_ms, () => this.release(id, w));
    list.push(w);
    this.waiting.set(id, list);
    this.ctx.counters.add('tp.lock_wait');
    return true;
  }

  /** Give a parked prepare its vote now (a lock went away, or it waited long enough). */
  private release(id: string, w: { body: Body<'tx_prepare'>; msg: RouteMsg; timer: number }): void {
    const list = this.waiting.get(id);
    if (!list) return;
    const k = list.indexOf(w);
    if (k < 0) return;
    list.splice(k, 1);
    if (list.length === 0) this.waiting.delete(id);
    this.ctx.timers.cancel(w.timer);
    this.onPrepare(w.body, w.msg, true);
  }

  private releaseWaiting(e: Entry): void {
    const id = ReplicaStore.id(e.key, e.i);
    const list = this.waiting.get(id);
    if (!list) return;
    // Oldest first: it is the one that may now take the lock.
    for (const w of [...list].sort((a, b) => a.body.prio - b.body.prio)) {
      if (!this.waiting.get(id)?.includes(w)) continue;
      const stillBlocked = mayWait(e.item, w.body.op, w.body.rv, w.body.tx, w.body.prio);
      if (!stillBlocked) this.release(id, w);
    }
  }

  private readonly waiting = new Map<string, Array<{ body: Body<'tx_prepare'>; msg: RouteMsg; timer: number }>>();
  static readonly waiting_prepares_per_item_max = 64;

  private sendVote(e: Entry, p: Pending): void {
    const byPeer = new Map<PeerId, number[]>();
    p.acc.forEach((a, slot) => {
      const l = byPeer.get(a);
      if (l) l.push(slot);
      else byPeer.set(a, [slot]);
    });
    for (const [a, slots] of byPeer) {
      this.ctx.sendAfterPersist(a, { t: 'tx_vote', tx: p.tx, key: e.key, i: e.i, vote: p.vote, slots, tm: p.tm, acc: p.acc, keys: p.keys });
    }
  }

  onDecide(body: Body<'tx_decide'>): void {
    this.remember(body.tx, body.commit);
    const e = this.get(body.key, body.i);
    if (!e) return;
    this.applyDecision(e, body.tx, body.commit);
  }

  /** A decision learned for tx from an acceptor (answer to an inquiry): apply to every replica we hold of it. */
  onDecision(tx: string, commit: boolean): void {
    this.remember(tx, commit);
    for (const e of [...this.withPending]) if (e.item.pend.some((p) => p.tx === tx)) this.applyDecision(e, tx, commit);
  }

  private remember(tx: string, commit: boolean): void {
    this.decided.set(tx, commit);
    if (this.decided.size > ReplicaStore.decided_remembered_max) this.decided.delete(this.decided.keys().next().value as string);
  }

  /** Resolve pending entries whose outcome we already know. */
  private resolveKnown(e: Entry): void {
    for (const p of [...e.item.pend]) {
      const d = this.decided.get(p.tx);
      if (d !== undefined) decide(e.item, p.tx, d);
    }
  }

  private applyDecision(e: Entry, tx: string, commit: boolean): void {
    this.remember(tx, commit);
    const p = e.item.pend.find((x) => x.tx === tx);
    const before = e.item.ver;
    if (!decide(e.item, tx, commit)) return;
    this.save(e);
    if (e.item.ver !== before) this.notifyWatchers(e);
    this.releaseWaiting(e);
    const keyIndex = p ? p.keys.indexOf(e.key) : -1;
    if (p && keyIndex >= 0) this.onApplied(p.tm, tx, keyIndex, e.i);
  }

  /**
   * A decision this replica voted on is applied (and persisted in this step): the TM's
   * garbage collection of acceptor state counts these (set by src/tx/transactions.ts).
   */
  onApplied: (tm: PeerId, tx: string, keyIndex: number, slot: number) => void = () => {};

  onRepair(body: Body<'rep_repair'>): void {
    const e = this.getOrCreate(body.key, body.i);
    if (!this.ring.isResponsible(e.pos)) return;
    const merged = mergeItems(e.item, body.item as Item);
    this.resolveKnown({ ...e, item: merged });
    if (merged.ver === e.item.ver && merged.pend.length === e.item.pend.length) return;
    const before = e.item.ver;
    e.item = merged;
    this.save(e);
    if (e.item.ver !== before) this.notifyWatchers(e);
  }

  /** Participants with votes older than tp_inquiry_ms ask the acceptors for the outcome. */
  inquireInDoubt(): void {
    const now = this.ctx.now();
    const asked = new Set<string>();
    for (const e of this.withPending) {
      for (const p of e.item.pend) {
        if (now - p.at < this.ctx.config.tp_inquiry_ms || asked.has(p.tx)) continue;
        asked.add(p.tx);
        this.ctx.counters.add('tp.inquiry');
        for (const a of new Set(p.acc)) this.ctx.send(a, { t: 'tx_inquire', tx: p.tx, tm: p.tm, acc: p.acc, keys: p.keys });
      }
    }
  }

  // ------------------------------------------------------------------ watches

  onWatchReg(body: Body<'watch_reg'>, msg: RouteMsg): void {
    let subs = this.watchers.get(body.key);
    if (!subs) {
      subs = new Map();
      this.watchers.set(body.key, subs);
    }
    subs.set(msg.origin, this.ctx.now() + Math.min(body.lease, 5 * this.ctx.config.watch_lease_ms));
    const e = this.get(body.key, body.i);
    if (e && this.authoritative(e.pos) && e.item.ver > body.ver) {
      this.ctx.sendAfterPersist(msg.origin, { t: 'watch_evt', key: e.key, ver: e.item.ver, ex: e.item.ex, val: e.item.val });
    }
  }

  private notifyWatchers(e: Entry): void {
    const subs = this.watchers.get(e.key);
    if (!subs) return;
    const now = this.ctx.now();
    for (const [peer, until] of subs) {
      if (until < now) subs.delete(peer);
      else this.ctx.sendAfterPersist(peer, { t: 'watch_evt', key: e.key, ver: e.item.ver, ex: e.item.ex, val: e.item.val });
    }
    if (subs.size === 0) this.watchers.delete(e.key);
  }

  // ------------------------------------------------------------------ sync: repair and anti-entropy

  /** Someone wants our replicas in (lo, hi]: answer for the part we are responsible for. */
  onSync(body: Body<'rep_sync'>, msg: RouteMsg): void {
    const pred = this.ring.pred;
    const self = this.ctx.self;
    if (pred === null) return;
    // The answer covers (lo, min(hi, self)] going clockwise from lo, up to the first change
    // of state: a range that is partly empty answers "unknown" for that part only (the asker
    // goes on from coveredTo), so one empty stretch does not hold up the repair of the rest.
    let end = inOpenClosed(self, body.lo, body.hi) ? self : body.hi;
    end = this.boundaries(body.lo, end)[0] ?? end;
    let status: 'ok' | 'stale' | 'unknown' = 'ok';
    if (this.empty.intersects(body.lo, end)) status = 'unknown';
    else if (this.stale.intersects(body.lo, end)) status = 'stale';
    // A page of at most sync_items_per_reply_max, never cut inside a group of equal
    // positions (the asker goes on after coveredTo).
    let picked = this.entries.inArc(body.lo, end, sync_items_per_reply_max + 1);
    let coveredTo = end;
    if (picked.length > sync_items_per_reply_max) {
      let k = sync_items_per_reply_max;
      while (k > 0 && picked[k - 1]!.pos === picked[k]!.pos) k--;
      if (k === 0) picked = this.entries.inArc(body.lo, picked[0]!.pos);
      else picked.length = k;
      coveredTo = picked[picked.length - 1]!.pos;
    }
    this.reply(msg.origin, {
      t: 'rep_sync_reply',
      reqId: body.reqId,
      status: status === 'stale' ? 'stored' : status,
      items: picked.map((e) => [e.key, e.i, e.item] as [string, number, Item]),
      coveredTo,
      range: [pred, self],
    });
  }

  /** Start (or continue) repairing the positions we hold without trusted data. */
  repairTick(): void {
    if (this.ring.status !== 'in' || this.ring.pred === null) return;
    const self = this.ctx.self;
    const pred = this.ring.pred;
    // Only what we are responsible for matters.
    this.empty.intersect(pred, self);
    this.stale.intersect(pred, self);
    if (this.empty.empty && this.stale.empty) {
      this.repair = null;
      return;
    }
    const target = new RangeSet();
    for (const [a, b] of [...this.empty.intervals(), ...this.stale.intervals()]) target.add(a, b);
    const round: RepairRound = { reqs: new Map(), covered: [], target, startedAt: this.ctx.now() };
    for (let d = 0; d < this.r; d++) round.covered.push(new RangeSet());
    this.repair = round;
    this.ctx.counters.add('repair.rounds');
    for (const [a, b] of target.intervals()) {
      const lo = a < 0 ? 2 ** 52 - 1 : a;
      for (let d = 1; d < this.r; d++) this.requestSync(round, d, lo, b);
    }
  }

  private requestSync(round: RepairRound, d: number, lo: PeerId, hi: PeerId): void {
    const reqId = this.nextReq++;
    const slo = shift(lo, d, this.r);
    const shi = shift(hi, d, this.r);
    round.reqs.set(reqId, { d, lo: slo, hi: shi });
    this.router.routeFast(shift(lo, d, this.r) + 1 >= 2 ** 52 ? 0 : slo + 1, { k: 'rep_sync', reqId, lo: slo, hi: shi });
  }

  onSyncReply(from: PeerId, msg: MsgOf<'rep_sync_reply'>): void {
    this.router.learn(msg.range, from);
    const round = this.repair;
    const req = round?.reqs.get(msg.reqId);
    if (round && req) {
      round.reqs.delete(msg.reqId);
      this.mergeShifted(msg.items, req.d);
      if (msg.status !== 'unknown') {
        // Positions (req.lo, coveredTo] in the shifted copy = (req.lo - d, coveredTo - d] of ours.
        round.covered[req.d]!.add(shift(req.lo, -req.d, this.r), shift(msg.coveredTo, -req.d, this.r));
        this.settleRepair(round);
      }
      if (msg.coveredTo !== req.hi) this.requestSyncRaw(round, req.d, msg.coveredTo, req.hi);
      return;
    }
    const ae = this.antiEntropy.get(msg.reqId);
    if (ae) {
      this.antiEntropy.delete(msg.reqId);
      this.mergeShifted(msg.items, ae.d);
      if (msg.coveredTo !== ae.hi) this.pullShifted(ae.d, msg.coveredTo, ae.hi);
    }
  }

  private requestSyncRaw(round: RepairRound, d: number, slo: PeerId, shi: PeerId): void {
    const reqId = this.nextReq++;
    round.reqs.set(reqId, { d, lo: slo, hi: shi });
    this.router.routeFast(slo + 1 >= 2 ** 52 ? 0 : slo + 1, { k: 'rep_sync', reqId, lo: slo, hi: shi });
  }

  /** Items of the copy shifted by d: item slot j is our slot j - d. */
  private mergeShifted(items: ReadonlyArray<readonly [string, number, unknown]>, d: number): void {
    for (const [key, j, item] of items) {
      const i = (((j - d) % this.r) + this.r) % this.r;
      const e = this.getOrCreate(key, i);
      if (!this.ring.isResponsible(e.pos)) {
        if (e.item.ver === 0 && e.item.pend.length === 0) this.entries.delete(ReplicaStore.id(key, i));
        continue;
      }
      // Other replicas' pending transactions come along (to apply on commit, and to make
      // readers wait), except those whose outcome we already applied.
      const merged = mergeItems(e.item, item as Item);
      const probe: Entry = { ...e, item: merged };
      this.resolveKnown(probe);
      if (merged.ver !== e.item.ver || merged.pend.length !== e.item.pend.length) {
        const before = e.item.ver;
        e.item = merged;
        this.save(e);
        if (e.item.ver !== before) this.notifyWatchers(e);
      }
    }
  }

  /**
   * When is a repaired position authoritative again?
   * - Stale (our own data from before a restart, same replica lineage, maybe missing recent
   *   commits): a committed write is on a majority of lineages, so our copy plus r - m
   *   others (1 of 3 with r = 4) must include one that has it.
   * - Empty (we took the position over without data: a new lineage): the others must be a
   *   majority m of the slots (all 3 others with r = 4). Fewer would be enough to find the
   *   data after a crash, but not under a partition: two sides of a 2/2 split could each
   *   rebuild the slots they cannot reach from the two they hold, and then both commit.
   *   With m sources, only a side holding a majority of a key's replicas can rebuild it.
   */
  private settleRepair(round: RepairRound): void {
    const needStale = repairQuorum(this.r);
    const needEmpty = majority(this.r);
    const sets = round.covered.slice(1);
    const fixed = new RangeSet();
    for (const [a, b] of round.target.intervals()) {
      // Own stale data counts as one slot.
      const points = new Set<number>([a, b]);
      for (const s of sets) for (const [x, y] of s.intervals()) {
        if (x > a && x < b) points.add(x);
        if (y > a && y < b) points.add(y);
      }
      const cuts = [...points].sort((p, q) => p - q);
      for (let k = 0; k + 1 < cuts.length; k++) {
        const lo = cuts[k]!;
        const hi = cuts[k + 1]!;
        const probe = hi; // the segment (lo, hi] is uniform; test its end
        const isEmpty = this.empty.contains(probe);
        let n = !isEmpty && this.stale.contains(probe) ? 1 : 0;
        for (const s of sets) if (s.contains(probe)) n++;
        if (n >= (isEmpty ? needEmpty : needStale)) fixed.add(lo < 0 ? 2 ** 52 - 1 : lo, hi);
      }
    }
    for (const [a, b] of fixed.intervals()) {
      const lo = a < 0 ? 2 ** 52 - 1 : a;
      this.empty.remove(lo, b);
      this.stale.remove(lo, b);
      round.target.remove(lo, b);
    }
    if (!fixed.empty) {
      this.ctx.counters.add('repair.fixed');
      this.saveAuth();
    }
    if (round.target.empty) this.repair = null;
  }

  private readonly antiEntropy = new Map<number, { d: number; hi: PeerId }>();

  /** Pull one shifted copy of our whole range and merge it: lagging replicas converge. */
  antiEntropyTick(): void {
    if (this.ring.status !== 'in' || this.ring.pred === null || this.ring.pred === this.ctx.self && this.r === 1) return;
    const d = this.antiEntropyShift;
    this.antiEntropyShift = (d % (this.r - 1)) + 1;
    const pred = this.ring.pred;
    const self = this.ctx.self;
    if (pred === self) {
      // Alone: every replica is ours already.
      return;
    }
    this.pullShifted(d, shift(pred, d, this.r), shift(self, d, this.r));
  }

  private pullShifted(d: number, slo: PeerId, shi: PeerId): void {
    if (this.antiEntropy.size > 64) return;
    const reqId = this.nextReq++;
    this.antiEntropy.set(reqId, { d, hi: shi });
    this.router.routeFast(slo + 1 >= 2 ** 52 ? 0 : slo + 1, { k: 'rep_sync', reqId, lo: slo, hi: shi });
  }

  private reply(to: PeerId, msg: MsgOf<'rep_read_reply'> | MsgOf<'rep_sync_reply'>): void {
    // Replies describe durable state only.
    this.ctx.sendAfterPersist(to, msg);
  }

  /** Every (key, slot) we hold with its item, for tests and the console. */
  dump(): Array<{ key: string; i: number; pos: PeerId; item: Item }> {
    return [...this.entries.values()].map((e) => ({ key: e.key, i: e.i, pos: e.pos, item: e.item }));
  }
}
