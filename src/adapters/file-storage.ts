import { open, readdir, readFile, rename, rm, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Json } from '../core/types.ts';
import { CommitQueue, asStorageError } from './commit-queue.ts';
import { decodeFrames, encodeFrame } from './file-frames.ts';
import { StorageError, type StorageAdapter, type StorageUsage, type WriteBatch } from './storage.ts';
import { compareKeys, decodeValue, prepareBatch, UsageIndex, type PreparedBatch } from './storage-codec.ts';

/**
 * StorageAdapter for the Node peer: one directory holding
 *   snapshot   the state as of generation g (absent: generation 0, empty), written to
 *              snapshot.tmp, fsynced, renamed, directory fsynced;
 *   log-<g>    batches appended since that snapshot, one checksummed frame per batch.
 * Concurrent write()s are group-committed: one append of all their frames, one fdatasync.
 * At open a torn or corrupt log tail is cut off (ftruncate + fsync) and reported, never
 * read as data. When the log outgrows the live data it is compacted into a new snapshot.
 * One FileStorage per directory at a time (no cross-process lock).
 *
 * A write rejected with 'io' after its bytes reached the file (fsync failed) is cut off
 * before the next append, but a crash in between may keep it: treat it as "unknown".
 */
export interface FileStorageOptions {
  /** Compact once the log exceeds this many bytes and twice the live data. */
  readonly compactLogBytesMin?: number;
  /** Told when open() cut a torn or corrupt tail off the log. */
  readonly onRecover?: (info: RecoveryInfo) => void;
}

export interface RecoveryInfo {
  readonly file: string;
  readonly validBytes: number;
  readonly droppedBytes: number;
  readonly reason: string;
}

/** Default compaction threshold: small enough that replay at open stays well under a second. */
export const COMPACT_LOG_BYTES_MIN = 8 * 1024 * 1024;
/** Snapshot frames hold about this many chars of records each. */
const SNAPSHOT_CHUNK_CHARS = 1024 * 1024;
const SNAPSHOT = 'snapshot';
const SNAPSHOT_TMP = 'snapshot.tmp';
const SNAPSHOT_FORMAT = 1;
const logName = (gen: number): string => `log-${gen}`;

type FaultOp = 'append' | 'sync';
interface Fault {
  readonly op: FaultOp;
  readonly errno: string;
  readonly partialBytes: number;
}

function errnoError(errno: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${errno}: ${message}`), { code: errno });
}

/** Disk full and quota errors are 'quota'; every other failure is 'io'. */
function fsError(e: unknown, context: string): StorageError {
  if (e instanceof StorageError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageError('quota', `${context}: ${String((e as Error).message)}`, { cause: e });
  }
  return asStorageError(e, context);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}

function encodeBatch(b: PreparedBatch): string {
  const puts = b.puts.map(([k, json]) => `[${JSON.stringify(k)},${json}]`).join(',');
  return `[[${puts}],${JSON.stringify(b.dels)}]`;
}

function isEntryList(v: unknown): v is Array<[string, Json]> {
  return Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string');
}

export class FileStorage implements StorageAdapter {
  private readonly queue: CommitQueue;
  private readonly index = new UsageIndex();
  private closed = false;
  private log: FileHandle | undefined;
  /** Log bytes known durable; a failed append is cut back to this before the next one. */
  private logBytes = 0;
  private tailDirty = false;
  /** A directory change (new log, rename) whose fsync has not succeeded yet. */
  private dirDirty = false;
  private faults: Fault[] = [];
  private compactionQueued = false;
  private readonly compactLogBytesMin: number;
  /** Counters, for tests and benchmarks: commits (fdatasyncs), batches, compactions. */
  readonly stats = { commits: 0, batches: 0, compactions: 0 };
  /** What open() had to cut off, if anything. */
  recovery: RecoveryInfo | undefined;

  private constructor(
    readonly dir: string,
    private gen: number,
    private readonly records: Map<string, string>,
    options: FileStorageOptions,
  ) {
    this.compactLogBytesMin = options.compactLogBytesMin ?? COMPACT_LOG_BYTES_MIN;
    this.queue = new CommitQueue((group) => this.commit(group));
  }

  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    try {
      const created = await mkdir(dir, { recursive: true });
      // A new directory's own entry must be durable too, or a crash could lose the lot.
      if (created !== undefined) {
        for (let d = dirname(dir); ; d = dirname(d)) {
          await fsyncDir(d);
          if (d === dirname(created) || d === dirname(d)) break;
        }
      }
      await rm(join(dir, SNAPSHOT_TMP), { force: true });
      const { gen, records } = await readSnapshot(dir);
      for (const name of await readdir(dir)) {
        if (name.startsWith('log-') && name !== logName(gen)) await rm(join(dir, name), { force: true });
      }
      const storage = new FileStorage(dir, gen, records, options);
      await storage.replayLog(options.onRecover);
      return storage;
    } catch (e) {
      throw fsError(e, `opening ${dir}`);
    }
  }

  /** Test hook: the next append writes only `partialBytes` then fails, or the next fdatasync fails. */
  failNext(op: FaultOp, errno = 'EIO', partialBytes = 0): void {
    this.faults.push({ op, errno, partialBytes });
  }

  async loadAll(): Promise<Array<[string, Json]>> {
    this.checkOpen();
    return this.queue.run(async () => {
      const keys = [...this.records.keys()].sort(compareKeys);
      return keys.map((k): [string, Json] => [k, decodeValue(this.records.get(k)!)]);
    });
  }

  async write(batch: WriteBatch): Promise<void> {
    this.checkOpen();
    return this.queue.write(prepareBatch(batch));
  }

  async usage(): Promise<StorageUsage> {
    this.checkOpen();
    return this.index.usage();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      await this.log?.close();
      this.log = undefined;
    });
  }

  async destroy(): Promise<void> {
    await this.close().catch(() => undefined);
    try {
      await rm(this.dir, { recursive: true, force: true });
    } catch (e) {
      throw fsError(e, `removing ${this.dir}`);
    }
  }

  /** Forces a compaction now (tests, or a peer that just shed a range). */
  compact(): Promise<void> {
    this.checkOpen();
    return this.queue.run(() => this.compactNow());
  }

  private checkOpen(): void {
    if (this.closed) throw new StorageError('closed', `file storage ${this.dir} is closed`);
  }

  private async replayLog(onRecover: FileStorageOptions['onRecover']): Promise<void> {
    const path = join(this.dir, logName(this.gen));
    const buf = await readFile(path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return Buffer.alloc(0);
      throw e;
    });
    const { values, validBytes, stopReason } = decodeFrames(buf);
    for (const [i, v] of values.entries()) {
      if (!Array.isArray(v) || v.length !== 2 || !isEntryList(v[0]) || !Array.isArray(v[1])) {
        throw new StorageError('corrupt', `${path}: frame ${i} has a valid checksum but no batch in it`);
      }
      // Values came out of JSON.parse, so stringify cannot fail and needs no validation.
      for (const [k, value] of v[0]) this.records.set(k, JSON.stringify(value));
      for (const k of v[1] as string[]) this.records.delete(k);
    }
    for (const [k, json] of this.records) this.index.put(k, json);
    this.log = await open(path, 'a');
    if (stopReason !== undefined) {
      await this.log.truncate(validBytes);
      await this.log.datasync();
      this.recovery = { file: path, validBytes, droppedBytes: buf.length - validBytes, reason: stopReason };
      onRecover?.(this.recovery);
    }
    this.logBytes = validBytes;
    await fsyncDir(this.dir); // the log file may have just been created
  }

  private async commit(group: PreparedBatch[]): Promise<void> {
    const log = this.log;
    if (log === undefined) throw new StorageError('closed', `file storage ${this.dir} is closed`);
    try {
      if (this.tailDirty) {
        // Cut off what a failed append left, so it can never be read back as data.
        await log.truncate(this.logBytes);
        await log.datasync();
        this.tailDirty = false;
      }
      if (this.dirDirty) {
        await fsyncDir(this.dir);
        this.dirDirty = false;
      }
      const buf = Buffer.concat(group.map((b) => encodeFrame(encodeBatch(b))));
      this.tailDirty = true;
      await this.append(log, buf);
      await this.sync(log);
      this.tailDirty = false;
      this.logBytes += buf.length;
      this.stats.commits++;
      this.stats.batches += group.length;
    } catch (e) {
      throw fsError(e, `appending to ${this.dir}`);
    }
    for (const b of group) {
      for (const [k, json] of b.puts) this.records.set(k, json);
      for (const k of b.dels) this.records.delete(k);
      this.index.apply(b);
    }
    if (!this.compactionQueued && this.logBytes > this.compactLogBytesMin && this.logBytes > 2 * this.index.usage().bytes) {
      // After this group is acknowledged, not before. Best effort: a failed compaction
      // leaves the log as it was and is tried again after a later commit.
      this.compactionQueued = true;
      void this.queue.run(() => this.compactNow()).catch(() => undefined);
    }
  }

  private async append(log: FileHandle, buf: Buffer): Promise<void> {
    const fault = this.takeFault('append');
    if (fault !== undefined) {
      if (fault.partialBytes > 0) await log.write(buf, 0, Math.min(fault.partialBytes, buf.length));
      throw errnoError(fault.errno, 'injected append failure');
    }
    await writeAll(log, buf);
  }

  private async sync(log: FileHandle): Promise<void> {
    const fault = this.takeFault('sync');
    if (fault !== undefined) throw errnoError(fault.errno, 'injected fdatasync failure');
    await log.datasync();
  }

  private takeFault(op: FaultOp): Fault | undefined {
    const i = this.faults.findIndex((f) => f.op === op);
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }

  /** snapshot.tmp: write, fsync, rename over snapshot, fsync dir; then switch to a new log. */
  private async compactNow(): Promise<void> {
    this.compactionQueued = false;
    if (this.log === undefined) return; // closed meanwhile
    const next = this.gen + 1;
    const tmp = join(this.dir, SNAPSHOT_TMP);
    const frames: Buffer[] = [];
    let chunk: string[] = [];
    let chars = 0;
    const flush = (): void => {
      frames.push(encodeFrame(`[${chunk.join(',')}]`));
      chunk = [];
      chars = 0;
    };
    for (const [k, json] of this.records) {
      const entry = `[${JSON.stringify(k)},${json}]`;
      chunk.push(entry);
      chars += entry.length;
      if (chars >= SNAPSHOT_CHUNK_CHARS) flush();
    }
    if (chunk.length > 0) flush();
    const header = { format: SNAPSHOT_FORMAT, gen: next, records: this.records.size, chunks: frames.length };
    const fh = await open(tmp, 'w');
    try {
      await writeAll(fh, Buffer.concat([encodeFrame(JSON.stringify(header)), ...frames]));
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
    await fh.close();
    const newLog = await open(join(this.dir, logName(next)), 'w');
    try {
      await rename(tmp, join(this.dir, SNAPSHOT));
    } catch (e) {
      await newLog.close().catch(() => undefined);
      throw e;
    }
    // From here the new snapshot may be the durable one: switch now, and make sure the
    // directory is fsynced before any write to the new log is acknowledged.
    const oldLog = this.log;
    const oldGen = this.gen;
    this.log = newLog;
    this.gen = next;
    this.logBytes = 0;
    this.tailDirty = false;
    this.dirDirty = true;
    await oldLog?.close().catch(() => undefined);
    await fsyncDir(this.dir);
    this.dirDirty = false;
    this.stats.compactions++;
    await rm(join(this.dir, logName(oldGen)), { force: true });
  }
}

async function readSnapshot(dir: string): Promise<{ gen: number; records: Map<string, string> }> {
  const path = join(dir, SNAPSHOT);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { gen: 0, records: new Map() };
    throw e;
  }
  // A snapshot is renamed into place only once complete and fsynced: any damage is corruption.
  const { values, stopReason } = decodeFrames(buf);
  const header = values[0] as { format?: unknown; gen?: unknown; records?: unknown; chunks?: unknown } | undefined;
  if (
    stopReason !== undefined ||
    header === undefined ||
    header.format !== SNAPSHOT_FORMAT ||
    typeof header.gen !== 'number' ||
    header.chunks !== values.length - 1
  ) {
    throw new StorageError('corrupt', `${path}: damaged snapshot (${stopReason ?? 'bad header'})`);
  }
  const records = new Map<string, string>();
  for (const chunk of values.slice(1)) {
    if (!isEntryList(chunk)) throw new StorageError('corrupt', `${path}: damaged snapshot chunk`);
    for (const [k, v] of chunk) records.set(k, JSON.stringify(v));
  }
  if (records.size !== header.records) throw new StorageError('corrupt', `${path}: record count mismatch`);
  return { gen: header.gen, records };
}
