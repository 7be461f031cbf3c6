import type { WriteBatch } from '../adapters/storage.ts';
import type { Json } from '../core/types.ts';

/**
 * A peer's simulated disk. A batch becomes durable when its write completes; a crash
 * before that loses it (and every later one), as a real disk loses unsynced writes.
 * Batches are atomic and complete in order.
 */
export class SimDisk {
  readonly durable = new Map<string, Json>();
  /** Batches written but not yet durable, oldest first. */
  readonly inFlight: Array<{ id: number; batch: WriteBatch }> = [];
  private nextId = 1;
  bytesWritten = 0;
  batchesWritten = 0;

  begin(batch: WriteBatch): number {
    const id = this.nextId++;
    this.inFlight.push({ id, batch });
    return id;
  }

  /** The write of batch `id` completed: it and everything before it is durable. */
  complete(id: number): void {
    while (this.inFlight.length > 0 && this.inFlight[0]!.id <= id) {
      const { batch } = this.inFlight.shift()!;
      for (const [k, v] of batch.puts) {
        this.durable.set(k, v);
        this.bytesWritten += k.length + JSON.stringify(v).length;
      }
      for (const k of batch.dels) this.durable.delete(k);
      this.batchesWritten++;
    }
  }

  /** A crash: unsynced batches are gone. */
  crash(): void {
    this.inFlight.length = 0;
  }

  /** Lose everything (a tab whose storage was cleared). */
  wipe(): void {
    this.inFlight.length = 0;
    this.durable.clear();
  }

  records(): Array<[string, Json]> {
    return [...this.durable.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
