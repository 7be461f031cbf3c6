import { deleteDB, openDB, unwrap, type IDBPDatabase } from 'idb';
import type { Json } from '../src/core/types.ts';
import { CommitQueue, DEFAULT_GROUP_LIMITS, asStorageError, type GroupLimits } from '../src/adapters/commit-queue.ts';
import { StorageError, type StorageAdapter, type StorageUsage, type WriteBatch } from '../src/adapters/storage.ts';
import { compareKeys, decodeValue, prepareBatch, UsageIndex, type PreparedBatch } from '../src/adapters/storage-codec.ts';

/**
 * StorageAdapter on IndexedDB (browser worker or page), one database per peer, as a log
 * and a checkpoint:
 *   log      one entry per commit (key: sequence number): every record the commit changed,
 *            the JSON texts of puts and the keys of deletes, as one IndexedDB value;
 *   records  the checkpoint: one IndexedDB record per store record (JSON text keyed by the
 *            record key; IndexedDB sorts string keys in UTF-16 code-unit order, the order
 *            loadAll promises).
 * loadAll reads the checkpoint and replays the log over it. Once the log holds
 * log_entries_max entries or log_chars_max chars, the records it changed are written into
 * the checkpoint (the latest value of each, in chunks of checkpoint_records_max puts so that
 * writes go on in between) and the log entries they cover are deleted in the transaction
 * that writes the last chunk.
 *
 * Why a log: an IndexedDB put costs about 0.13 ms of the browser's IndexedDB sequence, a
 * transaction about 1.2 ms (PLATFORM.md: ~860 one-put transactions/s, ~7,000 puts/s
 * batched), and every tab of one browser profile shares that sequence. A transaction
 * touches ~28 records across the ring (votes, acceptor state, applied items), most of them
 * rewritten or deleted moments later; as one put per commit they cost one put, and a record
 * reaches the checkpoint once per checkpoint however often it changed, or never when it was
 * deleted before (measured with `npm run bench:browser`: see README).
 *
 * Crash safety: each commit is one IndexedDB transaction (atomic). Log entries hold whole
 * values, so replaying them in order over any checkpoint written between them gives the
 * same state: a checkpoint interrupted between chunks leaves the log in place and loses
 * nothing.
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
  readonly log?: Partial<LogLimits>;
}

export interface LogLimits {
  /** Checkpoint once the log holds this many entries (one per commit)... */
  log_entries_max: number;
  /** ...or this many chars of keys and JSON. Both bound the replay at open. */
  log_chars_max: number;
  /** Puts and deletes per checkpoint transaction: a write waits behind one chunk at most. */
  checkpoint_records_max: number;
}

export const DEFAULT_LOG_LIMITS: LogLimits = {
  log_entries_max: 1024,
  log_chars_max: 8 * 1024 * 1024,
  checkpoint_records_max: 256,
};

const RECORDS = 'records';
const LOG = 'log';
/** 1: records only. 2: records + log (a version-1 database is upgraded in place: its records are the checkpoint). */
const DB_VERSION = 2;

/** A log entry: the keys and JSON texts of the puts (alternating), then the deleted keys. */
interface LogEntry {
  p: string[];
  d: string[];
}
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
  private abortChunks = 0;
  private readonly logLimits: LogLimits;
  /** Sequence number of the next log entry. */
  private nextSeq = 1;
  /** Log entries (and their chars) not yet covered by a checkpoint. */
  private logEntries = 0;
  private logChars = 0;
  /** What the log changed since the last checkpoint: key -> JSON text, or null when deleted. */
  private dirty = new Map<string, string | null>();
  /** Keys the checkpoint holds (known after a scan): deleting a key it never held costs nothing. */
  private checkpointed: Set<string> | null = null;
  private checkpointQueued = false;
  /** The checkpoint being written: what it covers; cancelled when a direct commit took it over. */
  private running: { snapshot: Map<string, string | null>; cancelled: boolean } | null = null;
  readonly stats = { commits: 0, batches: 0, reconnects: 0, checkpoints: 0, checkpointRecords: 0, checkpointFailures: 0 };

  private constructor(
    readonly name: string,
    options: IndexedDbStorageOptions,
  ) {
    this.durability = options.durability ?? 'strict';
    this.blockedTimeoutMs = options.blockedTimeoutMs ?? BLOCKED_TIMEOUT_MS;
    this.openTimeoutMs = options.openTimeoutMs ?? OPEN_TIMEOUT_MS;
    this.logLimits = { ...DEFAULT_LOG_LIMITS, ...options.log };
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

  /** Test hook: abort the next n checkpoint transactions after their requests are issued. */
  abortCheckpointChunks(n: number): void {
    this.abortChunks = n;
  }

  /** Test hook: close the connection behind the adapter's back, as the browser may. */
  dropConnectionForTest(): void {
    this.db?.close();
  }

  async loadAll(): Promise<Array<[string, Json]>> {
    this.checkUsable();
    return this.queue.run(async () => {
      const state = await this.scan();
      const keys = [...state.keys()].sort(compareKeys);
      return keys.map((k): [string, Json] => [k, decodeValue(state.get(k)!)]);
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
        if (oldVersion === 0 && !reopening) {
          // A new database: the checkpoint and the usage are known (empty) without a scan.
          this.checkpointed = new Set();
          this.indexReady = true;
        }
        if (!db.objectStoreNames.contains(RECORDS)) db.createObjectStore(RECORDS);
        if (!db.objectStoreNames.contains(LOG)) db.createObjectStore(LOG);
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

  private async begin(stores: string | string[], mode: IDBTransactionMode): Promise<IDBTransaction> {
    for (let attempt = 0; ; attempt++) {
      const db = await this.connection();
      try {
        return unwrap(db).transaction(stores, mode, { durability: this.durability });
      } catch (e) {
        // InvalidStateError: the connection is closing. Nothing ran yet: reopen and retry once.
        if ((e as { name?: unknown }).name !== 'InvalidStateError' || attempt > 0) throw e;
        this.forget(db);
      }
    }
  }

  /** One log entry for the whole group: one put, whatever the number of records. */
  private async commit(group: PreparedBatch[]): Promise<void> {
    // The group's net effect, in order (a later put or delete of a key wins).
    const net = new Map<string, string | null>();
    let chars = 0;
    for (const b of group) {
      for (const [k, json] of b.puts) net.set(k, json);
      for (const k of b.dels) net.set(k, null);
      chars += b.chars;
    }
    const entry: LogEntry = { p: [], d: [] };
    for (const [k, json] of net) {
      if (json === null) entry.d.push(k);
      else entry.p.push(k, json);
    }
    const seq = this.nextSeq++;
    try {
      if (this.lost !== undefined) throw new StorageError('corrupt', this.lost);
      const tx = await this.begin(LOG, 'readwrite');
      const done = transactionDone(tx);
      tx.objectStore(LOG).put(entry, seq);
      if (this.abortNext) {
        this.abortNext = false;
        tx.abort();
      }
      await done;
      for (const [k, json] of net) this.dirty.set(k, json);
      this.logEntries++;
      this.logChars += chars;
    } catch (e) {
      const error = this.commitError(e);
      // Over quota even a delete is a log entry that needs space. Write the group straight
      // into the checkpoint instead, with everything the log holds, and drop the log: the
      // deletes free space, and a store at its quota can always be emptied.
      if (error.code !== 'quota') throw error;
      await this.commitDirect(net).catch(() => Promise.reject(error));
    }
    this.stats.commits++;
    this.stats.batches += group.length;
    if (this.indexReady) for (const b of group) this.index.apply(b);
    this.maybeCheckpoint();
  }

  /** Queues a checkpoint when the log is over its limits and none is queued or under way (they must not interleave). */
  private maybeCheckpoint(): void {
    if (this.checkpointQueued || this.running !== null) return;
    if (this.logEntries < this.logLimits.log_entries_max && this.logChars < this.logLimits.log_chars_max) return;
    this.checkpointQueued = true;
    void this.queue.run(() => this.checkpoint()).catch(() => undefined);
  }

  /** The group and the whole log into the records store in one transaction; the log emptied. */
  private async commitDirect(net: Map<string, string | null>): Promise<void> {
    // Oldest first: a checkpoint under way, then the log since, then the group.
    const ops = new Map(this.running?.snapshot);
    for (const [k, json] of this.dirty) ops.set(k, json);
    for (const [k, json] of net) ops.set(k, json);
    const tx = await this.begin([RECORDS, LOG], 'readwrite');
    const done = transactionDone(tx);
    const records = tx.objectStore(RECORDS);
    for (const [k, json] of ops) {
      if (json === null) records.delete(k);
      else records.put(json, k);
    }
    tx.objectStore(LOG).clear();
    await done;
    if (this.running) this.running.cancelled = true;
    this.running = null;
    this.dirty = new Map();
    this.logEntries = 0;
    this.logChars = 0;
    if (this.checkpointed !== null) for (const [k, json] of ops) json === null ? this.checkpointed.delete(k) : this.checkpointed.add(k);
  }

  private commitError(e: unknown): StorageError {
    const error = idbError(e, `committing to ${this.name}`);
    if (this.lost !== undefined && error.code !== 'corrupt') return new StorageError('corrupt', this.lost, { cause: e });
    return error;
  }

  /**
   * Writes what the log changed into the records store, in chunks queued behind the writes
   * already waiting (so a checkpoint delays a write by one chunk at most), then deletes the
   * log entries it covers, in the last chunk's transaction. A failed chunk gives its records
   * back to the next checkpoint; the log stays until a checkpoint covers it.
   */
  private async checkpoint(): Promise<void> {
    this.checkpointQueued = false;
    if (this.closed || this.lost !== undefined || this.logEntries === 0) return;
    const upTo = this.nextSeq - 1;
    const entries = this.logEntries;
    const chars = this.logChars;
    const snapshot = this.dirty;
    const run = { snapshot, cancelled: false };
    this.running = run;
    this.dirty = new Map();
    this.logEntries = 0;
    this.logChars = 0;
    const ops: Array<[string, string | null]> = [];
    for (const [k, json] of snapshot) {
      // A record created and deleted between two checkpoints never reaches the records store.
      if (json === null && this.checkpointed !== null && !this.checkpointed.has(k)) continue;
      ops.push([k, json]);
    }
    const chunk = Math.max(1, this.logLimits.checkpoint_records_max);
    const chunks = Math.max(1, Math.ceil(ops.length / chunk));
    const giveBack = (): void => {
      if (run.cancelled) return;
      this.running = null;
      // Newer values written meanwhile win; the log entries stay until a checkpoint covers them.
      for (const [k, json] of snapshot) if (!this.dirty.has(k)) this.dirty.set(k, json);
      this.logEntries += entries;
      this.logChars += chars;
      this.stats.checkpointFailures++;
    };
    const writeChunk = async (c: number): Promise<void> => {
      if (run.cancelled) return;
      if (this.closed || this.lost !== undefined) return giveBack();
      const part = ops.slice(c * chunk, (c + 1) * chunk);
      const last = c === chunks - 1;
      try {
        const tx = await this.begin(last ? [RECORDS, LOG] : RECORDS, 'readwrite');
        const done = transactionDone(tx);
        const records = tx.objectStore(RECORDS);
        for (const [k, json] of part) {
          if (json === null) records.delete(k);
          else records.put(json, k);
        }
        if (last) tx.objectStore(LOG).delete(IDBKeyRange.upperBound(upTo));
        if (this.abortChunks > 0) {
          this.abortChunks--;
          tx.abort();
        }
        await done;
      } catch {
        // Not fatal: the log still holds everything. The next commit error, if any, is reported by write().
        return giveBack();
      }
      if (this.checkpointed !== null) {
        for (const [k, json] of part) {
          if (json === null) this.checkpointed.delete(k);
          else this.checkpointed.add(k);
        }
      }
      this.stats.checkpointRecords += part.length;
      if (last) {
        this.stats.checkpoints++;
        this.running = null;
        this.maybeCheckpoint();
      } else void this.queue.run(() => writeChunk(c + 1)).catch(() => undefined);
    };
    // Each chunk is queued behind the writes waiting now, not run back to back.
    void this.queue.run(() => writeChunk(0)).catch(() => undefined);
  }

  /**
   * Reads the checkpoint and replays the log over it (one read transaction); rebuilds the
   * usage index and what the next checkpoint must write. Returns key -> JSON text.
   */
  private async scan(): Promise<Map<string, string>> {
    try {
      if (this.lost !== undefined) throw new StorageError('corrupt', this.lost);
      const tx = await this.begin([RECORDS, LOG], 'readonly');
      const records = tx.objectStore(RECORDS);
      const log = tx.objectStore(LOG);
      const keysReq = records.getAllKeys();
      const valuesReq = records.getAll();
      const seqsReq = log.getAllKeys();
      const entriesReq = log.getAll();
      await transactionDone(tx);
      const keys = keysReq.result as string[];
      const values = valuesReq.result as string[];
      const seqs = seqsReq.result as number[];
      const entries = entriesReq.result as LogEntry[];
      const state = new Map<string, string>();
      for (let i = 0; i < keys.length; i++) state.set(keys[i]!, values[i]!);
      this.checkpointed = new Set(keys);
      this.dirty = new Map();
      this.logEntries = 0;
      this.logChars = 0;
      for (let i = 0; i < entries.length; i++) {
        const { p, d } = entries[i]!;
        for (let j = 0; j < p.length; j += 2) {
          state.set(p[j]!, p[j + 1]!);
          this.dirty.set(p[j]!, p[j + 1]!);
          this.logChars += p[j]!.length + p[j + 1]!.length;
        }
        for (const k of d) {
          state.delete(k);
          this.dirty.set(k, null);
          this.logChars += k.length;
        }
        this.logEntries++;
      }
      if (seqs.length > 0) this.nextSeq = Math.max(this.nextSeq, seqs[seqs.length - 1]! + 1);
      this.index.clear();
      for (const [k, json] of state) this.index.put(k, json);
      this.indexReady = true;
      return state;
    } catch (e) {
      throw idbError(e, `reading ${this.name}`);
    }
  }
}
