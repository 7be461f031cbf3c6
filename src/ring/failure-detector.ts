import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';

/**
 * An eventually perfect failure detector (Chandra-Toueg ◇P) over heartbeats.
 *
 * Every watched peer is pinged each heartbeat interval; any message from it counts as a
 * sign of life. A peer silent for longer than its timeout is suspected. The timeout adapts
 * to the measured round trip (srtt + 4 rttvar, as TCP) and grows after every false
 * suspicion, so that eventually no correct peer is suspected: a false suspicion may only
 * delay the protocol above, never corrupt it.
 *
 * Suspected peers keep being probed at a slower rate (bounded by suspects_max), so that a
 * peer that was cut off by a partition is noticed when it is reachable again.
 */
/**
 * Why a peer is watched ('succ', 'pred', 'finger', ...), as one bit each: numbered in order
 * of first use by any detector of this process (the protocol has three).
 */
const reasonBits = new Map<string, number>();
function reasonBit(reason: string): number {
  let b = reasonBits.get(reason);
  if (b === undefined) {
    if (reasonBits.size >= 30) throw new Error('failure detector: too many watch reasons');
    reasonBits.set(reason, (b = 1 << reasonBits.size));
  }
  return b;
}

/**
 * A watched peer's record: REC doubles at rec_base + REC * index (see FailureDetector.buf).
 * PEER is its id, REASONS the bits of reasonBit(), MARGIN the extra margin earned by false
 * suspicions.
 */
const REC = 8;
const PEER = 0;
const HEARD_AT = 1;
const PING_SEQ = 2;
const PING_AT = 3;
const SRTT = 4;
const RTTVAR = 5;
const MARGIN = 6;
const REASONS = 7;

export class FailureDetector {
  /**
   * The watched peers, in the order they were first watched (the order heartbeats go out
   * in), in one array of numbers: their ids at [0, cap), then one record of REC numbers each
   * at cap + REC * i. Every message received looks its sender up here, and every heartbeat
   * walks it: in a simulation of thousands of peers a Map with one object per watched peer
   * (and a box per number field) cost several cache misses per message.
   */
  private buf = new Float64Array(8 * (1 + REC));
  private cap = 8;
  /** Watched peers (entries in use). */
  private n = 0;
  /** Suspected peer -> time of suspicion (insertion order = age). */
  private readonly suspects = new Map<PeerId, number>();
  /** suspects.size, read without touching the map (asked at every routing step). */
  private nSuspects = 0;
  /** Margins survive unwatching, so a peer known to be slow stays treated as slow. */
  private readonly margins = new Map<PeerId, number>();
  private seq = 0;
  private lastProbeAt = -Infinity;
  private onSuspectFns: Array<(p: PeerId) => void> = [];
  private onAliveFns: Array<(p: PeerId) => void> = [];
  /**
   * The entry heard() last looked up (a pong is heard() and then pong() for the same peer):
   * saves a second search. Reset whenever the watched entries change.
   */
  private lastPeer = NaN;
  private lastIdx = -1;

  constructor(private readonly ctx: PeerContext) {}

  onSuspect(fn: (p: PeerId) => void): void {
    this.onSuspectFns.push(fn);
  }

  /** Called when a suspected peer is heard from again. */
  onAlive(fn: (p: PeerId) => void): void {
    this.onAliveFns.push(fn);
  }

  /** Index of peer among the watched, or -1. */
  private indexOf(peer: PeerId): number {
    const buf = this.buf;
    const n = this.n;
    for (let i = 0; i < n; i++) if (buf[i] === peer) return i;
    return -1;
  }

  watch(peer: PeerId, reason: string): void {
    if (peer === this.ctx.self) return;
    const bit = reasonBit(reason);
    let i = this.indexOf(peer);
    if (i < 0) {
      if (this.n === this.cap) this.grow();
      i = this.n++;
      this.buf[i] = peer;
      const r = this.cap + REC * i;
      const buf = this.buf;
      buf[r + PEER] = peer;
      buf[r + HEARD_AT] = this.ctx.now();
      buf[r + PING_SEQ] = -1;
      buf[r + PING_AT] = 0;
      buf[r + SRTT] = 0;
      buf[r + RTTVAR] = 0;
      buf[r + MARGIN] = this.margins.get(peer) ?? 0;
      buf[r + REASONS] = 0;
      this.lastPeer = NaN;
    }
    const r = this.cap + REC * i;
    this.buf[r + REASONS] = this.buf[r + REASONS]! | bit;
  }

  unwatch(peer: PeerId, reason: string): void {
    const i = this.indexOf(peer);
    if (i < 0) return;
    const r = this.cap + REC * i;
    const reasons = this.buf[r + REASONS]! & ~reasonBit(reason);
    this.buf[r + REASONS] = reasons;
    if (reasons === 0) {
      // Close the gap: the others keep their order.
      const buf = this.buf;
      const cap = this.cap;
      buf.copyWithin(i, i + 1, this.n);
      buf.copyWithin(cap + REC * i, cap + REC * (i + 1), cap + REC * this.n);
      this.n--;
      this.lastPeer = NaN;
    }
  }

  private grow(): void {
    const cap = this.cap * 2;
    const buf = new Float64Array(cap * (1 + REC));
    buf.set(this.buf.subarray(0, this.n));
    buf.set(this.buf.subarray(this.cap, this.cap + REC * this.n), cap);
    this.buf = buf;
    this.cap = cap;
  }

  isWatched(peer: PeerId): boolean {
    return this.indexOf(peer) >= 0;
  }

  isSuspected(peer: PeerId): boolean {
    // Asked for every candidate of every routing step and pong; usually nobody is suspected.
    return this.nSuspects > 0 && this.suspects.has(peer);
  }

  suspected(): PeerId[] {
    return [...this.suspects.keys()];
  }

  watchedPeers(): PeerId[] {
    return Array.from(this.buf.subarray(0, this.n));
  }

  /** The watched peers with why and their round trips (consoles: src/peer/diagnostics.ts). */
  get watched(): Map<PeerId, { reasons: Set<string>; srtt: number; rttvar: number }> {
    const out = new Map<PeerId, { reasons: Set<string>; srtt: number; rttvar: number }>();
    for (let i = 0; i < this.n; i++) {
      const r = this.cap + REC * i;
      const bits = this.buf[r + REASONS]!;
      const reasons = new Set<string>();
      for (const [name, bit] of reasonBits) if (bits & bit) reasons.add(name);
      out.set(this.buf[i]!, { reasons, srtt: this.buf[r + SRTT]!, rttvar: this.buf[r + RTTVAR]! });
    }
    return out;
  }

  /** Any message from peer: it is alive. */
  heard(peer: PeerId): void {
    const now = this.ctx.now();
    const i = this.indexOf(peer);
    this.lastPeer = peer;
    this.lastIdx = i;
    if (i >= 0) this.buf[this.cap + REC * i + HEARD_AT] = now;
    if (this.nSuspects > 0 && this.suspects.has(peer)) {
      this.suspects.delete(peer);
      this.nSuspects--;
      // A false suspicion (or a healed partition): be more patient with this peer from now on.
      const margin = Math.min(
        this.ctx.config.fd_false_suspicion_margin_max_ms,
        Math.max(this.ctx.config.heartbeat_interval_ms, 2 * (this.margins.get(peer) ?? 0)),
      );
      this.margins.set(peer, margin);
      if (i >= 0) this.buf[this.cap + REC * i + MARGIN] = margin;
      this.ctx.counters.add('fd.recovered');
      for (const fn of this.onAliveFns) fn(peer);
    }
  }

  /** A pong: measure the round trip of the matching ping. */
  pong(peer: PeerId, seq: number): void {
    const i = peer === this.lastPeer ? this.lastIdx : this.indexOf(peer);
    if (i < 0) return;
    const buf = this.buf;
    const r = this.cap + REC * i;
    if (seq !== buf[r + PING_SEQ]) return;
    const rtt = this.ctx.now() - buf[r + PING_AT]!;
    const srtt = buf[r + SRTT]!;
    if (srtt === 0) {
      buf[r + SRTT] = rtt;
      buf[r + RTTVAR] = rtt / 2;
    } else {
      buf[r + RTTVAR] = 0.75 * buf[r + RTTVAR]! + 0.25 * Math.abs(srtt - rtt);
      buf[r + SRTT] = 0.875 * srtt + 0.125 * rtt;
    }
  }

  timeoutOf(peer: PeerId): number {
    const i = this.indexOf(peer);
    if (i < 0) return this.ctx.config.fd_timeout_min_ms;
    return this.timeoutAt(this.cap + REC * i);
  }

  /** The timeout of the record at r. */
  private timeoutAt(r: number): number {
    const cfg = this.ctx.config;
    const buf = this.buf;
    return Math.max(cfg.fd_timeout_min_ms, 2 * cfg.heartbeat_interval_ms + buf[r + SRTT]! + 4 * buf[r + RTTVAR]!) + buf[r + MARGIN]!;
  }

  /** One heartbeat round: ping the watched, suspect the silent, probe some suspects. */
  heartbeat(): void {
    const now = this.ctx.now();
    let newlySuspected: PeerId[] | null = null;
    const buf = this.buf;
    const n = this.n;
    for (let i = 0; i < n; i++) {
      const peer = buf[i]!;
      if (this.isSuspected(peer)) continue;
      const r = this.cap + REC * i;
      if (now - buf[r + HEARD_AT]! > this.timeoutAt(r)) {
        (newlySuspected ??= []).push(peer);
        continue;
      }
      const seq = ++this.seq;
      buf[r + PING_SEQ] = seq;
      buf[r + PING_AT] = now;
      this.ctx.send(peer, { t: 'ping', seq });
    }
    if (newlySuspected !== null) for (const p of newlySuspected) this.suspect(p);
    if (now - this.lastProbeAt >= this.ctx.config.suspect_probe_interval_ms) {
      this.lastProbeAt = now;
      for (const p of this.suspects.keys()) this.ctx.send(p, { t: 'ping', seq: 0 });
    }
  }

  /** Suspect a peer now (also used when a transport reports a link down). */
  suspect(peer: PeerId): void {
    if (peer === this.ctx.self || this.suspects.has(peer)) return;
    this.suspects.set(peer, this.ctx.now());
    this.nSuspects = this.suspects.size;
    this.ctx.counters.add('fd.suspected');
    if (this.suspects.size > this.ctx.config.suspects_max) {
      const oldest = this.suspects.keys().next().value as PeerId;
      this.suspects.delete(oldest);
      this.nSuspects = this.suspects.size;
    }
    for (const fn of this.onSuspectFns) fn(peer);
  }
}
