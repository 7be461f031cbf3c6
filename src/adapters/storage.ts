import type { Json } from '../core/types.ts';

/**
 * Storage adapter: the only way a peer's durable state reaches a disk.
 * Implementations: MemoryStorage (tests, simulator), IndexedDbStorage (browser worker),
 * FileStorage (Node peer). Every implementation passes test/storage-suite.ts.
 *
 * Records are string keys mapped to JSON values. A batch is applied atomically: after a
 * crash either all of it is there or none of it.
 */
export interface WriteBatch {
  readonly puts: ReadonlyArray<readonly [string, Json]>;
  readonly dels: ReadonlyArray<string>;
}

export interface StorageUsage {
  readonly records: number;
  /** Approximate bytes of keys and values (JSON length). */
  readonly bytes: number;
}

export interface StorageAdapter {
  /** Every record, sorted by key. Called once at start. */
  loadAll(): Promise<Array<[string, Json]>>;
  /**
   * Applies the batch atomically and resolves only once it is durable. Batches whose write()
   * calls overlap in time may be group-committed together, but each promise resolves only
   * after its own batch is durable, and batches apply in call order.
   * Rejects with a StorageError (never silently drops a batch).
   */
  write(batch: WriteBatch): Promise<void>;
  usage(): Promise<StorageUsage>;
  /** Waits for pending writes, then releases the store. Later calls reject with code 'closed'. */
  close(): Promise<void>;
  /** Closes and deletes every record (a peer that loses its storage). */
  destroy(): Promise<void>;
}

export type StorageErrorCode = 'quota' | 'io' | 'closed' | 'corrupt' | 'invalid';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}
