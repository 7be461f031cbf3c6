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
interface Watched {
  peer: PeerId;
  /** Why it is watched ('succ', 'pred', 'finger', ...): unwatched when no reason is left. */
  reasons: Set<string>;
  lastHeardAt: number;
  lastPingSeq: number;
  lastPingAt: number;
  srtt: number;
  rttvar: number;
  /** Extra margin earned by false suspicions. */
  marginMs: number;
}

export class FailureDetector {
  private readonly watched = new Map<PeerId, Watched>();
  /** Suspected peer -> time of suspicion (insertion order = age). */
  private readonly suspects = new Map<PeerId, number>();
  /** Margins survive unwatching, so a peer known to be slow stays treated as slow. */
  private readonly margins = new Map<PeerId, number>();
  private seq = 0;
  private lastProbeAt = -Infinity;
  private onSuspectFns: Array<(p: PeerId) => void> = [];
  private onAliveFns: Array<(p: PeerId) => void> = [];
  /**
   * The entry heard() last looked up (a pong is heard() and then pong() for the same peer):
   * saves a second lookup in a map keyed by 52-bit ids. Reset whenever `watched` changes.
   */
  private lastPeer = NaN;
  private lastW: Watched | undefined = undefined;

  constructor(private readonly ctx: PeerContext) {}

  onSuspect(fn: (p: PeerId) => void): void {
    this.onSuspectFns.push(fn);
  }

  /** Called when a suspected peer is heard from again. */
  onAlive(fn: (p: PeerId) => void): void {
    this.onAliveFns.push(fn);
  }

  watch(peer: PeerId, reason: string): void {
    if (peer === this.ctx.self) return;
    let w = this.watched.get(peer);
    if (!w) {
      w = {
        peer,
        reasons: new Set(),
        lastHeardAt: this.ctx.now(),
        lastPingSeq: -1,
        lastPingAt: 0,
        srtt: 0,
        rttvar: 0,
        marginMs: this.margins.get(peer) ?? 0,
      };
      this.watched.set(peer, w);
      this.lastPeer = NaN;
    }
    w.reasons.add(reason);
  }

  unwatch(peer: PeerId, reason: string): void {
    const w = this.watched.get(peer);
    if (!w) return;
    w.reasons.delete(reason);
    if (w.reasons.size === 0) {
      this.watched.delete(peer);
      this.lastPeer = NaN;
    }
  }

  isWatched(peer: PeerId): boolean {
    return this.watched.has(peer);
  }

  isSuspected(peer: PeerId): boolean {
    // Asked for every candidate of every routing step and pong; usually nobody is suspected.
    return this.suspects.size > 0 && this.suspects.has(peer);
  }

  suspected(): PeerId[] {
    return [...this.suspects.keys()];
  }

  watchedPeers(): PeerId[] {
    return [...this.watched.keys()];
  }

  /** Any message from peer: it is alive. */
  heard(peer: PeerId): void {
    const now = this.ctx.now();
    const w = this.watched.get(peer);
    this.lastPeer = peer;
    this.lastW = w;
    if (w) w.lastHeardAt = now;
    if (this.suspects.size > 0 && this.suspects.has(peer)) {
      this.suspects.delete(peer);
      // A false suspicion (or a healed partition): be more patient with this peer from now on.
      const margin = Math.min(
        this.ctx.config.fd_false_suspicion_margin_max_ms,
        Math.max(this.ctx.config.heartbeat_interval_ms, 2 * (this.margins.get(peer) ?? 0)),
      );
      this.margins.set(peer, margin);
      if (w) w.marginMs = margin;
      this.ctx.counters.add('fd.recovered');
      for (const fn of this.onAliveFns) fn(peer);
    }
  }

  /** A pong: measure the round trip of the matching ping. */
  pong(peer: PeerId, seq: number): void {
    const w = peer === this.lastPeer ? this.lastW : this.watched.get(peer);
    if (!w || seq !== w.lastPingSeq) return;
    const rtt = this.ctx.now() - w.lastPingAt;
    if (w.srtt === 0) {
      w.srtt = rtt;
      w.rttvar = rtt / 2;
    } else {
      w.rttvar = 0.75 * w.rttvar + 0.25 * Math.abs(w.srtt - rtt);
      w.srtt = 0.875 * w.srtt + 0.125 * rtt;
    }
  }

  timeoutOf(peer: PeerId): number {
    const w = this.watched.get(peer);
    if (!w) return this.ctx.config.fd_timeout_min_ms;
    return this.timeoutOfWatched(w);
  }

  private timeoutOfWatched(w: Watched): number {
    const cfg = this.ctx.config;
    return Math.max(cfg.fd_timeout_min_ms, 2 * cfg.heartbeat_interval_ms + w.srtt + 4 * w.rttvar) + w.marginMs;
  }

  /** One heartbeat round: ping the watched, suspect the silent, probe some suspects. */
  heartbeat(): void {
    const now = this.ctx.now();
    let newlySuspected: PeerId[] | null = null;
    // Over values (each knows its peer): iterating entries built a [key, value] pair per peer.
    for (const w of this.watched.values()) {
      const peer = w.peer;
      if (this.isSuspected(peer)) continue;
      if (now - w.lastHeardAt > this.timeoutOfWatched(w)) {
        (newlySuspected ??= []).push(peer);
        continue;
      }
      w.lastPingSeq = ++this.seq;
      w.lastPingAt = now;
      this.ctx.send(peer, { t: 'ping', seq: w.lastPingSeq });
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
    this.ctx.counters.add('fd.suspected');
    if (this.suspects.size > this.ctx.config.suspects_max) {
      const oldest = this.suspects.keys().next().value as PeerId;
      this.suspects.delete(oldest);
    }
    for (const fn of this.onSuspectFns) fn(peer);
  }
}
