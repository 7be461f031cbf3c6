import type { DemoClient, PeerStatus, RingSummary } from '../shared/client.ts';
import { plot_samples_max } from './plot.ts';

/** How often the console samples its peer. */
export const sample_interval_ms = 1000;

export interface Sample {
  msgsIn: number;
  msgsOut: number;
  /** Decisions this peer took as transaction manager (per second). */
  txCommitted: number;
  txAborted: number;
  /** Outcomes of this console's own operations (per second). */
  opsCommitted: number;
  opsAborted: number;
  opsUnknown: number;
  /** Mean latency of this console's reads and commits in the last interval, ms (NaN: none). */
  readMs: number;
  commitMs: number;
  /** Percentiles over the runtime's sliding window (NaN: none, or not measured). */
  readP50: number;
  readP99: number;
  commitP50: number;
  commitP99: number;
  items: number;
  kib: number;
}

/** Outcomes and latencies of the console's own operations, drained every sample. */
export class OpLog {
  committed = 0;
  aborted = 0;
  private unknownNow = 0;
  /** Commits whose outcome did not come back, since the console opened. */
  unknownTotal = 0;
  get unknown(): number {
    return this.unknownNow;
  }
  set unknown(n: number) {
    this.unknownTotal += Math.max(0, n - this.unknownNow);
    this.unknownNow = n;
  }
  private reads: number[] = [];
  private commits: number[] = [];
  read(ms: number): void {
    this.reads.push(ms);
  }
  commit(ms: number): void {
    this.commits.push(ms);
  }
  drain(): { committed: number; aborted: number; unknown: number; readMs: number; commitMs: number } {
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const out = { committed: this.committed, aborted: this.aborted, unknown: this.unknown, readMs: mean(this.reads), commitMs: mean(this.commits) };
    this.committed = this.aborted = this.unknownNow = 0;
    this.reads = [];
    this.commits = [];
    return out;
  }
}

const sumPrefix = (c: Record<string, number>, prefix: string) =>
  Object.entries(c).reduce((acc, [k, v]) => (k.startsWith(prefix) && !k.startsWith(`${prefix}dropped`) ? acc + v : acc), 0);

/** Turns counters into rates and keeps the last two minutes of samples. */
export class StatsHistory {
  readonly samples: Sample[] = [];
  private last: { at: number; counters: Record<string, number> } | null = null;

  add(status: PeerStatus | null, summary: RingSummary, ops: ReturnType<OpLog['drain']>, now = performance.now()): Sample {
    const c = status?.counters ?? {};
    const prev = this.last;
    const secs = prev ? Math.max(0.001, (now - prev.at) / 1000) : 1;
    const rate = (name: string | ((x: Record<string, number>) => number)) => {
      if (!prev) return 0;
      const f = typeof name === 'string' ? (x: Record<string, number>) => x[name] ?? 0 : name;
      return Math.max(0, (f(c) - f(prev.counters)) / secs);
    };
    const s: Sample = {
      msgsIn: rate((x) => sumPrefix(x, 'in.')),
      msgsOut: rate((x) => sumPrefix(x, 'out.')),
      txCommitted: rate('tx.committed'),
      txAborted: rate('tx.aborted'),
      opsCommitted: ops.committed / secs,
      opsAborted: ops.aborted / secs,
      opsUnknown: ops.unknown / secs,
      readMs: ops.readMs,
      commitMs: ops.commitMs,
      readP50: summary.latency?.read.p50 ?? ops.readMs,
      readP99: summary.latency?.read.p99 ?? NaN,
      commitP50: summary.latency?.commit.p50 ?? ops.commitMs,
      commitP99: summary.latency?.commit.p99 ?? NaN,
      items: status?.items ?? 0,
      kib: (summary.storageBytes ?? 0) / 1024,
    };
    this.last = { at: now, counters: { ...c } };
    this.samples.push(s);
    if (this.samples.length > plot_samples_max) this.samples.shift();
    return s;
  }

  series<K extends keyof Sample>(k: K): number[] {
    // A gap (no operation in a second) is drawn as the last known value.
    let last = 0;
    return this.samples.map((s) => {
      const v = s[k];
      if (Number.isFinite(v)) last = v;
      return last;
    });
  }
}

export function attachSampler(client: DemoClient, ops: OpLog, history: StatsHistory, onSample: (status: PeerStatus | null, summary: RingSummary) => void): void {
  const tick = async () => {
    try {
      const [status, summary] = await Promise.all([client.peerStatus(), client.summary()]);
      history.add(status, summary, ops.drain());
      onSample(status, summary);
    } catch {
      /* the status bar shows connection problems */
    }
  };
  void tick();
  setInterval(() => void tick(), sample_interval_ms);
}
