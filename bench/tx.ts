/**
 * Transaction cost in the simulator with a fixed link latency:
 *   npm run bench:tx -- --json [--peers 8] [--latency 10]
 * Per operation kind: messageDelays on the critical path (client latency / link latency;
 * separately for the commit after the reads), messages per operation (protocol messages
 * only, heartbeats excluded), and the commit rate of conflicting transactions.
 */
import { Db } from '../src/api/db.ts';
import { advance, drive, simLink, simSleep } from '../src/sim/sim-link.ts';
import { buildRing, settle } from '../src/sim/scenarios.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { args } from './args.ts';

const a = args();
const peers = a.num('peers', 8);
const latency = a.num('latency', 10);
const MAINTENANCE = new Set(['ping', 'pong', 'route:find', 'found', 'route:rep_sync', 'rep_sync_reply', 'notify']);

const sim = new Simulation({ seed: a.num('seed', 1), network: { latency_min_ms: latency, latency_jitter_mean_ms: 0 }, disk: { disk_latency_min_ms: 0, disk_latency_jitter_mean_ms: 0 } });
buildRing(sim, peers);
settle(sim);
sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 60_000);
const dbs = sim.members().map((m) => new Db(simLink(sim, m.id), { random: () => sim.rng.next(), sleep: simSleep(sim), transact_attempts_max: 1 }));

function protocolMessages(): number {
  let n = 0;
  for (const [k, v] of sim.sentByKind) if (!MAINTENANCE.has(k)) n += v;
  return n;
}

async function measure(name: string, op: (i: number) => Promise<unknown>, reps = 20) {
  // Warm the responsibility caches first (a real client talks to the same ring all the time).
  for (let i = 0; i < 3; i++) await drive(sim, op(1000 + i));
  let msgs = 0;
  const lat: number[] = [];
  for (let i = 0; i < reps; i++) {
    await advance(sim, 50);
    const m0 = protocolMessages();
    const t0 = sim.now;
    await drive(sim, op(i));
    lat.push(sim.now - t0);
    await advance(sim, 10 * latency); // let the decision reach every participant
    msgs += protocolMessages() - m0;
  }
  lat.sort((x, y) => x - y);
  return { op: name, messageDelays: Number((lat[Math.floor(lat.length / 2)]! / latency).toFixed(2)), messages: Math.round(msgs / reps) };
}

const db = dbs[0]!;
await drive(sim, db.write('r', 1));
const results = [];
results.push(await measure('single read', () => db.read('r')));
results.push(await measure('single write (blind: version read + commit)', (i) => db.write(`w${i % 5}`, i)));
results.push(await measure('read-modify-write transaction', (i) => db.addOnNr(`c${i % 5}`, 1)));
results.push(
  await measure('4-key transaction', (i) =>
    db.transact(async (tx) => {
      for (let k = 0; k < 4; k++) tx.write(`m${k}`, (((await tx.get(`m${k}`)) as number | undefined) ?? 0) + i);
    }),
  ),
);

// Commit phase alone: the delays from tx_commit to its answer, after the reads.
const commitOnly: number[] = [];
for (let i = 0; i < 10; i++) {
  const id = db.newTxId();
  const link = simLink(sim, sim.members()[0]!.id);
  await drive(sim, link.request({ op: 'tx_read', tx: id, key: `c${i}` }));
  const t0 = sim.now;
  await drive(sim, link.request({ op: 'tx_commit', tx: id, writes: [[`c${i}`, i, true]] }));
  commitOnly.push(sim.now - t0);
}
commitOnly.sort((x, y) => x - y);

// Contention: every peer increments one key at once, no retries.
let ok = 0;
let tried = 0;
for (let round = 0; round < 20; round++) {
  const outs = await drive(sim, Promise.all(dbs.map((d) => d.addOnNr('hot', 1).then(() => true, () => false))));
  tried += outs.length;
  ok += outs.filter(Boolean).length;
}

const out = {
  peers,
  linkLatencyMs: latency,
  replicationFactor: 4,
  ops: results,
  commitMessageDelaysAfterReads: Number((commitOnly[Math.floor(commitOnly.length / 2)]! / latency).toFixed(2)),
  contention: { clients: dbs.length, attempts: tried, committed: ok, commitRate: Number((ok / tried).toFixed(3)) },
};
console.log(a.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
