import type { NetworkAdapter } from '../src/adapters/network.ts';
import type { PeerId } from '../src/core/types.ts';

/**
 * Traffic with one peer since this tab started, as handed to the transport: a "message" is
 * one send (the driver may pack several protocol messages into one).
 */
export interface LinkCounts {
  peer: PeerId;
  messagesIn: number;
  messagesOut: number;
  /** Encoded message sizes in UTF-16 code units: equal to bytes for the ASCII JSON the protocol sends. */
  bytesIn: number;
  bytesOut: number;
  /** Whether the transport has an open link to it now. */
  connected: boolean;
}

/** Peers kept at most; the quietest go first (a tab holds a few dozen links). */
const peers_counted_max = 512;

/**
 * A NetworkAdapter that counts messages and bytes per peer on the way through, for the
 * console's connection table, and otherwise passes everything to the transport unchanged.
 * Read-only towards the transport: its own statistics stay where they are.
 */
export class CountingNetwork implements NetworkAdapter {
  private readonly counts = new Map<PeerId, { mi: number; mo: number; bi: number; bo: number }>();

  constructor(private readonly inner: NetworkAdapter) {}

  get self(): PeerId {
    return this.inner.self;
  }

  send(to: PeerId, data: string): void {
    this.inner.send(to, data);
    const c = this.entry(to);
    c.mo++;
    c.bo += data.length;
  }

  onMessage(handler: (from: PeerId, data: string) => void): void {
    this.inner.onMessage((from, data) => {
      const c = this.entry(from);
      c.mi++;
      c.bi += data.length;
      handler(from, data);
    });
  }

  onLinkDown(handler: (peer: PeerId) => void): void {
    this.inner.onLinkDown(handler);
  }

  connectedPeers(): PeerId[] {
    return this.inner.connectedPeers();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Per-peer traffic, by peer id. */
  links(): LinkCounts[] {
    const up = new Set(this.inner.connectedPeers());
    return [...this.counts]
      .sort(([a], [b]) => a - b)
      .map(([peer, c]) => ({ peer, messagesIn: c.mi, messagesOut: c.mo, bytesIn: c.bi, bytesOut: c.bo, connected: up.has(peer) }));
  }

  private entry(p: PeerId): { mi: number; mo: number; bi: number; bo: number } {
    let c = this.counts.get(p);
    if (c === undefined) {
      if (this.counts.size >= peers_counted_max) this.evictQuietest();
      c = { mi: 0, mo: 0, bi: 0, bo: 0 };
      this.counts.set(p, c);
    }
    return c;
  }

  private evictQuietest(): void {
    const up = new Set(this.inner.connectedPeers());
    let worst: PeerId | null = null;
    let least = Infinity;
    for (const [p, c] of this.counts) {
      if (up.has(p)) continue;
      const n = c.mi + c.mo;
      if (n < least) {
        least = n;
        worst = p;
      }
    }
    if (worst !== null) this.counts.delete(worst);
    else this.counts.delete(this.counts.keys().next().value as PeerId);
  }
}
