import { describe, expect, it } from 'vitest';
import { Db } from '../api/db.ts';
import { LimitError } from '../api/errors.ts';
import { keyPosition } from '../core/hash.ts';
import { buildRing, settle, trueResponsible } from '../sim/scenarios.ts';
import { advance, drive, simLink, simSleep } from '../sim/sim-link.ts';
import { Simulation } from '../sim/simulation.ts';
import type { ClientReply } from '../peer/io.ts';
import type { ReplicasReport } from './replica-probe.ts';
import { replicaPositions } from './replicas.ts';

/** 4 peers, r = 4: every key has one replica on every peer. Messages pass the codec (schemas checked). */
function fourPeers(seed: number) {
  const sim = new Simulation({ seed, codec_check: true, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, 4);
  expect(settle(sim)).toBeGreaterThanOrEqual(0);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 30_000);
  const db = (id: number) => new Db(simLink(sim, id), { random: () => sim.rng.next(), sleep: simSleep(sim) });
  return { sim, db };
}

describe('replicas diagnostic', () => {
  it('after a write, all 4 slots name their holder and show the same version', async () => {
    const { sim, db } = fourPeers(11);
    const [a, b] = sim.members().map((m) => db(m.id));
    await drive(sim, a!.write('k', 'v1'));
    await drive(sim, a!.write('k', 'v2'));
    const r = await drive(sim, b!.replicas('k'));
    expect(r.key).toBe('k');
    expect(r.position).toBe(keyPosition('k'));
    expect(r.answered).toBe(4);
    expect(r.slots.map((s) => s.position)).toEqual(replicaPositions(keyPosition('k'), 4));
    for (const s of r.slots) {
      expect(s).toMatchObject({ answered: true, authority: 'auth', authoritative: true, held: true, found: true, version: 2, locked: false, lockedVersion: 0 });
      expect(s.holder).toBe(trueResponsible(sim, s.position));
    }
    expect(new Set(r.slots.map((s) => s.holder)).size).toBe(4);
    // A key never written: every slot answers, version 0, nothing held.
    const none = await drive(sim, b!.replicas('never-written'));
    for (const s of none.slots) expect(s).toMatchObject({ answered: true, authoritative: true, held: false, found: false, version: 0 });
  });

  it('is read-only: it changes no replica', async () => {
    const { sim, db } = fourPeers(12);
    const a = db(sim.members()[0]!.id);
    await drive(sim, a.write('k', 1));
    const snapshot = () => JSON.stringify(sim.members().map((m) => m.peer.store.dump()));
    const before = snapshot();
    for (let i = 0; i < 3; i++) await drive(sim, a.replicas('k'));
    expect(snapshot()).toBe(before);
  });

  it('a crashed holder leaves its slot unanswered', async () => {
    const { sim, db } = fourPeers(13);
    const asker = sim.members()[0]!.id;
    const a = db(asker);
    await drive(sim, a.write('k', 'x'));
    const before = await drive(sim, a.replicas('k'));
    const victim = before.slots.find((s) => s.holder !== asker)!;
    sim.crash(victim.holder!);
    const r = await drive(sim, a.replicas('k'));
    const slot = r.slots[victim.slot]!;
    // Until the ring notices, nobody answers for it; afterwards its new holder has no data yet.
    expect(slot.answered === false || slot.authoritative === false).toBe(true);
    if (!slot.answered) expect(slot).toMatchObject({ holder: null, version: null, authority: null });
    expect(r.slots.filter((s) => s.answered && s.authoritative && s.version === 1)).toHaveLength(3);
    // Once the ring has healed and repaired, the 3 survivors answer for all 4 slots.
    await advance(sim, 20_000);
    const healed = await drive(sim, a.replicas('k'));
    for (const s of healed.slots) expect(s).toMatchObject({ answered: true, authoritative: true, version: 1 });
    expect(new Set(healed.slots.map((s) => s.holder)).size).toBe(3);
  });

  it('shows the locks of a transaction that is prepared but not decided', async () => {
    const { sim, db } = fourPeers(14);
    const [tmId, otherId] = [sim.members()[2]!.id, sim.members()[0]!.id];
    const other = db(otherId);
    await drive(sim, other.write('k', 'before'));
    // Freeze the TM when the acceptors start answering it: the participants have voted.
    let paused = false;
    sim.beforeDeliver = (_from, to, msg) => {
      if (!paused && to === tmId && msg.t === 'tx_accepted') {
        paused = true;
        sim.pause(tmId);
      }
    };
    const p = db(tmId).write('k', 'after');
    await advance(sim, 50);
    expect(paused).toBe(true);
    sim.beforeDeliver = null;
    const during: ReplicasReport = await drive(sim, other.replicas('k'));
    // The paused TM's own replica does not answer; the others hold the prepared write.
    const lockedSlots = during.slots.filter((s) => s.locked);
    expect(lockedSlots.length).toBeGreaterThanOrEqual(2);
    for (const s of lockedSlots) expect(s).toMatchObject({ version: 1, lockedVersion: 2 });
    expect(during.slots.find((s) => s.holder === tmId)).toBeUndefined();
    sim.resume(tmId);
    await drive(sim, p);
    await advance(sim, 1000);
    const after = await drive(sim, other.replicas('k'));
    for (const s of after.slots) expect(s).toMatchObject({ answered: true, version: 2, locked: false, pending: 0 });
  });

  it('checks the key like every operation', async () => {
    const { sim, db } = fourPeers(15);
    await expect(drive(sim, db(sim.members()[0]!.id).replicas('x'.repeat(5000)))).rejects.toBeInstanceOf(LimitError);
  });
});
