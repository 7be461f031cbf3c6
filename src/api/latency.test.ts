import { describe, expect, it } from 'vitest';
import { LatencyWindow } from './latency.ts';

describe('LatencyWindow', () => {
  it('p50 and p99 by nearest rank over a sliding window', () => {
    let t = 0;
    const w = new LatencyWindow(() => t, 10_000);
    expect(w.report().read).toEqual({ count: 0, p50: null, p99: null, max: null });
    for (let i = 1; i <= 100; i++) w.add('read', i);
    w.add('commit', 42);
    expect(w.report().read).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(w.report().commit).toEqual({ count: 1, p50: 42, p99: 42, max: 42 });
    t = 5_000;
    w.add('read', 1000);
    t = 10_001;
    // The first 100 samples left the window; the one at 5 s is still in it.
    expect(w.report().read).toEqual({ count: 1, p50: 1000, p99: 1000, max: 1000 });
    expect(w.report().commit.count).toBe(0);
  });

  it('keeps at most samplesMax per kind', () => {
    const w = new LatencyWindow(() => 0, 60_000, 10);
    for (let i = 0; i < 25; i++) w.add('commit', i);
    expect(w.report().commit).toMatchObject({ count: 10, max: 24 });
  });
});
