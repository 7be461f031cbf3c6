import { describe, expect, it } from 'vitest';
import { Simulation } from '../sim/simulation.ts';
import { lookupConsistency, oneRing, perfectRing } from '../sim/ring-invariants.ts';
import { buildRing, scheduleChurn, settle } from '../sim/scenarios.ts';
import { Rng } from '../sim/rng.ts';

const SEEDS_JOIN = 150;
const SEEDS_CHURN = 120;

describe('relaxed ring: joins without failures', () => {
  it(`never has two responsible peers for a key, at any instant (${SEEDS_JOIN} seeds)`, () => {
    for (let seed = 1; seed <= SEEDS_JOIN; seed++) {
      const shape = new Rng(seed * 7919);
      const sim = new Simulation({
        seed,
        // Reordering and duplication, no loss: no failure may be suspected in this test.
        network: { latency_min_ms: 1, latency_jitter_mean_ms: shape.int(1, 30), duplicate_rate: shape.chance(0.5) ? 0.05 : 0, reorder_rate: 0.05, reorder_delay_ms: 40 },
      });
      let violation: string | null = null;
      let events = 0;
      sim.afterEvent = () => {
        events++;
        if (violation === null) violation = lookupConsistency([...sim.nodes.values()]);
      };
      const n = shape.int(2, 40);
      sim.addPeer(null);
      // Joins arrive close together, many of them concurrently.
      for (let i = 1; i < n; i++) {
        sim.schedule(shape.next() * 2000, () => sim.addPeer(sim.rng.pick(sim.members()).id));
      }
      sim.runFor(2500);
      const took = settle(sim, 60_000);
      expect(violation, `seed ${seed}`).toBeNull();
      expect(took, `seed ${seed}: ring not perfect: ${perfectRing(sim.live())}`).toBeGreaterThanOrEqual(0);
      expect(sim.members().length).toBe(n);
      expect(oneRing(sim.live())).toBeNull();
      expect(events).toBeGreaterThan(n);
    }
  });
});

describe('relaxed ring: churn with crashes, leaves and restarts', () => {
  it(`converges back to one perfect ring once churn stops (${SEEDS_CHURN} seeds)`, () => {
    for (let seed = 1; seed <= SEEDS_CHURN; seed++) {
      const shape = new Rng(seed * 104729);
      const sim = new Simulation({
        seed,
        network: { latency_min_ms: 1, latency_jitter_mean_ms: shape.int(1, 20), loss_rate: shape.chance(0.5) ? 0.01 : 0, duplicate_rate: 0.01 },
      });
      buildRing(sim, shape.int(4, 24));
      scheduleChurn(sim, shape, {
        churn_events: shape.int(3, 20),
        churn_phase_ms: 20_000,
        crash_weight: 3,
        leave_weight: 2,
        join_weight: 3,
        restart_weight: 2,
        members_min: 3,
      });
      sim.runFor(20_000);
      const took = settle(sim, 120_000);
      const why = perfectRing(sim.live());
      expect(took, `seed ${seed}: ${why}`).toBeGreaterThanOrEqual(0);
      expect(oneRing(sim.live()), `seed ${seed}`).toBeNull();
      expect(lookupConsistency(sim.live()), `seed ${seed}`).toBeNull();
    }
  });

  it('restarted peers rejoin with their stored identity', () => {
    const sim = new Simulation({ seed: 42 });
    buildRing(sim, 8);
    settle(sim);
    const victim = sim.members()[3]!.id;
    sim.crash(victim);
    sim.runFor(10_000);
    expect(sim.members().some((n) => n.id === victim)).toBe(false);
    sim.restart(victim, sim.members()[0]!.id);
    expect(settle(sim)).toBeGreaterThanOrEqual(0);
    expect(sim.members().some((n) => n.id === victim)).toBe(true);
  });
});

describe('replay', () => {
  const run = (seed: number) => {
    const sim = new Simulation({ seed, network: { latency_jitter_mean_ms: 5, loss_rate: 0.01, duplicate_rate: 0.01 } });
    buildRing(sim, 20);
    scheduleChurn(sim, new Rng(seed + 1), { churn_events: 10, churn_phase_ms: 5000, crash_weight: 1, leave_weight: 1, join_weight: 1, restart_weight: 1, members_min: 3 });
    sim.runFor(20_000);
    return { hash: sim.trace.digest(), events: sim.trace.events };
  };

  it('one seed run twice gives the same trace hash; another seed another', () => {
    const a = run(7);
    const b = run(7);
    const c = run(8);
    expect(a).toEqual(b);
    expect(c.hash).not.toBe(a.hash);
    expect(a.events).toBeGreaterThan(1000);
  });
});

describe('partitions', () => {
  it('rings split by a long partition (any cut) merge into one perfect ring after the heal (40 seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 3 } });
      const n = 4 + (seed % 28);
      buildRing(sim, n);
      expect(settle(sim)).toBeGreaterThanOrEqual(0);
      const ids = sim.rng.shuffle(sim.live().map((x) => x.id));
      const cut = 1 + Math.floor(sim.rng.next() * (n - 1));
      sim.partitions.split([ids.slice(0, cut), ids.slice(cut)]);
      // Far longer than the failure detector's timeout: each side forms its own ring.
      sim.runFor(30_000);
      expect(oneRing(sim.live()), `seed ${seed}: still one ring while partitioned`).not.toBeNull();
      sim.partitions.heal();
      expect(settle(sim, 120_000), `seed ${seed}: ${perfectRing(sim.live())}`).toBeGreaterThanOrEqual(0);
      expect(oneRing(sim.live())).toBeNull();
    }
  });
});
