import type { MemoryStorage } from '../adapters/memory-storage.ts';
import type { StorageAdapter, StorageUsage, WriteBatch } from '../adapters/storage.ts';
import type { PeerConfig } from '../peer/config.ts';

/**
 * Protocol timers shortened for tests of real-time drivers (heartbeats of 50 ms), so that a
 * ring forms and heals in well under a second of real time. Not for production: on a busy
 * machine such short failure-detector timeouts suspect live peers.
 */
export const fastConfig: Partial<PeerConfig> = {
  heartbeat_interval_ms: 50,
  fd_timeout_min_ms: 300,
  suspect_probe_interval_ms: 300,
  finger_fix_interval_ms: 100,
  join_retry_ms: 100,
  lookup_timeout_ms: 1000,
  request_timeout_ms: 1000,
  read_timeout_ms: 300,
  tx_commit_timeout_ms: 500,
  tx_outcome_timeout_ms: 3000,
  tx_recovery_timeout_ms: 1000,
  tp_inquiry_ms: 1000,
  repair_interval_ms: 100,
  anti_entropy_interval_ms: 1000,
  handover_retry_ms: 300,
};

/**
 * The real MemoryStorage whose writes can be held back (hold/release), to watch what waits
 * for durability while a write is in flight. Each write applies at once; its promise settles
 * when the gate opens (a failure too: it is reported then, not while held).
 */
export class GatedStorage implements StorageAdapter {
  private gate: Promise<void> | null = null;
  private open_: (() => void) | null = null;
  /** Every batch handed to write(), in order. */
  readonly batches: WriteBatch[] = [];
  constructor(readonly inner: MemoryStorage) {}
  get writes(): number {
    return this.batches.length;
  }
  hold(): void {
    this.gate = new Promise((r) => (this.open_ = r));
  }
  release(): void {
    this.open_?.();
    this.gate = null;
  }
  loadAll() {
    return this.inner.loadAll();
  }
  async write(batch: WriteBatch): Promise<void> {
    this.batches.push(batch);
    const p = this.inner.write(batch);
    p.catch(() => {}); // reported when the gate opens
    if (this.gate) await this.gate;
    return p;
  }
  usage(): Promise<StorageUsage> {
    return this.inner.usage();
  }
  close() {
    return this.inner.close();
  }
  destroy() {
    return this.inner.destroy();
  }
}
