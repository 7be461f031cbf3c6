import { describe, expect, it } from 'vitest';
import { keyPosition } from '../core/hash.ts';
import { randomId } from '../core/id.ts';
import { Simulation } from '../sim/simulation.ts';
import { buildRing, settle, trueResponsible } from '../sim/scenarios.ts';
import type { ClientReply } from '../peer/io.ts';

function converge(sim: Simulation, n: number): void {
  buildRing(sim, n, { joinGapMs: 5 });
  expect(settle(sim)).toBeGreaterThanOrEqual(0);
  // Let every peer repair each of its fingers a few times.
  sim.runFor(60 * sim.members()[0]!.peer.ctx.config.finger_fix_interval_ms);
}

describe('routing', () => {
  for (const n of [16, 100, 300]) {
    it(`every lookup ends at the responsible peer, within log2(N)+2 hops (${n} peers)`, () => {
      const sim = new Simulation({ seed: n, network: { latency_min_ms: 1, latency_jitter_mean_ms: 3 } });
      converge(sim, n);
      const replies: Array<{ target: number; r: ClientReply }> = [];
      const members = sim.members();
      for (let i = 0; i < 500; i++) {
        const target = randomId(() => sim.rng.next());
        sim.request(sim.rng.pick(members).id, { op: 'lookup', target }, (r) => replies.push({ target, r }));
      }
      sim.runFor(10_000);
      expect(replies.length).toBe(500);
      let total = 0;
      for (const { target, r } of replies) {
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(r.value).toBe(trueResponsible(sim, target));
        expect(r.hops).toBeLessThanOrEqual(Math.log2(n) + 2);
        total += r.hops!;
      }
      expect(total / replies.length).toBeLessThanOrEqual(0.5 * Math.log2(n) + 1);
    });
  }

  it('keeps delivering to the responsible peer while fingers are stale after crashes', () => {
    const sim = new Simulation({ seed: 5 });
    converge(sim, 64);
    // Crash a quarter of the ring at once: fingers now point at dead peers.
    for (const n of sim.rng.shuffle(sim.members().slice()).slice(0, 16)) sim.crash(n.id);
    expect(settle(sim)).toBeGreaterThanOrEqual(0);
    const members = sim.members();
    const out: boolean[] = [];
    for (let i = 0; i < 200; i++) {
      const target = randomId(() => sim.rng.next());
      sim.request(sim.rng.pick(members).id, { op: 'lookup', target }, (r) => out.push(r.ok && r.value === trueResponsible(sim, target)));
    }
    sim.runFor(20_000);
    expect(out.length).toBe(200);
    expect(out.every(Boolean)).toBe(true);
  });
});

describe('plain DHT over routing', () => {
  it('put then get from any peer, through joins and graceful leaves (items move with responsibility)', () => {
    const sim = new Simulation({ seed: 11, network: { latency_jitter_mean_ms: 4 } });
    buildRing(sim, 12);
    settle(sim);
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    let acks = 0;
    for (const k of keys) sim.request(sim.rng.pick(sim.members()).id, { op: 'kv_put', key: k, value: { k, n: k.length } }, (r) => r.ok && acks++);
    sim.runFor(5000);
    expect(acks).toBe(keys.length);
    // Churn without crashes: 8 joins and 4 graceful leaves.
    for (let i = 0; i < 8; i++) {
      sim.addPeer(sim.rng.pick(sim.members()).id);
      sim.runFor(300);
    }
    for (let i = 0; i < 4; i++) {
      sim.leave(sim.rng.pick(sim.members()).id);
      sim.runFor(2000);
    }
    expect(settle(sim)).toBeGreaterThanOrEqual(0);
    const got = new Map<string, unknown>();
    for (const k of keys) sim.request(sim.rng.pick(sim.members()).id, { op: 'kv_get', key: k }, (r) => got.set(k, r.ok ? r.value : r));
    sim.runFor(5000);
    for (const k of keys) expect(got.get(k)).toEqual({ k, n: k.length });
    // Each item lives at exactly the peer responsible for it.
    for (const k of keys) {
      const holders = sim.members().filter((n) => n.peer.kv.items.has(k)).map((n) => n.id);
      expect(holders).toEqual([trueResponsible(sim, keyPosition(k))]);
    }
  });

  it('rejects oversized keys and values before sending anything', () => {
    const sim = new Simulation({ seed: 3 });
    buildRing(sim, 3);
    settle(sim);
    const id = sim.members()[0]!.id;
    const replies: ClientReply[] = [];
    const sentBefore = sim.sent;
    sim.request(id, { op: 'kv_put', key: 'x'.repeat(2000), value: 1 }, (r) => replies.push(r));
    sim.request(id, { op: 'kv_put', key: 'k', value: 'v'.repeat(200_000) }, (r) => replies.push(r));
    expect(replies.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['limit', 'limit']);
    expect(sim.sent).toBe(sentBefore);
  });
});
