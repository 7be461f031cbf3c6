import { describe, expect, it } from 'vitest';
import { Db } from '../src/api/db.ts';
import { keyPosition } from '../src/core/hash.ts';
import { ID_SPACE, addId, inOpenClosed } from '../src/core/id.ts';
import type { PeerId } from '../src/core/types.ts';
import type { ClientReply } from '../src/peer/io.ts';
import { replicaPositions } from '../src/replication/replicas.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { settle } from '../src/sim/scenarios.ts';
import { drive, simLink, simSleep } from '../src/sim/sim-link.ts';

/**
 * The e2e mixed ring (e2e/node-peer.spec.ts), replayed in the simulator: an always-on peer A
 * founds a ring, three others join at about 0.28, 0.5 and 0.75 of the circle (balanced ids
 * with the bootstrap's jitter), keys are written, the two behind A leave gracefully and the
 * last one crashes. A alone is then responsible for everything; what the crashed peer held,
 * (A, A + 0.28], is empty (not authoritative), the rest is A's own data. A new peer joins
 * opposite A and takes (A, A + 0.5] from it: part empty, part authoritative data.
 *
 * The handover must keep authority where the sender had it: sent as one range it went as the
 * weakest state ("none"), the authoritative part of every key's replica became empty at the
 * joiner, and every key was unavailable for good (only 2 of 4 authoritative replicas left,
 * none of them able to repair the others).
 */
const S = ID_SPACE;
const A: PeerId = 2 ** 48;
const at = (f: number): PeerId => addId(A, Math.floor(f * S));

function read(sim: Simulation, peer: PeerId, key: string): Promise<ClientReply> {
  return new Promise((resolve) => sim.request(peer, { op: 'read', key }, resolve));
}

/** The ring of the e2e test up to the crash: A alone, (A, A + 0.277] empty, the rest A's own data. */
async function aloneAfterCrash(seed: number) {
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  sim.addPeer(null, A);
  for (const f of [0.5, 0.277, 0.75]) {
    sim.addPeer(A, at(f));
    sim.runFor(200);
  }
  expect(settle(sim)).toBeGreaterThanOrEqual(0);
  expect(sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.intersects(m.peer.ring.pred!, m.id) === false), 30_000)).toBe(true);

  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  const db = new Db(simLink(sim, at(0.5)), { random: () => sim.rng.next(), sleep: simSleep(sim) });
  for (const k of keys) await drive(sim, db.write(k, k));

  // The two behind A leave gracefully (their data goes to A), the last one crashes.
  const a = sim.nodes.get(A)!.peer;
  for (const [f, next] of [[0.75, 0.5], [0.5, 0.277]] as const) {
    sim.leave(at(f));
    expect(sim.runUntilTrue(() => !sim.nodes.get(at(f))!.alive && a.ring.pred === at(next) && a.store.handoversPending() === 0, 60_000)).toBe(true);
  }
  sim.crash(at(0.277));
  expect(sim.runUntilTrue(() => a.ring.pred === A, 60_000)).toBe(true);
  expect(a.store.empty.intervals().length).toBeGreaterThan(0);
  // Replicas of k in the crashed range: with one, A holds the other 3 authoritatively.
  const lost = (k: string) => replicaPositions(keyPosition(k), 4).filter((p) => inOpenClosed(p, A, at(0.277))).length;
  return { sim, a, keys, lost };
}

describe('handover of a range that is partly empty', () => {
  it('keeps authority over the part the sender held authoritatively', async () => {
    const { sim, a, keys, lost } = await aloneAfterCrash(7);
    const readable = keys.filter((k) => lost(k) === 1);
    expect(readable.length).toBeGreaterThan(keys.length / 2);

    for (const k of readable) expect(await drive(sim, read(sim, A, k)), `${k} read through A alone`).toMatchObject({ ok: true, found: true, value: k });

    // A newcomer takes (A, A + 0.5] at once (before any repair could run).
    sim.addPeer(A, at(0.5));
    expect(sim.runUntilTrue(() => a.ring.pred === at(0.5) && sim.nodes.get(at(0.5))!.peer.ring.status === 'in', 30_000)).toBe(true);
    sim.runFor(5_000);
    for (const k of readable) {
      for (const p of [A, at(0.5)]) {
        const r = await drive(sim, read(sim, p, k));
        expect(r, `${k} read through ${p === A ? 'A' : 'the newcomer'}`).toMatchObject({ ok: true, found: true, value: k });
      }
    }
    for (const k of keys.filter((k) => lost(k) > 1)) {
      expect(await drive(sim, read(sim, A, k))).toMatchObject({ ok: false, code: 'unavailable' });
    }
  });

  it('a peer left alone rebuilds what a majority of replica slots still holds, and no more', async () => {
    const { sim, a, keys, lost } = await aloneAfterCrash(8);
    // Repair asks for the shifted copies of the empty range; the part of them that overlaps
    // the empty range itself answers "unknown", the rest "ok": keys with one replica in the
    // crashed range come back on all 4 slots, keys with two stay unavailable.
    expect(sim.runUntilTrue(() => keys.every((k) => lost(k) > 1 || replicaPositions(keyPosition(k), 4).every((p) => a.store.authoritative(p))), 10_000)).toBe(true);
    for (const k of keys) {
      const r = await drive(sim, read(sim, A, k));
      if (lost(k) === 1) expect(r, k).toMatchObject({ ok: true, found: true, value: k });
      else expect(r, k).toMatchObject({ ok: false, code: 'unavailable' });
    }
    expect(keys.filter((k) => lost(k) > 1).length).toBeGreaterThan(0);
  });
});
