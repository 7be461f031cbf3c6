/** A min-heap of events ordered by (at, seq): equal times run in the order they were scheduled. */
export interface QueuedEvent {
  at: number;
  seq: number;
}

export class EventQueue<E extends QueuedEvent> {
  private heap: E[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  push(e: E): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const hp = h[p]!;
      if (hp.at < e.at || (hp.at === e.at && hp.seq < e.seq)) break;
      h[i] = hp;
      i = p;
    }
    h[i] = e;
  }

  peekAt(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  pop(): E | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        const hl = h[l]!;
        if (r < n) {
          const hr = h[r]!;
          if (hr.at < hl.at || (hr.at === hl.at && hr.seq < hl.seq)) m = r;
        }
        const hm = h[m]!;
        if (last.at < hm.at || (last.at === hm.at && last.seq < hm.seq)) break;
        h[i] = hm;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}
