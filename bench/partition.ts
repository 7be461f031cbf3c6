/**
 * Healing a partition, in the simulator:
 *   npm run bench:partition -- --json [--sizes 16,64,256] [--partition-ms 30000]
 * Per ring size: a random half/half split held far longer than the failure detector's
 * timeout (each side forms its own ring), then the heal. Prints peers, healToOneRingMs
 * (virtual ms until one perfect ring), healToRepairedMs (until every peer again holds its
 * whole range authoritatively), messages (sent between the heal and the repair).
 */
import { perfectRing } from '../src/sim/ring-invariants.ts';
import { buildRing, settle } from '../src/sim/scenarios.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { args } from './args.ts';

const a = args();
const sizes = a.list('sizes', [16, 64, 256]);
const partitionMs = a.num('partition-ms', 30_000);

for (const n of sizes) {
  const sim = new Simulation({ seed: a.num('seed', 1), network: { latency_min_ms: 1, latency_jitter_mean_ms: 2 } });
  buildRing(sim, n, { joinGapMs: 10 });
  settle(sim, 600_000);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 120_000);
  // Some data, so that repair has something to move.
  for (let i = 0; i < 200; i++) sim.request(sim.rng.pick(sim.members()).id, { op: 'tx_commit', tx: `seed-${i}`, writes: [[`k${i}`, i, true]] });
  sim.runFor(5000);
  const ids = sim.rng.shuffle(sim.live().map((x) => x.id));
  sim.partitions.split([ids.slice(0, n / 2), ids.slice(n / 2)]);
  sim.runFor(partitionMs);
  sim.partitions.heal();
  const healAt = sim.now;
  const sent0 = sim.sent;
  let ringAt = -1;
  let lastCheck = -Infinity;
  const repaired = sim.runUntilTrue(() => {
    if (sim.now - lastCheck < 50) return false;
    lastCheck = sim.now;
    if (ringAt < 0 && perfectRing(sim.live()) === null) ringAt = sim.now;
    return ringAt >= 0 && sim.members().every((m) => m.peer.store.empty.empty && m.peer.store.stale.empty);
  }, 600_000);
  const out = {
    peers: n,
    partitionMs,
    healToOneRingMs: ringAt < 0 ? null : Math.round(ringAt - healAt),
    healToRepairedMs: repaired ? Math.round(sim.now - healAt) : null,
    messages: sim.sent - sent0,
  };
  console.log(a.json ? JSON.stringify(out) : out);
}
