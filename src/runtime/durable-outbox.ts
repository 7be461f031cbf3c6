/**
 * The durability rule of a real-time driver (DESIGN.md 5), apart from everything else:
 * batches go to storage in order; outputs that must wait (sendAfterPersist, replies) are
 * held until every batch written up to their step is durable, then released in order.
 *
 * Batches of one burst are merged before they go: a batch is staged and handed to storage
 * in a later task (`defer`), and every batch persisted meanwhile joins it. Why: a drain's
 * messages to ourselves are delivered at once and cause more drains with more writes (a
 * participant's vote reaches our acceptor, whose acceptance reaches our TM, whose decision
 * reaches our replicas); written one by one they were two or three sequential commits on a
 * transaction's critical path, merged they are one. Merged batches apply in order (later
 * values win), so what reaches the disk is what the batches would have left one by one.
 *
 * A batch nothing waits for is parked: written lazy_write_delay_ms later, gathering every
 * batch persisted meanwhile, unless an output comes to wait for it first (or want() says
 * one will). Why: measured with 4 idle tabs and one client, every transaction cost each tab
 * 5 to 6 IndexedDB commits, most of them for state no message or reply waited on (an
 * acceptor's record of a decision, a participant's applied write, garbage collection), and
 * all IndexedDB commits of a browser serialize: they delayed the writes that did hold a
 * commit's messages. Parked, 2.4 to 4.5. Safe: a crash loses a parked batch exactly as it
 * would have lost a batch still being written, and nothing that depends on it has left.
 *
 * A failed write puts the outbox in failure mode: everything held behind the failed batch
 * or any later one is handed to `fail` (the driver drops protocol acknowledgements and turns
 * client replies that acknowledge a write into errors), and so is every later output until
 * storage works again. Everything not yet durable is merged, in order, and rewritten every
 * storage_retry_ms (doubling up to storage_retry_max_ms); once that write succeeds, memory
 * and disk agree again and the outbox leaves failure mode. Permanent failures (the store
 * was deleted or closed, or refuses the data) are not retried.
 */
import { StorageError, type StorageAdapter, type WriteBatch } from '../adapters/storage.ts';
import type { Json } from '../core/types.ts';
import type { ClientReply, Envelope } from '../peer/io.ts';

export interface StorageFailure {
  code: StorageError['code'];
  message: string;
  /** When it started (driver clock, ms). */
  since: number;
  /** Will it be retried (false: the storage is gone; rejoin under a new identity). */
  retrying: boolean;
}

export interface OutboxLimits {
  /** Outputs waiting for storage at most; beyond, they are failed (dropping acknowledgements is message loss: safe). */
  held_outputs_max: number;
  /** First retry of a failed write after this many ms; doubles up to storage_retry_max_ms. */
  storage_retry_ms: number;
  storage_retry_max_ms: number;
  /** A batch no output waits for is written this many ms later (gathering more), not in the next task. */
  lazy_write_delay_ms: number;
}

export interface OutboxHandlers {
  /** Durable now: send and answer. */
  release(envelopes: Envelope[], replies: ClientReply[]): void;
  /** Never durable (or not in time): must not leave as acknowledgements. */
  fail(envelopes: Envelope[], replies: ClientReply[], why: string): void;
  /** Storage failed (with why) or works again (null). */
  failureChanged(f: StorageFailure | null): void;
}

interface Held {
  /** Released once every batch up to this one is durable. */
  batch: number;
  envelopes: Envelope[];
  replies: ClientReply[];
}

export class DurableOutbox {
  /** Number of the last batch handed to storage (0: none yet). */
  private issued = 0;
  /** Every batch up to this one is durable. */
  private durableUpTo = 0;
  private readonly completed = new Set<number>();
  /** Batches folded into a failure-mode rewrite: their own results are ignored. */
  private readonly superseded = new Set<number>();
  /** Batches in flight, kept until durable so they can be rewritten after a failure. */
  private readonly inFlight = new Map<number, WriteBatch>();
  private held: Held[] = [];
  private failure_: StorageFailure | null = null;
  /** In failure mode: everything not known durable, merged in order (undefined = delete). */
  private unwritten = new Map<string, Json | undefined>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay: number;
  private retrying = false;
  private closed = false;
  /** The batch being gathered before it goes to storage (its number is already issued). */
  private staged: { n: number; first: WriteBatch; merged: Map<string, Json | undefined> | null; wanted: boolean } | null = null;
  private parkTimer: ReturnType<typeof setTimeout> | undefined;
  /** Batches made durable, and the time (ms) they took from write() to durable, summed; drains' batches merged into others. */
  readonly stats = { batches_written: 0, write_ms: 0, batches_merged: 0, batches_parked: 0 };

  constructor(
    private readonly storage: StorageAdapter,
    private readonly limits: OutboxLimits,
    private readonly now: () => number,
    private readonly handlers: OutboxHandlers,
    /** Runs the staged batch's write later (a task after the current burst). */
    private readonly defer: (fn: () => void) => void = (fn) => queueMicrotask(fn),
  ) {
    this.retryDelay = limits.storage_retry_ms;
  }

  get failure(): StorageFailure | null {
    return this.failure_;
  }

  /** Outputs now waiting for storage. */
  get heldCount(): number {
    return this.held.length;
  }

  get writesInFlight(): number {
    return this.inFlight.size;
  }

  /** Whether an output released now would have to wait (some batch is not durable yet). */
  get waiting(): boolean {
    return this.failure_ === null && this.durableUpTo !== this.issued;
  }

  persist(batch: WriteBatch): void {
    if (this.closed) return;
    if (this.failure_ !== null) {
      mergeInto(this.unwritten, batch);
      return;
    }
    const staged = this.staged;
    if (staged !== null) {
      if (staged.merged === null) {
        staged.merged = new Map();
        mergeInto(staged.merged, staged.first);
      }
      mergeInto(staged.merged, batch);
      this.stats.batches_merged++;
      return;
    }
    const parked = { n: ++this.issued, first: batch, merged: null, wanted: false };
    this.staged = parked;
    this.stats.batches_parked++;
    this.parkTimer = setTimeout(() => {
      if (this.staged === parked) this.issue();
    }, this.limits.lazy_write_delay_ms);
  }

  /** Something will wait for the staged batch (or a batch after it): write it in the next task. */
  want(): void {
    const staged = this.staged;
    if (staged === null || staged.wanted) return;
    staged.wanted = true;
    this.stats.batches_parked--;
    clearTimeout(this.parkTimer);
    this.defer(() => {
      if (this.staged === staged) this.issue();
    });
  }

  /** Writes a parked batch now (a graceful leave: what it holds should outlive us). */
  flush(): void {
    if (this.staged !== null) {
      clearTimeout(this.parkTimer);
      this.issue();
    }
  }

  /** Hands the staged batch to storage. */
  private issue(): void {
    const staged = this.staged;
    this.staged = null;
    clearTimeout(this.parkTimer);
    if (staged === null || this.closed) return;
    const { n } = staged;
    const batch = staged.merged === null ? staged.first : toBatch(staged.merged);
    if (this.failure_ !== null) {
      // Storage failed while this gathered: it joins the rewrite (its outputs were failed).
      mergeInto(this.unwritten, batch);
      this.completed.add(n);
      this.advance();
      return;
    }
    this.inFlight.set(n, batch);
    const t0 = this.now();
    this.storage.write(batch).then(
      () => {
        this.stats.write_ms += this.now() - t0;
        this.written(n);
      },
      (e: unknown) => this.writeFailed(n, e),
    );
  }

  /** Outputs of a step whose writes (and every earlier one) must be durable first. */
  afterPersist(envelopes: Envelope[], replies: ClientReply[]): void {
    if (envelopes.length === 0 && replies.length === 0) return;
    if (this.failure_ !== null) this.handlers.fail(envelopes, replies, this.reason());
    else if (this.durableUpTo === this.issued) this.handlers.release(envelopes, replies);
    else if (this.held.length >= this.limits.held_outputs_max) this.handlers.fail(envelopes, replies, 'too many outputs waiting for storage');
    else {
      this.held.push({ batch: this.issued, envelopes, replies });
      this.want();
    }
  }

  /** Waits (bounded) until nothing is held and no write is in flight. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    while ((this.held.length > 0 || this.inFlight.size > 0) && this.failure_ === null && this.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  /** Stops: nothing held is released any more (a staged batch is dropped, as a crash would). */
  close(): void {
    this.closed = true;
    this.staged = null;
    clearTimeout(this.parkTimer);
    clearTimeout(this.retryTimer);
    this.held = [];
  }

  private reason(): string {
    return `storage failed (${this.failure_?.code ?? 'io'}): ${this.failure_?.message ?? ''}`;
  }

  private written(n: number): void {
    if (this.superseded.delete(n)) return; // folded into the failure mode's rewrite
    this.stats.batches_written++;
    this.inFlight.delete(n);
    this.completed.add(n);
    this.advance();
  }

  /** Moves durableUpTo over contiguous completed batches and releases what waited for them. */
  private advance(): void {
    while (this.completed.has(this.durableUpTo + 1)) this.completed.delete(++this.durableUpTo);
    if (this.closed) return;
    let i = 0;
    while (i < this.held.length && this.held[i]!.batch <= this.durableUpTo) i++;
    if (i === 0) return;
    const ready = this.held.splice(0, i);
    for (const h of ready) this.handlers.release(h.envelopes, h.replies);
  }

  private writeFailed(n: number, e: unknown): void {
    if (this.superseded.delete(n) || this.closed) return;
    const err = e instanceof StorageError ? e : new StorageError('io', e instanceof Error ? e.message : String(e));
    const permanent = isPermanent(err);
    // Batch n and every later one in flight are rewritten as one merged batch, issued after
    // them, so it wins whichever of them the storage applied. Their own results no longer
    // matter: they count as done for ordering, since nothing held depends on them any more.
    const rewrite = new Map<string, Json | undefined>();
    for (const [b, batch] of [...this.inFlight].sort(([a], [c]) => a - c)) {
      if (b < n) continue;
      mergeInto(rewrite, batch);
      this.inFlight.delete(b);
      if (b !== n) this.superseded.add(b);
      this.completed.add(b);
    }
    // A staged (parked) batch is newer than every batch in flight and older than anything
    // persisted from now on, which goes to `unwritten`: it joins the rewrite here, or a retry
    // that succeeded before it is issued would be overwritten by its older values.
    const staged = this.staged;
    if (staged !== null) {
      this.staged = null;
      clearTimeout(this.parkTimer);
      mergeInto(rewrite, staged.merged === null ? staged.first : toBatch(staged.merged));
      this.completed.add(staged.n);
    }
    for (const [k, v] of this.unwritten) rewrite.set(k, v);
    this.unwritten = rewrite;
    this.failure_ = { code: err.code, message: err.message, since: this.failure_?.since ?? this.now(), retrying: !permanent };
    const keep: Held[] = [];
    for (const h of this.held) {
      if (h.batch >= n) this.handlers.fail(h.envelopes, h.replies, this.reason());
      else keep.push(h);
    }
    this.held = keep;
    this.advance();
    this.handlers.failureChanged(this.failure_);
    if (!permanent) this.scheduleRetry();
    else clearTimeout(this.retryTimer);
  }

  private scheduleRetry(): void {
    if (this.retrying || this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.retry(), this.retryDelay);
    this.retryDelay = Math.min(this.limits.storage_retry_max_ms, Math.max(this.limits.storage_retry_ms, this.retryDelay * 2));
  }

  /** Rewrite everything not yet durable; on success, leave failure mode. */
  private async retry(): Promise<void> {
    if (this.closed || this.failure_ === null || !this.failure_.retrying) return;
    this.retrying = true;
    const attempt = this.unwritten;
    this.unwritten = new Map();
    try {
      await this.storage.write(toBatch(attempt));
    } catch (e) {
      this.retrying = false;
      // Put it back under what arrived meanwhile (newer values win).
      for (const [k, v] of this.unwritten) attempt.set(k, v);
      this.unwritten = attempt;
      const err = e instanceof StorageError ? e : new StorageError('io', String(e));
      this.failure_ = { ...this.failure_!, code: err.code, message: err.message, retrying: !isPermanent(err) };
      this.handlers.failureChanged(this.failure_);
      if (this.failure_.retrying) this.scheduleRetry();
      return;
    }
    this.retrying = false;
    if (this.closed) return;
    if (this.unwritten.size > 0) {
      // More arrived while we wrote: make that durable too before trusting storage again.
      this.retryDelay = 0;
      this.scheduleRetry();
      return;
    }
    // Durable state equals memory again; the acknowledgements dropped meanwhile are message
    // loss, which the protocol's retries repair.
    this.failure_ = null;
    this.retryDelay = this.limits.storage_retry_ms;
    this.handlers.failureChanged(null);
  }
}

/** The storage is gone (deleted, closed) or refuses the data: retrying cannot help. */
function isPermanent(err: StorageError): boolean {
  return err.code === 'corrupt' || err.code === 'closed' || err.code === 'invalid';
}

function mergeInto(map: Map<string, Json | undefined>, batch: WriteBatch): void {
  for (const [k, v] of batch.puts) map.set(k, v);
  for (const k of batch.dels) map.set(k, undefined);
}

function toBatch(map: Map<string, Json | undefined>): WriteBatch {
  const puts: Array<[string, Json]> = [];
  const dels: string[] = [];
  for (const [k, v] of map) {
    if (v === undefined) dels.push(k);
    else puts.push([k, v]);
  }
  return { puts, dels };
}
