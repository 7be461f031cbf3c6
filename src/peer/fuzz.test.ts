import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../core/codec.ts';
import { message_bytes_max } from '../core/limits.ts';
import type { Msg } from '../core/messages.ts';
import { Simulation } from '../sim/simulation.ts';
import { buildRing, settle } from '../sim/scenarios.ts';
import type { Peer } from './peer.ts';

/** What must not change when a peer drops a message. */
function snapshot(p: Peer) {
  return JSON.stringify({ status: p.ring.status, pred: p.ring.pred, succs: p.ring.succs, items: [...p.kv.items], fingers: p.router.fingers.peers() });
}

function ring() {
  const sim = new Simulation({ seed: 99 });
  buildRing(sim, 6);
  settle(sim);
  return sim;
}

describe('bad input from the wire', () => {
  it('arbitrary bytes never throw and never change state', () => {
    const sim = ring();
    const peer = sim.members()[2]!.peer;
    const sender = sim.members()[0]!.id;
    const before = snapshot(peer);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.uint8Array().map((a) => String.fromCharCode(...a))), (s) => {
        peer.receiveRaw(sender, s);
        expect(snapshot(peer)).toBe(before);
      }),
      { numRuns: 1000, seed: 1 },
    );
    expect(peer.ctx.counters.get('in.dropped_malformed') + peer.ctx.counters.get('in.dropped_invalid')).toBeGreaterThanOrEqual(1000);
  });

  it('arbitrary JSON objects, and valid messages with one field broken, are dropped and counted', () => {
    const sim = ring();
    const peer = sim.members()[3]!.peer;
    const sender = sim.members()[1]!.id;
    const before = snapshot(peer);
    const valid: Msg[] = [
      { t: 'join_ok', pred: 5, succs: [1, 2] },
      { t: 'route', target: 7, origin: sender, hops: 1, last: true, body: { k: 'kv_put', reqId: 1, key: 'a', value: 1 } },
      { t: 'kv_items', items: [['a', 1]] },
      { t: 'leave', pred: 3 },
    ];
    const breakers: Array<(m: Record<string, unknown>) => void> = [
      (m) => (m.t = 'no-such-type'),
      (m) => (m.extra = 1),
      (m) => {
        const k = Object.keys(m).find((x) => x !== 't');
        if (k) m[k] = { nested: [1, 2, { deep: true }] };
      },
      (m) => {
        const k = Object.keys(m).find((x) => x !== 't');
        if (k) m[k] = -1.5;
      },
      (m) => {
        const k = Object.keys(m).find((x) => x !== 't');
        if (k) delete m[k];
      },
    ];
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.nat(breakers.length - 1), fc.jsonValue(), (vi, bi, junk) => {
        const m = structuredClone(valid[vi]!) as unknown as Record<string, unknown>;
        breakers[bi]!(m);
        const r = decode(JSON.stringify(m));
        expect(r.ok).toBe(false);
        peer.receiveRaw(sender, JSON.stringify(m));
        peer.receiveRaw(sender, JSON.stringify(junk));
        expect(snapshot(peer)).toBe(before);
      }),
      { numRuns: 1000, seed: 2 },
    );
  });

  it('oversized frames are refused before parsing; ids out of range are invalid', () => {
    expect(decode('x'.repeat(message_bytes_max + 1))).toMatchObject({ ok: false, reason: 'oversized' });
    expect(decode(JSON.stringify({ t: 'notify', x: 1 }))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decode(JSON.stringify({ t: 'join_ok', pred: 2 ** 52, succs: [] }))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decode(JSON.stringify({ t: 'join_ok', pred: 1.5, succs: [] }))).toMatchObject({ ok: false, reason: 'invalid' });
    expect(decode(new Uint8Array(3))).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('every message the ring sends survives the codec (a run with codec_check)', () => {
    const sim = new Simulation({ seed: 4, codec_check: true, network: { loss_rate: 0.01 } });
    buildRing(sim, 10);
    for (let i = 0; i < 20; i++) sim.request(sim.rng.pick(sim.members()).id, { op: 'kv_put', key: `k${i}`, value: [i, { s: 'é✓' }] });
    sim.runFor(5000);
    sim.leave(sim.members()[2]!.id);
    sim.crash(sim.members()[3]!.id);
    expect(settle(sim)).toBeGreaterThanOrEqual(0);
    let dropped = 0;
    for (const n of sim.live()) for (const [k, v] of n.peer.ctx.counters.values) if (k.startsWith('in.dropped_')) dropped += v;
    expect(dropped).toBe(0);
    expect(encode({ t: 'notify' })).toBe('{"t":"notify"}');
  });
});
