/**
 * A min-heap of events ordered by (at, seq): equal times run in the order they were scheduled.
 *
 * The keys live in two typed arrays beside the events, so that sifting compares contiguous
 * numbers instead of dereferencing one event object per heap level (with thousands of peers
 * the queue holds tens of thousands of events, and those loads were cache misses on the
 * simulator's hot path). (at, seq) is a total order (seq is unique), so the order in which
 * events come out does not depend on the heap's layout.
 */
export interface QueuedEvent {
  at: number;
  seq: number;
}

export class EventQueue<E extends QueuedEvent> {
  private items: Array<E | undefined> = [];
  private ats = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private n = 0;
  private seq = 0;

  get size(): number {
    return this.n;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  push(e: E): void {
    if (this.n === this.ats.length) this.grow();
    const ats = this.ats;
    const seqs = this.seqs;
    const items = this.items;
    const at = e.at;
    const seq = e.seq;
    let i = this.n++;
    if (items.length < this.n) items.push(undefined);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = ats[p]!;
      if (pa < at || (pa === at && seqs[p]! < seq)) break;
      ats[i] = pa;
      seqs[i] = seqs[p]!;
      items[i] = items[p];
      i = p;
    }
    ats[i] = at;
    seqs[i] = seq;
    items[i] = e;
  }

  peekAt(): number {
    return this.n > 0 ? this.ats[0]! : Infinity;
  }

  pop(): E | undefined {
    if (this.n === 0) return undefined;
    const ats = this.ats;
    const seqs = this.seqs;
    const items = this.items;
    const top = items[0];
    const n = --this.n;
    const last = items[n];
    const lastAt = ats[n]!;
    const lastSeq = seqs[n]!;
    items[n] = undefined;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        let ma = ats[l]!;
        if (r < n) {
          const ra = ats[r]!;
          if (ra < ma || (ra === ma && seqs[r]! < seqs[l]!)) {
            m = r;
            ma = ra;
          }
        }
        if (lastAt < ma || (lastAt === ma && lastSeq < seqs[m]!)) break;
        ats[i] = ma;
        seqs[i] = seqs[m]!;
        items[i] = items[m];
        i = m;
      }
      ats[i] = lastAt;
      seqs[i] = lastSeq;
      items[i] = last;
    }
    return top;
  }

  private grow(): void {
    const ats = new Float64Array(this.ats.length * 2);
    ats.set(this.ats);
    this.ats = ats;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }
}
