import { StorageError } from './storage.ts';
import type { PreparedBatch } from './storage-codec.ts';

/**
 * Group commit for durable adapters: one commit (an IndexedDB transaction, an append + fsync)
 * is in flight at a time; write() calls that arrive meanwhile wait and go together into the
 * next commit. Durable commits cost milliseconds each, so this multiplies throughput under
 * concurrency (PLATFORM.md: ~860 single puts/s vs ~7,000/s batched in IndexedDB).
 *
 * Jobs run strictly in call order. Besides writes there are exclusive jobs (load, compaction,
 * close) that run alone between commits, so they see every write called before them.
 */
export interface GroupLimits {
  /** Most batches in one commit. */
  readonly batchesMax: number;
  /** Most key + JSON chars in one commit (a single larger batch still goes alone). */
  readonly charsMax: number;
}

export const DEFAULT_GROUP_LIMITS: GroupLimits = { batchesMax: 4096, charsMax: 32 * 1024 * 1024 };

type Job =
  | { kind: 'write'; batch: PreparedBatch; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'run'; run: () => Promise<void> };

/** Turns any thrown thing into a StorageError ('io' unless it already is one). */
export function asStorageError(e: unknown, context: string): StorageError {
  if (e instanceof StorageError) return e;
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new StorageError('io', `${context}: ${message}`, { cause: e });
}

export class CommitQueue {
  private jobs: Job[] = [];
  private head = 0;
  private scheduled = false;
  private running = false;

  constructor(
    private readonly commit: (group: PreparedBatch[]) => Promise<void>,
    private readonly limits: GroupLimits = DEFAULT_GROUP_LIMITS,
  ) {}

  /** Resolves once the commit holding this batch is durable; rejects with its StorageError. */
  write(batch: PreparedBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ kind: 'write', batch, resolve, reject });
      this.schedule();
    });
  }

  /** Runs fn alone, after every job queued before it. */
  run<R>(fn: () => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.jobs.push({ kind: 'run', run: () => fn().then(resolve, reject) });
      this.schedule();
    });
  }

  get pending(): number {
    return this.jobs.length - this.head;
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // A microtask, not now: writes issued in one synchronous burst share the first commit.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private take(): Job | undefined {
    const job = this.jobs[this.head];
    if (job === undefined) return undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs = this.jobs.slice(this.head);
      this.head = 0;
    }
    return job;
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      for (let job = this.take(); job !== undefined; job = this.take()) {
        if (job.kind === 'run') {
          await job.run();
          continue;
        }
        const group = [job];
        let chars = job.batch.chars;
        for (;;) {
          const next = this.jobs[this.head];
          if (next === undefined || next.kind !== 'write') break;
          if (group.length >= this.limits.batchesMax) break;
          if (chars + next.batch.chars > this.limits.charsMax) break;
          chars += next.batch.chars;
          group.push(next);
          this.head++;
        }
        try {
          await this.commit(group.map((w) => w.batch));
          for (const w of group) w.resolve();
        } catch (e) {
          // Every batch of a failed commit fails: none of them was applied.
          const error = asStorageError(e, 'commit failed');
          for (const w of group) w.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
