import type { Json } from '../core/types.ts';
import {
  StorageError,
  type StorageAdapter,
  type StorageErrorCode,
  type StorageUsage,
  type WriteBatch,
} from './storage.ts';
import { compareKeys, decodeValue, prepareBatch, UsageIndex } from './storage-codec.ts';

/**
 * The "disk" behind MemoryStorage: named stores that outlive a MemoryStorage instance, so a
 * test can close a store and reopen it by name. Give each test (or simulated machine) its own.
 */
export class MemoryVolume {
  readonly stores = new Map<string, Map<string, string>>();
}

export interface MemoryStorageOptions {
  /** Where the records live; defaults to a private volume (reopening then finds nothing). */
  readonly volume?: MemoryVolume;
  /** Writes that would make usage().bytes exceed this reject with 'quota' and apply nothing. */
  readonly quotaBytes?: number;
}

/**
 * StorageAdapter in memory, for tests and the simulator. Values are kept as JSON text, so
 * they are deep-copied in (at write() time) and out (every load): callers never alias state.
 * Writes apply at once and resolve on a microtask, in call order.
 */
export class MemoryStorage implements StorageAdapter {
  private readonly volume: MemoryVolume;
  private records: Map<string, string>;
  private readonly index = new UsageIndex();
  private closed = false;
  private quotaBytes: number | undefined;
  private failures: StorageErrorCode[] = [];

  constructor(
    readonly name: string,
    options: MemoryStorageOptions = {},
  ) {
    this.volume = options.volume ?? new MemoryVolume();
    this.quotaBytes = options.quotaBytes;
    this.records = this.store();
    for (const [key, json] of this.records) this.index.put(key, json);
  }

  /** Test hook: the next `count` writes reject with `code` and apply nothing. */
  failNext(code: StorageErrorCode, count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(code);
  }

  /** Test hook: change (or lift, with undefined) the quota in bytes. */
  setQuotaBytes(bytes: number | undefined): void {
    this.quotaBytes = bytes;
  }

  async loadAll(): Promise<Array<[string, Json]>> {
    this.checkOpen();
    const keys = [...this.records.keys()].sort(compareKeys);
    return keys.map((key) => [key, decodeValue(this.records.get(key)!)]);
  }

  async write(batch: WriteBatch): Promise<void> {
    this.checkOpen();
    const prepared = prepareBatch(batch);
    const failure = this.failures.shift();
    if (failure !== undefined) throw new StorageError(failure, `injected failure (${failure})`);
    if (this.quotaBytes !== undefined) {
      const after = this.index.bytesAfter(prepared);
      if (after > this.quotaBytes && after > this.index.usage().bytes) {
        throw new StorageError('quota', `would use ${after} bytes, quota is ${this.quotaBytes}`);
      }
    }
    for (const [key, json] of prepared.puts) this.records.set(key, json);
    for (const key of prepared.dels) this.records.delete(key);
    this.index.apply(prepared);
  }

  async usage(): Promise<StorageUsage> {
    this.checkOpen();
    return this.index.usage();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async destroy(): Promise<void> {
    this.closed = true;
    this.volume.stores.delete(this.name);
    this.records = new Map();
    this.index.clear();
  }

  private store(): Map<string, string> {
    let records = this.volume.stores.get(this.name);
    if (records === undefined) {
      records = new Map();
      this.volume.stores.set(this.name, records);
    }
    return records;
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('closed', `memory storage ${this.name} is closed`);
  }
}
