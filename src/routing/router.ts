import { dist, inOpenClosed } from '../core/id.ts';
import { route_hops_max } from '../core/limits.ts';
import type { MsgOf, RoutedBody } from '../core/messages.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { FailureDetector } from '../ring/failure-detector.ts';
import type { Ring } from '../ring/ring.ts';
import { Fingers } from './fingers.ts';

export type RouteMsg = MsgOf<'route'>;

/** Handler for a routed body that reached the peer responsible for its target. */
export type DeliverFn = (body: RoutedBody, msg: RouteMsg) => void;

interface PendingLookup {
  target: PeerId;
  cb: (peer: PeerId | null, hops: number) => void;
  timer: number;
}

/**
 * Greedy clockwise routing over fingers and the successor list, plus the relaxed ring's
 * backward step: a message marked `last` that reaches a peer not responsible for its
 * target is passed to that peer's predecessor (the target sits in a branch or belongs to a
 * peer still joining). Every hop moves closer to the target, so a message cannot loop
 * while the ring is stable; under churn a hop limit ends it.
 */
export class Router {
  readonly fingers: Fingers;
  private deliverFn: DeliverFn = () => {};
  private readonly lookups = new Map<number, PendingLookup>();
  private nextReq = 1;
  /** Routed messages a joining peer holds until its join completes. */
  private held: RouteMsg[] = [];
  /**
   * Who was responsible for which range, learned from replies: (lo, hi] -> peer. Lets a
   * peer send replica traffic in one hop once it has talked to a range. A stale entry costs
   * only efficiency: a receiver that is not responsible routes onwards, and a dead peer's
   * entries go with its suspicion.
   */
  private cache: Array<{ lo: PeerId; hi: PeerId; peer: PeerId; at: number }> = [];
  static readonly cache_entries_max = 256;
  /**
   * A cached range is trusted this long after it was learned. A peer that left or crashed
   * without being suspected by us (we never watched it) must not swallow our messages for
   * ever; every answer from a live peer renews its entry.
   */
  static readonly cache_entry_ttl_ms = 10_000;

  constructor(
    private readonly ctx: PeerContext,
    private readonly ring: Ring,
    private readonly fd: FailureDetector,
  ) {
    this.fingers = new Fingers(ctx, fd);
    fd.onSuspect((p) => {
      this.fingers.removePeer(p);
      this.forget(p);
    });
  }

  onDeliver(fn: DeliverFn): void {
    this.deliverFn = fn;
  }

  /** Send body to the peer responsible for target (possibly ourselves). */
  route(target: PeerId, body: RoutedBody): void {
    const self = this.ctx.self;
    this.handle({ t: 'route', target, origin: self, hops: 0, last: false, body });
  }

  /** Like route(), but straight to the cached responsible peer when one is known. */
  routeFast(target: PeerId, body: RoutedBody): void {
    if (this.ring.status === 'in' && !this.ring.isResponsible(target)) {
      const oldest = this.ctx.now() - Router.cache_entry_ttl_ms;
      for (const c of this.cache) {
        if (c.at >= oldest && inOpenClosed(target, c.lo, c.hi)) {
          const self = this.ctx.self;
          this.ctx.send(c.peer, { t: 'route', target, origin: self, hops: 1, last: true, body });
          return;
        }
      }
    }
    this.route(target, body);
  }

  /**
   * Peers we exchange heartbeats with (predecessor, successors, fingers) and do not suspect:
   * alive as far as we can tell now. Never a peer known from the routing cache alone: we may
   * not have heard from it for its whole TTL (it may be across a partition).
   */
  heartbeatPeers(): PeerId[] {
    const out = new Set<PeerId>();
    const pred = this.ring.pred;
    for (const p of [...(pred === null ? [] : [pred]), ...this.ring.succs, ...this.fingers.peers()]) {
      if (p !== this.ctx.self && !this.fd.isSuspected(p)) out.add(p);
    }
    return [...out];
  }

  /** The peer we believe responsible for target: ourselves, a cached one, or null if unknown. */
  cachedPeer(target: PeerId): PeerId | null {
    if (this.ring.isResponsible(target)) return this.ctx.self;
    const oldest = this.ctx.now() - Router.cache_entry_ttl_ms;
    for (const c of this.cache) if (c.at >= oldest && inOpenClosed(target, c.lo, c.hi)) return c.peer;
    return null;
  }

  /**
   * Like cachedPeer, but only a peer we know to be reachable now: one we heartbeat and do not
   * suspect, or whose answer renewed its entry within the failure detector's shortest
   * timeout (fd_timeout_min_ms). A cache entry alone may be up to cache_entry_ttl_ms old:
   * its peer may be across a partition we have not noticed (we never watched it), and a
   * transaction whose acceptors sit there stays undecided, its keys locked, until the heal.
   */
  cachedLivePeer(target: PeerId): PeerId | null {
    if (this.ring.isResponsible(target)) return this.ctx.self;
    const now = this.ctx.now();
    const oldest = now - Router.cache_entry_ttl_ms;
    for (const c of this.cache) {
      if (c.at < oldest || !inOpenClosed(target, c.lo, c.hi)) continue;
      if (this.fd.isSuspected(c.peer)) return null;
      if (now - c.at <= this.ctx.config.fd_timeout_min_ms || this.fd.isWatched(c.peer)) return c.peer;
      return null;
    }
    return null;
  }

  /** peer said it is responsible for (lo, hi]. */
  learn(range: readonly [PeerId, PeerId] | null, peer: PeerId): void {
    if (!range || peer === this.ctx.self || this.fd.isSuspected(peer)) return;
    const [lo, hi] = range;
    if (lo === hi) return;
    this.cache = this.cache.filter((c) => c.peer !== peer && !inOpenClosed(c.hi, lo, hi) && !inOpenClosed(hi, c.lo, c.hi));
    this.cache.push({ lo, hi, peer, at: this.ctx.now() });
    if (this.cache.length > Router.cache_entries_max) this.cache.shift();
  }

  forget(peer: PeerId): void {
    if (this.cache.length > 0) this.cache = this.cache.filter((c) => c.peer !== peer);
  }

  /** A route message arrived (or starts here). */
  handle(msg: RouteMsg): void {
    const ring = this.ring;
    if (ring.status === 'joining') {
      // Not able to judge responsibility yet: hold it (bounded) until the join completes.
      if (this.held.length < this.ctx.config.joining_buffer_messages_max) this.held.push(msg);
      else this.ctx.counters.add('route.dropped_held_full');
      return;
    }
    if (ring.status !== 'in') {
      this.ctx.counters.add('route.dropped_not_in');
      return;
    }
    if (ring.isResponsible(msg.target)) {
      this.ctx.counters.add('route.delivered');
      this.deliverFn(msg.body, msg);
      return;
    }
    if (msg.hops >= route_hops_max) {
      this.ctx.counters.add('route.dropped_hops');
      return;
    }
    // The sender believed us responsible. If the target is just behind us, a joiner or a
    // branch sits there: step back to our predecessor. If it is ahead of us (the sender's
    // cache was stale: our range shrank), route forwards as usual.
    const self = this.ctx.self;
    const behind = msg.last && dist(msg.target, self) < dist(self, msg.target);
    const [next, last] = behind ? this.backward() : this.nextHop(msg.target);
    if (next === null) {
      this.ctx.counters.add('route.dropped_no_hop');
      return;
    }
    this.ctx.send(next, { ...msg, hops: msg.hops + 1, last });
  }

  /** Not responsible although the sender thought so: the target is behind our predecessor. */
  private backward(): [PeerId | null, boolean] {
    const pred = this.ring.pred;
    if (pred === null || pred === this.ctx.self || this.fd.isSuspected(pred)) return [null, true];
    return [pred, true];
  }

  /** Next hop towards target and whether that hop is believed responsible for it. */
  nextHop(target: PeerId): [PeerId | null, boolean] {
    const self = this.ctx.self;
    const succs = this.ring.succs;
    // Successor list: if the target falls between two consecutive entries, the second is responsible.
    let prev = self;
    for (const s of succs) {
      if (s === self) break;
      if (inOpenClosed(target, prev, s) && !this.fd.isSuspected(s)) return [s, true];
      prev = s;
    }
    const best = this.fingers.closestPreceding(target, succs);
    if (best !== null) return [best, best === target];
    const succ = this.ring.succ;
    return succ === self ? [null, false] : [succ, false];
  }

  /**
   * Find the peer responsible for target. A find routed through a peer that just died is
   * lost; it is sent again (lookup_attempts_max times, each waiting lookup_timeout_ms /
   * attempts), by then the failure detector has usually removed the dead hop.
   */
  lookup(target: PeerId, cb: (peer: PeerId | null, hops: number) => void, attempt = 1): void {
    const reqId = this.nextReq++;
    const attempts = Router.lookup_attempts_max;
    const timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.lookup_timeout_ms / attempts, () => {
      this.lookups.delete(reqId);
      if (attempt < attempts) this.lookup(target, cb, attempt + 1);
      else cb(null, -1);
    });
    this.lookups.set(reqId, { target, cb, timer });
    this.route(target, { k: 'find', reqId });
  }

  static readonly lookup_attempts_max = 3;

  /** Routed find reached us: we are responsible. */
  answerFind(msg: RouteMsg, reqId: number): void {
    const found: MsgOf<'found'> = { t: 'found', reqId, target: msg.target, peer: this.ctx.self, hops: msg.hops };
    if (msg.origin === this.ctx.self) this.onFound(found);
    else this.ctx.send(msg.origin, found);
  }

  onFound(msg: MsgOf<'found'>): void {
    const p = this.lookups.get(msg.reqId);
    if (!p) return;
    this.lookups.delete(msg.reqId);
    this.ctx.timers.cancel(p.timer);
    p.cb(msg.peer, msg.hops);
  }

  /** Repair one finger (called periodically). */
  fixOneFinger(): void {
    if (this.ring.status !== 'in' || this.ring.succ === this.ctx.self) return;
    const [i, target] = this.fingers.nextToFix(this.ring.succs);
    this.lookup(target, (peer) => {
      if (peer !== null) this.fingers.set(i, peer);
    });
  }

  /** The join completed: process what was held. */
  releaseHeld(): void {
    const held = this.held;
    this.held = [];
    for (const m of held) this.handle(m);
  }
}
