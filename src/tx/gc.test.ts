/**
 * Garbage collection of acceptor state (src/tx/acceptor.ts, transactions.ts): acceptors
 * forget a transaction once every replica applied its decision, and only then.
 */
import { describe, expect, it } from 'vitest';
import { Db } from '../api/db.ts';
import { buildRing, settle } from '../sim/scenarios.ts';
import { drive, simLink, simSleep } from '../sim/sim-link.ts';
import { Simulation } from '../sim/simulation.ts';

function cluster(n: number, seed = 3) {
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, n);
  settle(sim);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 30_000);
  const db = new Db(simLink(sim, sim.members()[0]!.id), { random: () => sim.rng.next(), sleep: simSleep(sim) });
  return { sim, db };
}

const acceptorTxs = (sim: Simulation) => sim.members().reduce((s, m) => s + m.peer.tx.acceptor.txs.size, 0);
const storedAcceptorRecords = (sim: Simulation) =>
  sim.members().reduce((s, m) => s + sim.durable(m.id).filter(([k]) => k.startsWith('acc/')).length, 0);

describe('acceptor garbage collection', () => {
  it('every replica applied: the acceptors forget, on disk and in memory, and late questions are still answered', async () => {
    const { sim, db } = cluster(6);
    for (let i = 0; i < 20; i++) await drive(sim, db.addOnNr(`k${i % 4}`, 1));
    sim.runFor(2_000);
    expect(acceptorTxs(sim)).toBe(0);
    expect(storedAcceptorRecords(sim)).toBe(0);
    const forgotten = sim.members().reduce((s, m) => s + (m.peer.ctx.counters.toJSON() as Record<string, number>)['acc.forgotten']!, 0);
    expect(forgotten).toBeGreaterThanOrEqual(20 * 3); // at least a majority of slots per transaction
    expect(await drive(sim, db.read('k0'))).toBe(5);
  });

  it('a replica that is down never acknowledges: the acceptors keep the decision on disk', async () => {
    const { sim, db } = cluster(6);
    await drive(sim, db.addOnNr('x', 1));
    sim.runFor(2_000);
    expect(acceptorTxs(sim)).toBe(0);
    // Crash one holder of x's replicas (not the client's peer): its replica cannot apply the next decision.
    const client = sim.members()[0]!.id;
    const holders = (await drive(sim, db.replicas("x"))).slots.map((r) => r.holder).filter((h): h is number => h !== null && h !== client);
    sim.crash(holders[0]!);
    await drive(sim, db.addOnNr('x', 1));
    sim.runFor(5_000);
    expect(acceptorTxs(sim)).toBeGreaterThan(0);
    expect(storedAcceptorRecords(sim)).toBeGreaterThan(0);
    expect(sim.members().every((m) => [...m.peer.tx.acceptor.txs.values()].every((t) => t.decision !== null))).toBe(true);
  });
});
