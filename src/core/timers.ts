/**
 * Timers of one peer: a binary min-heap ordered by (at, seq). The driver asks for the
 * earliest deadline (nextAt) and calls runDue(now) when it has come; the peer never reads
 * a clock itself. Ties run in scheduling order, so runs are deterministic.
 */
export type TimerHandle = number;

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class Timers {
  private heap: Entry[] = [];
  private seq = 0;
  /** Pending entries by handle, so cancel() is O(1) and never leaks for timers that already ran. */
  private readonly pending = new Map<number, Entry>();

  schedule(at: number, fn: () => void): TimerHandle {
    const seq = ++this.seq;
    const e: Entry = { at, seq, fn, cancelled: false };
    this.pending.set(seq, e);
    this.push(e);
    return seq;
  }

  cancel(handle: TimerHandle | null | undefined): void {
    if (!handle) return;
    const e = this.pending.get(handle);
    if (e) {
      e.cancelled = true;
      this.pending.delete(handle);
    }
  }

  /** Earliest pending deadline, or null. */
  nextAt(): number | null {
    this.dropCancelledTop();
    return this.heap.length > 0 ? this.heap[0]!.at : null;
  }

  /** Runs every timer due at or before now, earliest first; returns how many ran. */
  runDue(now: number): number {
    let ran = 0;
    for (;;) {
      this.dropCancelledTop();
      const top = this.heap[0];
      if (!top || top.at > now) return ran;
      this.pop();
      this.pending.delete(top.seq);
      ran++;
      top.fn();
    }
  }

  clear(): void {
    this.heap = [];
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
