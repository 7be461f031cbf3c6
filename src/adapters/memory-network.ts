import type { PeerId } from '../core/types.ts';
import { MESSAGE_BYTES_MAX, NetworkError, type NetworkAdapter } from './network.ts';

/**
 * An in-process network: a hub that many adapters attach to, for tests and for running
 * real peers in one Node process. It keeps the contract of the real transports:
 * - delivery is asynchronous (a queued task, never inside send()) and in order per pair;
 * - a link opens lazily on the first send between two peers and is reported by
 *   connectedPeers() on both sides;
 * - closing an adapter, or cutting a pair, reports link-down on the live side(s);
 * - anything undeliverable (unknown peer, closed peer, cut pair) is dropped and counted.
 */
export interface MemoryNetworkStats {
  delivered: number;
  dropped_unknown_peer: number;
  dropped_cut: number;
  dropped_closed: number;
}

interface InFlight {
  from: PeerId;
  to: PeerId;
  data: string;
}

export class MemoryNetwork {
  private readonly adapters = new Map<PeerId, MemoryAdapter>();
  private readonly cutPairs = new Set<string>();
  private readonly links = new Set<string>();
  /** One FIFO for the whole hub: keeps per-pair order and is cheap to drain. */
  private queue: InFlight[] = [];
  private drainScheduled = false;
  readonly counters: MemoryNetworkStats = {
    delivered: 0,
    dropped_unknown_peer: 0,
    dropped_cut: 0,
    dropped_closed: 0,
  };

  /** A new adapter for `peerId`. A peer id may be reused once its earlier adapter is closed. */
  adapter(peerId: PeerId): NetworkAdapter {
    checkPeerId(peerId);
    if (this.adapters.has(peerId)) throw new Error(`peer ${peerId} is already attached to this hub`);
    const adapter = new MemoryAdapter(this, peerId);
    this.adapters.set(peerId, adapter);
    return adapter;
  }

  /** Partition two peers: both sides see link-down; messages between them are dropped until heal(). */
  cut(a: PeerId, b: PeerId): void {
    this.cutPairs.add(pairKey(a, b));
    this.linkDown(a, b);
  }

  heal(a: PeerId, b: PeerId): void {
    this.cutPairs.delete(pairKey(a, b));
  }

  /** Copy of the counters, for tests. */
  stats(): MemoryNetworkStats {
    return { ...this.counters };
  }

  // ---- used by MemoryAdapter ----

  /** @internal */
  enqueue(from: PeerId, to: PeerId, data: string): void {
    if (!this.adapters.has(to)) {
      this.counters.dropped_unknown_peer++;
      return;
    }
    if (this.cutPairs.has(pairKey(from, to))) {
      this.counters.dropped_cut++;
      return;
    }
    this.openLink(from, to);
    this.queue.push({ from, to, data });
    if (!this.drainScheduled) {
      this.drainScheduled = true;
      scheduleTask(() => this.drain());
    }
  }

  /** @internal */
  connectedPeers(self: PeerId): PeerId[] {
    const out: PeerId[] = [];
    for (const key of this.links) {
      const [a, b] = splitKey(key);
      if (a === self) out.push(b);
      else if (b === self) out.push(a);
    }
    return out;
  }

  /** @internal */
  detach(self: PeerId): void {
    this.adapters.delete(self);
    for (const peer of this.connectedPeers(self)) this.linkDown(self, peer);
  }

  private openLink(a: PeerId, b: PeerId): void {
    if (a !== b) this.links.add(pairKey(a, b));
  }

  private linkDown(a: PeerId, b: PeerId): void {
    if (!this.links.delete(pairKey(a, b))) return;
    // Reported asynchronously, like a real transport's close event.
    scheduleTask(() => {
      this.adapters.get(a)?.emitLinkDown(b);
      this.adapters.get(b)?.emitLinkDown(a);
    });
  }

  private drain(): void {
    this.drainScheduled = false;
    // Take only what is queued now: messages sent by handlers go to the next task, so a
    // ping-pong between two handlers cannot starve timers.
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      const target = this.adapters.get(m.to);
      if (!target) this.counters.dropped_closed++;
      else if (this.cutPairs.has(pairKey(m.from, m.to))) this.counters.dropped_cut++;
      else {
        this.counters.delivered++;
        target.emitMessage(m.from, m.data);
      }
    }
  }
}

class MemoryAdapter implements NetworkAdapter {
  private readonly messageHandlers: Array<(from: PeerId, data: string) => void> = [];
  private readonly linkDownHandlers: Array<(peer: PeerId) => void> = [];
  private closed = false;

  constructor(
    private readonly hub: MemoryNetwork,
    readonly self: PeerId,
  ) {}

  send(to: PeerId, data: string): void {
    if (this.closed) throw new NetworkError('closed', `peer ${this.self} is closed`);
    if (messageTooLarge(data)) {
      throw new NetworkError('oversized', `message of more than ${MESSAGE_BYTES_MAX} bytes`);
    }
    this.hub.enqueue(this.self, to, data);
  }

  onMessage(handler: (from: PeerId, data: string) => void): void {
    this.messageHandlers.push(handler);
  }

  onLinkDown(handler: (peer: PeerId) => void): void {
    this.linkDownHandlers.push(handler);
  }

  connectedPeers(): PeerId[] {
    return this.closed ? [] : this.hub.connectedPeers(this.self);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.detach(this.self);
  }

  emitMessage(from: PeerId, data: string): void {
    if (this.closed) return;
    for (const h of this.messageHandlers) h(from, data);
  }

  emitLinkDown(peer: PeerId): void {
    if (this.closed) return;
    for (const h of this.linkDownHandlers) h(peer);
  }
}

/**
 * True when `data` is more than MESSAGE_BYTES_MAX bytes of UTF-8. Shared by every adapter so
 * they agree to the byte. Counts without allocating, and only when the answer is not
 * obvious from the length (every UTF-16 unit is 1 to 3 bytes).
 */
export function messageTooLarge(data: string): boolean {
  if (data.length > MESSAGE_BYTES_MAX) return true;
  if (data.length * 3 <= MESSAGE_BYTES_MAX) return false;
  return utf8Length(data) > MESSAGE_BYTES_MAX;
}

/** UTF-8 length of a string; a lone surrogate counts as the 3 bytes of U+FFFD it becomes. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

const PEER_ID_LIMIT = 2 ** 52;

function checkPeerId(p: PeerId): void {
  if (!Number.isInteger(p) || p < 0 || p >= PEER_ID_LIMIT) throw new Error(`bad peer id ${p}`);
}

function pairKey(a: PeerId, b: PeerId): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

function splitKey(key: string): [PeerId, PeerId] {
  const i = key.indexOf(':');
  return [Number(key.slice(0, i)), Number(key.slice(i + 1))];
}

/** A macrotask where the platform has a cheap one (Node: setImmediate), else setTimeout. */
function scheduleTask(fn: () => void): void {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') g.setImmediate(fn);
  else setTimeout(fn, 0);
}
