import { deleteDB, openDB, unwrap, type IDBPDatabase } from 'idb';
import type { Json } from '../src/core/types.ts';
import { CommitQueue, DEFAULT_GROUP_LIMITS, asStorageError, type GroupLimits } from '../src/adapters/commit-queue.ts';
import { StorageError, type StorageAdapter, type StorageUsage, type WriteBatch } from '../src/adapters/storage.ts';
import { decodeValue, prepareBatch, UsageIndex, type PreparedBatch } from '../src/adapters/storage-codec.ts';

/**
 * StorageAdapter on IndexedDB (browser worker or page), one database per peer. Records live
 * in one object store as JSON text keyed by the record key (IndexedDB sorts string keys in
 * UTF-16 code-unit order, the order loadAll promises).
 *
 * Group commit: one readwrite transaction in flight; write()s arriving meanwhile go together
 * into the next one. Transactions default to durability 'strict' because the peer
 * acknowledges votes and commits only after write() resolves.
 *
 * Failures, each rejecting every batch of the affected transaction with a StorageError:
 * - QuotaExceededError -> 'quota'; an aborted or failed transaction -> 'io'. Later writes
 *   are tried normally, so the adapter recovers once the cause goes away.
 * - The browser closed the connection ('close' event) or another connection wants to
 *   upgrade/delete the database ('versionchange': we close at once so we never block it):
 *   the next commit reopens. A transaction that cannot even start on a dead connection is
 *   retried once on a fresh one (nothing of it was applied).
 * - The database was deleted underneath us (a versionchange to null, or a reopen that finds
 *   it freshly created): the peer has lost its storage, and every later call rejects with
 *   'corrupt' until destroy(); it must rejoin under a new identity (DESIGN.md 5).
 */
export type Durability = 'strict' | 'relaxed' | 'default';

export interface IndexedDbStorageOptions {
  readonly durability?: Durability;
  readonly groupLimits?: GroupLimits;
  /** How long destroy() may stay blocked by other connections (counted from 'blocked'). */
  readonly blockedTimeoutMs?: number;
  /** How long opening may take (it waits behind a blocked delete without any event). */
  readonly openTimeoutMs?: number;
}

const STORE = 'records';
const DB_VERSION = 1;
/** Deleting blocked this long by another connection fails with 'io'. */
export const BLOCKED_TIMEOUT_MS = 10_000;
/** An open that has not succeeded after this long fails with 'io' (a healthy one takes ms). */
export const OPEN_TIMEOUT_MS = 10_000;

/** Maps a DOMException from IndexedDB to a StorageError code. */
export function idbError(e: unknown, context: string): StorageError {
  if (e instanceof StorageError) return e;
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'QuotaExceededError') {
    return new StorageError('quota', `${context}: ${String((e as Error).message)}`, { cause: e });
  }
  return asStorageError(e, context);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onLate: (v: T) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new StorageError('io', `${what}: not done after ${ms} ms (blocked by another connection?)`));
    }, ms);
    p.then(
      (v) => (late ? onLate(v) : (clearTimeout(timer), resolve(v))),
      (e: unknown) => (late ? undefined : (clearTimeout(timer), reject(e))),
    );
  });
}

function transactionDone(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });
}

export class IndexedDbStorage implements StorageAdapter {
  private readonly queue: CommitQueue;
  private readonly durability: Durability;
  private readonly blockedTimeoutMs: number;
  private readonly openTimeoutMs: number;
  private db: IDBPDatabase | undefined;
  private connecting: Promise<IDBPDatabase> | undefined;
  private everOpened = false;
  private lost: string | undefined;
  private closed = false;
  private readonly index = new UsageIndex();
  /** The index counts every record only after a full scan (loadAll or the first usage()). */
  private indexReady = false;
  private abortNext = false;
  readonly stats = { commits: 0, batches: 0, reconnects: 0 };

  private constructor(
    readonly name: string,
    options: IndexedDbStorageOptions,
  ) {
    this.durability = options.durability ?? 'strict';
    this.blockedTimeoutMs = options.blockedTimeoutMs ?? BLOCKED_TIMEOUT_MS;
    this.openTimeoutMs = options.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    this.queue = new CommitQueue((group) => this.commit(group), options.groupLimits ?? DEFAULT_GROUP_LIMITS);
  }

  /** Opens (creating if needed) the database `name`. */
  static async open(name: string, options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorage> {
    const storage = new IndexedDbStorage(name, options);
    await storage.connection();
    return storage;
  }

  /** Test hook: abort the next commit's transaction after its requests are issued. */
  abortNextCommit(): void {
    this.abortNext = true;
  }

  /** Test hook: close the connection behind the adapter's back, as the browser may. */
  dropConnectionForTest(): void {
    this.db?.close();
  }

  async loadAll(): Promise<Array<[string, Json]>> {
    this.checkUsable();
    return this.queue.run(async () => {
      const [keys, values] = await this.scan();
      return keys.map((k, i): [string, Json] => [k, decodeValue(values[i]!)]);
    });
  }

  async write(batch: WriteBatch): Promise<void> {
    this.checkUsable();
    return this.queue.write(prepareBatch(batch));
  }

  async usage(): Promise<StorageUsage> {
    this.checkUsable();
    if (!this.indexReady) await this.queue.run(() => this.scan());
    return this.index.usage();
  }

  /** What the browser says about the whole origin (all peers' databases), when available. */
  async estimate(): Promise<StorageEstimate | undefined> {
    return typeof navigator !== 'undefined' && navigator.storage?.estimate ? navigator.storage.estimate() : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      await this.connecting?.catch(() => undefined);
      this.db?.close();
      this.db = undefined;
    });
  }

  /**
   * Closes and deletes the database. If another connection holds it open and does not let go
   * within blockedTimeoutMs, rejects with 'io'; the delete request stays queued in the browser
   * and happens once that connection closes.
   */
  async destroy(): Promise<void> {
    await this.close();
    const what = `deleting ${this.name}`;
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const blocked = (): void => {
        const ms = this.blockedTimeoutMs;
        timer ??= setTimeout(() => reject(new StorageError('io', `${what}: blocked by another connection for ${ms} ms`)), ms);
      };
      deleteDB(this.name, { blocked }).then(
        () => (clearTimeout(timer), resolve()),
        (e: unknown) => (clearTimeout(timer), reject(idbError(e, what))),
      );
    });
  }

  private checkUsable(): void {
    if (this.closed) throw new StorageError('closed', `IndexedDB storage ${this.name} is closed`);
    if (this.lost !== undefined) throw new StorageError('corrupt', this.lost);
  }

  private markLost(why: string): void {
    this.lost ??= `IndexedDB database ${this.name} ${why}: storage lost`;
  }

  /** The open connection, reopening if the last one was closed underneath us. */
  private connection(): Promise<IDBPDatabase> {
    if (this.db !== undefined) return Promise.resolve(this.db);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<IDBPDatabase> {
    const reopening = this.everOpened;
    if (reopening) this.stats.reconnects++;
    const opening = openDB(this.name, DB_VERSION, {
      upgrade: (db, oldVersion) => {
        if (oldVersion === 0 && reopening) this.markLost('was deleted');
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE);
      },
      // Never block another connection's upgrade or delete; the next commit reopens.
      blocking: (_current, next) => {
        if (next === null) this.markLost('is being deleted');
        this.forget(db);
      },
      terminated: () => this.forget(db),
    });
    let db: IDBPDatabase;
    try {
      db = await withTimeout(opening, this.openTimeoutMs, `opening ${this.name}`, (late) => late.close());
    } catch (e) {
      throw idbError(e, `opening ${this.name}`);
    }
    this.everOpened = true;
    if (this.lost !== undefined) {
      db.close();
      throw new StorageError('corrupt', this.lost);
    }
    this.db = db;
    return db;
  }

  private forget(db: IDBPDatabase | undefined): void {
    db?.close();
    if (this.db === db) this.db = undefined;
  }

  private async begin(mode: IDBTransactionMode): Promise<IDBTransaction> {
    for (let attempt = 0; ; attempt++) {
      const db = await this.connection();
      try {
        return unwrap(db).transaction(STORE, mode, { durability: this.durability });
      } catch (e) {
        // InvalidStateError: the connection is closing. Nothing ran yet: reopen and retry once.
        if ((e as { name?: unknown }).name !== 'InvalidStateError' || attempt > 0) throw e;
        this.forget(db);
      }
    }
  }

  private async commit(group: PreparedBatch[]): Promise<void> {
    try {
      if (this.lost !== undefined) throw new StorageError('corrupt', this.lost);
      const tx = await this.begin('readwrite');
      const done = transactionDone(tx);
      const store = tx.objectStore(STORE);
      // Raw requests, not idb's promise wrappers: one promise per put would cost time and,
      // on abort, thousands of unhandled rejections. Requests run in issue order.
      for (const b of group) {
        for (const [k, json] of b.puts) store.put(json, k);
        for (const k of b.dels) store.delete(k);
      }
      if (this.abortNext) {
        this.abortNext = false;
        tx.abort();
      }
      await done;
    } catch (e) {
      const error = idbError(e, `committing to ${this.name}`);
      if (this.lost !== undefined && error.code !== 'corrupt') throw new StorageError('corrupt', this.lost, { cause: e });
      throw error;
    }
    this.stats.commits++;
    this.stats.batches += group.length;
    if (this.indexReady) for (const b of group) this.index.apply(b);
  }

  /** Reads every key and value in one transaction and rebuilds the usage index. */
  private async scan(): Promise<[string[], string[]]> {
    try {
      if (this.lost !== undefined) throw new StorageError('corrupt', this.lost);
      const tx = await this.begin('readonly');
      const store = tx.objectStore(STORE);
      const keysReq = store.getAllKeys();
      const valuesReq = store.getAll();
      await transactionDone(tx);
      const keys = keysReq.result as string[];
      const values = valuesReq.result as string[];
      this.index.clear();
      for (let i = 0; i < keys.length; i++) this.index.put(keys[i]!, values[i]!);
      this.indexReady = true;
      return [keys, values];
    } catch (e) {
      throw idbError(e, `reading ${this.name}`);
    }
  }
}
