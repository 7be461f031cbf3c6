/**
 * Timers of one peer: a binary min-heap ordered by (at, seq). The driver asks for the
 * earliest deadline (nextAt) and calls runDue(now) when it has come; the peer never reads
 * a clock itself. Ties run in scheduling order, so runs are deterministic.
 *
 * The top of the heap is never a cancelled entry (cancelling the top drops it at once), so
 * the earliest deadline is kept in one field: nextAt(), asked after every step of the peer,
 * reads no heap entry.
 */
export type TimerHandle = number;

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const noop = (): void => {};

/** Told whenever the earliest deadline changes (see the Timers constructor). */
export interface TimersOwner {
  timersNextChanged(next: number | null): void;
}

export class Timers {
  private heap: Entry[] = [];
  private seq = 0;
  /** Pending entries by handle, so cancel() is O(1) and never leaks for timers that already ran. */
  private readonly pending = new Map<number, Entry>();
  /** heap[0].at, or Infinity when empty. */
  private topAt = Infinity;
  /** The same as nextAt() answers it (null when empty), kept so that asking allocates nothing. */
  private next: number | null = null;
  /** The entry of the timer that ran last, reused by the next schedule() (periodic timers reschedule themselves). */
  private spare: Entry | null = null;

  /**
   * owner (optional) is told every new earliest deadline, so that it can keep a copy and a
   * driver asking for it after every step need not load this object (a peer's context does:
   * in a simulation of thousands of peers that load was a cache miss per message).
   */
  constructor(private readonly owner: TimersOwner | null = null) {}

  private setNext(next: number | null): void {
    this.next = next;
    if (this.owner !== null) this.owner.timersNextChanged(next);
  }

  schedule(at: number, fn: () => void): TimerHandle {
    const seq = ++this.seq;
    let e = this.spare;
    if (e !== null) {
      this.spare = null;
      e.at = at;
      e.seq = seq;
      e.fn = fn;
      e.cancelled = false;
    } else e = { at, seq, fn, cancelled: false };
    this.pending.set(seq, e);
    this.push(e);
    if (at < this.topAt) {
      this.topAt = at;
      this.setNext(at);
    }
    return seq;
  }

  cancel(handle: TimerHandle | null | undefined): void {
    if (!handle) return;
    const e = this.pending.get(handle);
    if (e) {
      e.cancelled = true;
      this.pending.delete(handle);
      if (e === this.heap[0]) {
        this.pop();
        this.dropCancelledTop();
      }
    }
  }

  /** Earliest pending deadline, or null. */
  nextAt(): number | null {
    return this.next;
  }

  /** Runs every timer due at or before now, earliest first; returns how many ran. */
  runDue(now: number): number {
    let ran = 0;
    for (;;) {
      if (this.topAt > now) return ran;
      const top = this.heap[0]!;
      this.pop();
      this.dropCancelledTop();
      this.pending.delete(top.seq);
      ran++;
      // Nothing refers to the entry any more (its handle is no longer pending): reusable.
      const fn = top.fn;
      top.fn = noop;
      this.spare = top;
      fn();
    }
  }

  clear(): void {
    this.heap = [];
    this.pending.clear();
    this.topAt = Infinity;
    this.setNext(null);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Restores the invariant after a pop: the top is not cancelled, and topAt is its deadline. */
  private dropCancelledTop(): void {
    const h = this.heap;
    while (h.length > 0 && h[0]!.cancelled) this.pop();
    this.topAt = h.length > 0 ? h[0]!.at : Infinity;
    this.setNext(h.length > 0 ? this.topAt : null);
  }

  private push(e: Entry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    // Sift up by moving parents down into the hole (no swaps, no temporary arrays).
    while (i > 0) {
      const p = (i - 1) >> 1;
      const hp = h[p]!;
      if (hp.at < e.at || (hp.at === e.at && hp.seq < e.seq)) break;
      h[i] = hp;
      i = p;
    }
    h[i] = e;
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    const n = h.length;
    if (n > 0 && last) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        let hm = h[l]!;
        if (r < n) {
          const hr = h[r]!;
          if (hr.at < hm.at || (hr.at === hm.at && hr.seq < hm.seq)) {
            m = r;
            hm = hr;
          }
        }
        if (last.at < hm.at || (last.at === hm.at && last.seq < hm.seq)) break;
        h[i] = hm;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}
