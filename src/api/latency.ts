/** Percentiles of one kind of operation over the window, in ms (null: no operation in the window). */
export interface LatencySummary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface LatencyReport {
  /** Length of the sliding window, ms. */
  windowMs: number;
  /** Single reads and reads inside transactions. */
  read: LatencySummary;
  /** Commits (writes, transactions, list and counter operations), each attempt on its own. */
  commit: LatencySummary;
}

/**
 * Latencies of a client's operations over a sliding window (default the last 60 s, at most
 * samples_max each), for consoles: p50 and p99 by nearest rank. The clock is handed in.
 */
export class LatencyWindow {
  private readonly samples = { read: [] as Array<[at: number, ms: number]>, commit: [] as Array<[at: number, ms: number]> };

  constructor(
    private readonly now: () => number,
    readonly windowMs = 60_000,
    private readonly samplesMax = 5_000,
  ) {}

  add(kind: 'read' | 'commit', ms: number): void {
    const list = this.samples[kind];
    list.push([this.now(), ms]);
    if (list.length > this.samplesMax) list.splice(0, list.length - this.samplesMax);
  }

  report(): LatencyReport {
    return { windowMs: this.windowMs, read: this.summary('read'), commit: this.summary('commit') };
  }

  private summary(kind: 'read' | 'commit'): LatencySummary {
    const list = this.samples[kind];
    const from = this.now() - this.windowMs;
    let drop = 0;
    while (drop < list.length && list[drop]![0] < from) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) return { count: 0, p50: null, p99: null, max: null };
    const ms = list.map(([, m]) => m).sort((a, b) => a - b);
    const rank = (p: number) => ms[Math.min(ms.length - 1, Math.max(0, Math.ceil(p * ms.length) - 1))]!;
    const round = (x: number) => Math.round(x * 10) / 10;
    return { count: ms.length, p50: round(rank(0.5)), p99: round(rank(0.99)), max: round(ms[ms.length - 1]!) };
  }
}
