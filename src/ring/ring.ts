import { dist, inOpen, inOpenClosed } from '../core/id.ts';
import { successor_list_length } from '../core/limits.ts';
import type { MsgOf } from '../core/messages.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { FailureDetector } from './failure-detector.ts';

export type RingStatus = 'out' | 'joining' | 'in' | 'leaving' | 'left';

/** Listeners the layers above install: they move data when responsibility moves. */
export interface RingHooks {
  /** This peer gave the range (from, to] to `to`, which just joined in front of it. */
  gaveRange(from: PeerId | null, to: PeerId): void;
  /** This peer's predecessor changed (joined, stabilized, crash repaired, left). */
  predChanged(oldPred: PeerId | null, newPred: PeerId | null): void;
  /** This peer is now in the ring (join completed or ring created). */
  joined(): void;
  /** This peer is leaving: hand everything to succ. */
  leaving(succ: PeerId): void;
}

/**
 * The relaxed ring of Beernet (Mejías and Van Roy).
 *
 * A peer is responsible for (pred, self]. Joins take two steps, each between two peers:
 * the joiner q asks the peer r responsible for q's id; r makes q its predecessor and
 * answers join_ok(pred p); q then tells p "new_succ". No key ever has two responsible
 * peers under joins, because r shrinks its range before q takes its own.
 *
 * Crashes are handled from the predecessor side: a peer whose successor is suspected
 * moves to the next live entry of its successor list and notifies it; the notified peer
 * accepts when its current predecessor is suspected or farther away. Peers that cannot
 * reach the peer in between stay in a branch (that is the relaxation).
 *
 * Where this departs from Beernet, and why: successor-list and predecessor information
 * rides on heartbeat replies (pong), and a peer adopts its successor's predecessor when
 * it lies in between and is not suspected. That is Chord's stabilization, piggybacked on
 * traffic the failure detector sends anyway: it costs no extra message, and it is what
 * shrinks branches back to a perfect ring once the failure detector stops suspecting.
 */
export class Ring {
  status: RingStatus = 'out';
  pred: PeerId | null = null;
  /**
   * succs[0] is the successor; never contains self unless the ring has one peer. Replaced
   * by setSuccsOf, never changed in place: a heartbeat reply carries this very array.
   */
  succs: PeerId[] = [];
  /**
   * succs[0], or NaN when succs is empty: set with succs. Read on every heartbeat reply and
   * routing step (succ), it saves loading the list and its elements, two objects, in a
   * simulation of thousands of peers two cache misses.
   */
  private succFirst = NaN;
  /** Peers to join through, tried in turn (a contact may be dead or may leave). */
  private joinContacts: PeerId[] = [];
  /** Join attempts so far without an answer (a driver offers fresh contacts when this grows). */
  joinAttempts = 0;
  private joinTimer: number | null = null;
  /** Our predecessor told us it is not in the ring (it restarted and is joining again). */
  private predGone = false;
  /**
   * Joiners we let in whose join_ok may still be on its way: until they answer a heartbeat
   * as members, a "not a member" answer from them is expected and must not drop them.
   */
  private readonly acceptedJoiners = new Map<PeerId, MsgOf<'join_ok'>>();
  /** acceptedJoiners.size, read on every heartbeat reply without touching the map. */
  private nAcceptedJoiners = 0;

  constructor(
    private readonly ctx: PeerContext,
    private readonly fd: FailureDetector,
    private readonly hooks: RingHooks,
  ) {
    fd.onSuspect((p) => this.onSuspect(p));
  }

  get self(): PeerId {
    return this.ctx.self;
  }

  get succ(): PeerId {
    const s = this.succFirst;
    return s === s ? s : this.ctx.self;
  }

  /** Responsible for position x: in the ring and x in (pred, self]. */
  isResponsible(x: PeerId): boolean {
    return this.status === 'in' && this.pred !== null && inOpenClosed(x, this.pred, this.ctx.self);
  }

  /** First peer: a ring of one. */
  create(): void {
    this.status = 'in';
    this.setPred(this.ctx.self);
    this.setSuccs([this.ctx.self]);
    this.hooks.joined();
  }

  /** Join through peers already in the ring, tried in turn. Retries with backoff until join_ok. */
  join(contacts: readonly PeerId[]): void {
    this.status = 'joining';
    this.joinContacts = contacts.filter((c) => c !== this.ctx.self);
    this.joinAttempts = 0;
    this.sendJoin();
  }

  private sendJoin(): void {
    if (this.status !== 'joining' || this.joinContacts.length === 0) return;
    const contact = this.joinContacts[this.joinAttempts % this.joinContacts.length]!;
    this.joinAttempts++;
    const self = this.ctx.self;
    this.ctx.send(contact, { t: 'route', target: self, origin: self, hops: 1, last: false, body: { k: 'join' } });
    const backoff = this.ctx.config.join_retry_ms * Math.min(8, this.joinAttempts);
    this.ctx.timers.cancel(this.joinTimer);
    this.joinTimer = this.ctx.timers.schedule(this.ctx.now() + backoff, () => this.sendJoin());
  }

  /** More contacts for the next join attempts (the driver learned of other peers). */
  addJoinContacts(contacts: readonly PeerId[]): void {
    for (const c of contacts) if (c !== this.ctx.self && !this.joinContacts.includes(c)) this.joinContacts.push(c);
    if (this.status === 'joining' && this.joinAttempts === 0) this.sendJoin();
  }

  /** Delivered by routing: we are responsible for q's id, and q wants in. */
  onJoin(q: PeerId): void {
    if (this.status !== 'in' || q === this.ctx.self) {
      this.ctx.send(q, { t: 'join_retry' });
      return;
    }
    const oldPred = this.pred;
    if (q === oldPred) {
      // q restarted with its stored identity while we still had it as predecessor: we do not
      // know its predecessor; stabilization from that side will tell it.
      this.ctx.send(q, { t: 'join_ok', pred: null, succs: this.succListForOthers() });
      return;
    }
    this.setPred(q);
    const ok: MsgOf<'join_ok'> = { t: 'join_ok', pred: oldPred, succs: this.succListForOthers() };
    this.acceptedJoiners.set(q, ok);
    this.nAcceptedJoiners = this.acceptedJoiners.size;
    this.ctx.counters.add('ring.join_accepted');
    this.ctx.send(q, ok);
    this.hooks.gaveRange(oldPred, q);
    if (this.succs[0] === this.ctx.self) {
      // We were alone: the joiner is also our successor.
      this.setSuccs([q]);
    }
  }

  onJoinOk(from: PeerId, pred: PeerId | null, succs: PeerId[]): void {
    if (this.status !== 'joining') return;
    this.ctx.timers.cancel(this.joinTimer);
    this.status = 'in';
    this.setSuccs(succs.length > 0 ? succs : [from]);
    if (pred !== null && this.pred === null) this.setPred(pred);
    else if (pred !== null && this.pred !== null && inOpen(pred, this.pred, this.ctx.self)) this.setPred(pred);
    if (this.pred !== null && this.pred !== this.ctx.self) this.ctx.send(this.pred, { t: 'new_succ', succs: this.succListForOthers() });
    this.hooks.joined();
  }

  onJoinRetry(): void {
    // The retry timer is already armed; nothing else to do.
    this.ctx.counters.add('ring.join_retry');
  }

  /** Second step of the join: q, just joined, says it is our successor. */
  onNewSucc(q: PeerId, succs: PeerId[]): void {
    if (this.status !== 'in' && this.status !== 'leaving') return;
    const succ = this.succ;
    if (succ === this.ctx.self || succ === q || inOpen(q, this.ctx.self, succ) || this.fd.isSuspected(succ)) {
      this.setSuccs([q, ...succs]);
    }
  }

  /** p believes it is our predecessor. */
  onNotify(p: PeerId): void {
    if (this.status !== 'in' || p === this.pred || p === this.ctx.self) return;
    const old = this.pred;
    const closer = old !== null && old !== this.ctx.self && inOpen(p, old, this.ctx.self);
    if (old === null || old === this.ctx.self || this.predGone || this.fd.isSuspected(old) || closer) {
      this.setPred(p);
      // Our range shrank to (p, self]: whatever we hold of (old, p] now belongs to p (after a
      // partition heals, p is the peer that held it all along; it merges by version).
      if (closer && old !== null) this.hooks.gaveRange(old, p);
      else if (old === this.ctx.self) this.hooks.gaveRange(this.ctx.self, p);
    }
  }

  /**
   * Another peer we did not know of, or had suspected and now hear again (a partition
   * healed, two rings meet): if it lies between us and our successor it becomes our
   * successor. Each such step moves successor pointers closer; stabilization does the rest,
   * and two rings zip into one (ring unification, Shafaat, Ghodsi and Haridi).
   */
  consider(x: PeerId, confirmedMember = true): void {
    if (this.status !== 'in' || x === this.ctx.self || this.fd.isSuspected(x)) return;
    const succ = this.succ;
    if (succ !== this.ctx.self && !inOpen(x, this.ctx.self, succ)) return;
    if (!confirmedMember) {
      // Only heard of: it may be a peer still joining (adopting it would route its own join
      // back to it). Ask it; its pong says whether it is a member, and brings us back here.
      const last = this.probed.get(x) ?? -Infinity;
      if (this.ctx.now() - last < this.ctx.config.heartbeat_interval_ms) return;
      this.probed.set(x, this.ctx.now());
      if (this.probed.size > 256) this.probed.delete(this.probed.keys().next().value as PeerId);
      this.ctx.send(x, { t: 'ping', seq: 0 });
      return;
    }
    this.ctx.counters.add('ring.merge_step');
    this.setSuccs([x, ...this.succs]);
  }

  /** Peers we asked "are you a member?" and when (bounded). */
  private readonly probed = new Map<PeerId, number>();

  /** Heartbeat reply: stabilize with what our successor tells us. */
  onPong(from: PeerId, pred: PeerId | null, succs: PeerId[]): void {
    if (this.status !== 'in') return;
    if (from !== this.succ) {
      // A finger's or a probed peer's view: any member it names that lies between us and our
      // successor is a better successor (this is how rings meet after a partition). Its
      // predecessor may be a joiner that is not a member yet: left to the join protocol.
      this.consider(from);
      // consider(x, false) for each x, with its range check first, inline: almost every
      // such pong names nobody between us and our successor, and each call boxed its id.
      // (consider(x, false) only probes: it changes neither our status nor our successor.)
      const self = this.ctx.self;
      const succ = this.succ;
      for (let i = 0; i < succs.length; i++) {
        const x = succs[i]!;
        if (succ === self || inOpen(x, self, succ)) this.consider(x, false);
      }
      return;
    }
    const self = this.ctx.self;
    if (pred !== null && pred !== self && inOpen(pred, self, from) && !this.fd.isSuspected(pred)) {
      // A peer joined between us (or we were in a branch): it becomes our successor.
      this.setSuccsOf(pred, from, succs);
      return;
    }
    this.setSuccsOf(from, NaN, succs);
    if (pred !== self && (pred === null || this.fd.isSuspected(pred) || !inOpen(pred, self, from))) {
      this.ctx.send(from, { t: 'notify' });
    }
  }

  /** Graceful leave: hand our range to our successor, tell our predecessor. */
  leave(): void {
    if (this.status !== 'in') {
      this.status = 'left';
      return;
    }
    this.status = 'leaving';
    const succ = this.succ;
    if (succ !== this.ctx.self) {
      this.hooks.leaving(succ);
      this.ctx.send(succ, { t: 'leave', pred: this.pred === this.ctx.self ? null : this.pred });
      if (this.pred !== null && this.pred !== this.ctx.self && this.pred !== succ) {
        this.ctx.send(this.pred, { t: 'leave_pred', succs: this.succs.slice(0, successor_list_length) });
      }
    }
    this.status = 'left';
  }

  onLeave(from: PeerId, pred: PeerId | null): void {
    if (this.status !== 'in' || from !== this.pred) return;
    this.setPred(pred ?? null);
    if (this.succs[0] === from) this.setSuccs([this.ctx.self]);
    if (this.pred === null) {
      // The leaver was our only other peer.
      if (this.succ === this.ctx.self) this.setPred(this.ctx.self);
    }
  }

  onLeavePred(from: PeerId, succs: PeerId[]): void {
    if (this.status !== 'in' || from !== this.succ) return;
    const rest = succs.filter((p) => p !== from);
    this.setSuccs(rest.length > 0 ? rest : [this.ctx.self]);
    if (this.succ === this.ctx.self) this.setPred(this.ctx.self);
  }

  /**
   * p answered a heartbeat saying it is not in the ring: it restarted and is joining again
   * under its stored identity. Route around it as if it had failed (without suspecting it:
   * it is alive), so that its join can reach the peer now responsible for its id.
   */
  onNotMember(p: PeerId): void {
    if (this.status !== 'in') return;
    const ok = this.acceptedJoiners.get(p);
    if (ok) {
      // Our join_ok was lost (or is slow): say it again; the joiner ignores a duplicate.
      this.ctx.counters.add('ring.join_ok_resent');
      this.ctx.send(p, ok);
      return;
    }
    if (this.pred === p) this.predGone = true;
    this.dropSucc(p);
  }

  /** A heartbeat reply from a member. */
  onMember(p: PeerId): void {
    // (Every pong comes here; the map is almost always empty.)
    if (this.nAcceptedJoiners > 0) {
      this.acceptedJoiners.delete(p);
      this.nAcceptedJoiners = this.acceptedJoiners.size;
    }
  }

  private onSuspect(p: PeerId): void {
    this.acceptedJoiners.delete(p);
    this.nAcceptedJoiners = this.acceptedJoiners.size;
    if (this.status !== 'in') {
      if (this.status === 'joining' && this.joinContacts.includes(p)) this.ctx.counters.add('ring.join_contact_suspected');
      return;
    }
    this.dropSucc(p);
  }

  private dropSucc(p: PeerId): void {
    if (this.succs.includes(p)) {
      const wasSucc = this.succ === p;
      const rest = this.succs.filter((s) => s !== p && !this.fd.isSuspected(s));
      this.setSuccs(rest.length > 0 ? rest : this.fallbackSuccs(p));
      if (wasSucc) {
        this.ctx.counters.add('ring.succ_failed');
        if (this.succ === this.ctx.self) this.setPred(this.ctx.self);
      }
    }
  }

  /**
   * Every successor we knew is gone. Rather than declare ourselves alone (which splits the
   * ring), take the closest live peer we still know of (predecessor, fingers, anyone we
   * heartbeat) as successor: stabilization then walks from it to our true successor, one
   * pong at a time, as in Chord.
   */
  private fallbackSuccs(gone: PeerId): PeerId[] {
    const self = this.ctx.self;
    const known = this.fd.watchedPeers().filter((q) => q !== gone && q !== self && !this.fd.isSuspected(q));
    if (known.length === 0) return [self];
    known.sort((a, b) => dist(self, a) - dist(self, b));
    return [known[0]!];
  }

  /** Our successor list as others should see it: ourselves first. */
  succListForOthers(): PeerId[] {
    return [this.ctx.self, ...this.succs].slice(0, successor_list_length);
  }

  private setPred(p: PeerId | null): void {
    const old = this.pred;
    if (old === p) return;
    if (old !== null) this.fd.unwatch(old, 'pred');
    this.pred = p;
    this.predGone = false;
    if (p !== null) this.fd.watch(p, 'pred');
    this.hooks.predChanged(old, p);
  }

  /**
   * Keeps the successor list ordered, without self, duplicates or suspected peers, at most
   * k long. A new successor is notified at once, so that it learns of us without waiting
   * for stabilization.
   */
  private setSuccs(list: readonly PeerId[]): void {
    this.setSuccsOf(NaN, NaN, list);
  }

  /**
   * setSuccs([a, b, ...rest]), leaving out a and b when NaN, without building that list. The
   * list is built in a scratch array and kept only when it differs from the current one:
   * most heartbeat replies repeat what we know, and a new array per reply, kept for the
   * second until the next, was garbage that outlived the young generation.
   */
  private setSuccsOf(a: number, b: number, rest: readonly PeerId[]): void {
    const self = this.ctx.self;
    const out = this.scratch;
    out.length = 0;
    if ((a !== a || !this.offer(out, a, self)) && (b !== b || !this.offer(out, b, self))) {
      for (let i = 0; i < rest.length; i++) if (this.offer(out, rest[i]!, self)) break;
    }
    if (out.length === 0) out.push(self);
    const old = this.succs;
    if (old.length === out.length) {
      let same = true;
      for (let i = 0; i < out.length; i++) {
        if (old[i] !== out[i]) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    this.succs = out.slice();
    this.succFirst = out[0]!;
    if (old[0] !== out[0]) {
      // Only the successor itself is heartbeated: the rest of the list is refreshed by its pongs.
      if (old[0] !== undefined) this.fd.unwatch(old[0], 'succ');
      this.fd.watch(out[0]!, 'succ');
      if (out[0] !== self && this.status === 'in') this.ctx.send(out[0]!, { t: 'notify' });
    }
  }

  /** One candidate of setSuccsOf: appended unless a duplicate or suspected; true when the list is complete. */
  private offer(out: PeerId[], p: PeerId, self: PeerId): boolean {
    if (p === self) return true; // the list wrapped around the ring
    if (!out.includes(p) && !this.fd.isSuspected(p)) out.push(p);
    return out.length === successor_list_length;
  }

  private readonly scratch: PeerId[] = [];
}
