import { Db } from '../../src/api/index.ts';
import { buildRing, settle } from '../../src/sim/scenarios.ts';
import { drive, simLink, simSleep } from '../../src/sim/sim-link.ts';
import { Simulation } from '../../src/sim/simulation.ts';

/**
 * For the demos' unit tests: a ring of n simulated peers (the real protocol, virtual time)
 * and one Db per peer, as src/api/api.test.ts does. `run` drives the simulation until a
 * promise settles.
 */
export function simCluster(n: number, seed = 1) {
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, n);
  settle(sim);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 30_000);
  const dbs = sim.members().map((m) => new Db(simLink(sim, m.id), { random: () => sim.rng.next(), sleep: simSleep(sim) }));
  const run = <T>(p: Promise<T>, limitMs = 600_000) => drive(sim, p, limitMs);
  return { sim, dbs, run };
}
