import { addId, dist, inOpenClosed } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { FailureDetector } from '../ring/failure-detector.ts';

/**
 * Chord fingers: finger i points at the peer responsible for self + 2^i.
 *
 * Only the fingers that can differ from the successor are kept: with N peers the gap
 * between neighbours is about 2^52 / N, so fingers below it all point at the successor.
 * That keeps the number of distinct links O(log N), which matters in a browser where each
 * link is a WebRTC connection. Fingers may be stale: routing then takes more hops, never a
 * wrong turn, because every hop still moves clockwise towards the target without passing it.
 * Measured: Chord fingers meet the hop targets (avg ~0.5 log2 N) with the successor list
 * used as extra shortcuts, so the k-ary alternative (more links) was not needed.
 */
export class Fingers {
  /** finger index (the exponent) -> peer */
  private readonly table = new Map<number, PeerId>();
  private nextFix = 51;

  constructor(
    private readonly ctx: PeerContext,
    private readonly fd: FailureDetector,
  ) {}

  /** Smallest useful exponent, estimated from how far our successor list reaches. */
  lowestUsefulExponent(succs: PeerId[]): number {
    const self = this.ctx.self;
    const last = succs[succs.length - 1];
    if (last === undefined || last === self) return 51;
    const gap = dist(self, last) / succs.length;
    return Math.max(0, Math.min(51, Math.floor(Math.log2(Math.max(1, gap)))));
  }

  /** The next finger to repair, round robin over the useful ones: returns [exponent, target]. */
  nextToFix(succs: PeerId[]): [number, PeerId] {
    const lo = this.lowestUsefulExponent(succs);
    if (this.nextFix < lo) this.nextFix = 51;
    const i = this.nextFix;
    this.nextFix = i - 1;
    // Drop entries that fell below the useful range (the ring grew denser).
    for (const k of this.table.keys()) if (k < lo) this.drop(k);
    return [i, addId(this.ctx.self, 2 ** i)];
  }

  set(i: number, peer: PeerId): void {
    const old = this.table.get(i);
    if (old === peer) return;
    if (old !== undefined) this.drop(i);
    if (peer === this.ctx.self) return;
    this.table.set(i, peer);
    this.fd.watch(peer, `finger`);
  }

  private drop(i: number): void {
    const old = this.table.get(i);
    if (old === undefined) return;
    this.table.delete(i);
    if (![...this.table.values()].includes(old)) this.fd.unwatch(old, 'finger');
  }

  /** Forget every finger pointing at a suspected peer (the next repair finds a live one). */
  removePeer(peer: PeerId): void {
    for (const [i, p] of [...this.table]) if (p === peer) this.drop(i);
  }

  peers(): PeerId[] {
    return [...new Set(this.table.values())];
  }

  /**
   * The live peer among fingers and candidates that is closest before or at target, going
   * clockwise from self; null if none is in (self, target].
   */
  closestPreceding(target: PeerId, candidates: readonly PeerId[]): PeerId | null {
    // Two plain loops (no closure: this runs at every routing hop).
    const self = this.ctx.self;
    const fd = this.fd;
    let best: PeerId | null = null;
    let bestDist = -1;
    for (const p of this.table.values()) {
      if (p === self || fd.isSuspected(p) || !inOpenClosed(p, self, target)) continue;
      const d = dist(self, p);
      if (d > bestDist) {
        best = p;
        bestDist = d;
      }
    }
    for (const p of candidates) {
      if (p === self || fd.isSuspected(p) || !inOpenClosed(p, self, target)) continue;
      const d = dist(self, p);
      if (d > bestDist) {
        best = p;
        bestDist = d;
      }
    }
    return best;
  }
}
