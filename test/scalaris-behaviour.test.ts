import { describe, expect, it } from 'vitest';
import { Db } from '../src/api/db.ts';
import { UnavailableError } from '../src/api/errors.ts';
import type { Json } from '../src/core/types.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { buildRing, settle } from '../src/sim/scenarios.ts';
import { advance, drive, simLink, simSleep } from '../src/sim/sim-link.ts';
import { checkBank } from '../src/sim/check/bank.ts';

/** Scalaris' own test scenarios, with 4 peers and r = 4 (one replica of every key on every peer). */
function fourPeers(seed: number) {
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, 4);
  expect(settle(sim)).toBeGreaterThanOrEqual(0);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 30_000);
  const db = (i: number) => new Db(simLink(sim, sim.members()[i]!.id), { random: () => sim.rng.next(), sleep: simSleep(sim) });
  return { sim, db };
}

const keys = Array.from({ length: 20 }, (_, i) => `key${i}`);

describe('Scalaris behaviour with 4 peers and r = 4', () => {
  it('balanced placement puts the 4 replicas of every key on 4 distinct peers', () => {
    const { sim } = fourPeers(1);
    const ids = sim.members().map((m) => m.id).sort((a, b) => a - b);
    for (let i = 0; i < 4; i++) {
      const gap = (ids[(i + 1) % 4]! - ids[i]! + 2 ** 52) % 2 ** 52;
      expect(Math.abs(gap - 2 ** 50) / 2 ** 50).toBeLessThan(0.001);
    }
  });

  it('one peer crashed: every operation still succeeds', async () => {
    const { sim, db } = fourPeers(2);
    for (const k of keys) await drive(sim, db(0).write(k, k));
    sim.crash(sim.members()[1]!.id);
    const d = db(2);
    for (const k of keys) expect(await drive(sim, d.read(k))).toBe(k);
    for (const k of keys) await drive(sim, d.write(k, `${k}!`));
    await drive(sim, d.transact(async (tx) => {
      tx.write('a', (((await tx.get('a')) as number | undefined) ?? 0) + 1);
      tx.write('b', 1);
    }));
    for (const k of keys) expect(await drive(sim, db(0).read(k))).toBe(`${k}!`);
  });

  it('three peers crashed: reads fail as unavailable, never as not found', async () => {
    const { sim, db } = fourPeers(3);
    for (const k of keys.slice(0, 5)) await drive(sim, db(0).write(k, 1));
    const survivor = sim.members()[0]!.id;
    for (const m of sim.members().slice(1)) sim.crash(m.id);
    const d = new Db(simLink(sim, survivor), { random: () => sim.rng.next(), sleep: simSleep(sim) });
    for (const k of [...keys.slice(0, 5), 'never-written']) {
      await expect(drive(sim, d.read(k))).rejects.toBeInstanceOf(UnavailableError);
    }
    await expect(drive(sim, d.write('x', 1))).rejects.toBeInstanceOf(UnavailableError);
  });

  it('two peers paused: operations fail or wait, and succeed again once they resume', async () => {
    const { sim, db } = fourPeers(4);
    for (const k of keys.slice(0, 5)) await drive(sim, db(0).write(k, 0));
    const [a, b] = [sim.members()[1]!.id, sim.members()[3]!.id];
    sim.pause(a);
    sim.pause(b);
    const d = db(0);
    // While two of four replicas are frozen, no majority answers: the write waits or fails.
    const during = d.write('key0', 1).then(() => 'ok', (e) => (e instanceof UnavailableError ? 'unavailable' : String(e)));
    await advance(sim, 2000);
    sim.resume(a);
    sim.resume(b);
    const outcome = await drive(sim, during);
    expect(['ok', 'unavailable']).toContain(outcome);
    // After the resume everything works again.
    await drive(sim, d.write('key1', 2));
    expect(await drive(sim, db(2).read('key1'))).toBe(2);
    const k0 = await drive(sim, db(1).read('key0'));
    expect(k0).toBe(outcome === 'ok' ? 1 : k0);
  });
});

describe('transactions under failures', () => {
  it('a transaction whose TM crashes after the votes still commits (an RTM finishes it)', async () => {
    const { sim, db } = fourPeers(5);
    await drive(sim, db(0).write('x', 'before'));
    const tmNode = sim.members()[2]!;
    let crashed = false;
    sim.beforeDeliver = (_from, to, msg) => {
      // The first vote acceptance on its way back to the TM: every participant has voted.
      if (!crashed && to === tmNode.id && msg.t === 'tx_accepted') {
        crashed = true;
        sim.crash(to);
      }
    };
    const tm = new Db(simLink(sim, tmNode.id), { random: () => sim.rng.next(), sleep: simSleep(sim) });
    const p = tm.write('x', 'after').then(() => 'told', () => 'not told');
    await advance(sim, 200);
    expect(crashed).toBe(true);
    sim.beforeDeliver = null;
    // The client died with its TM; the RTMs decide and the participants apply.
    await advance(sim, 30_000);
    void p;
    expect(await drive(sim, db(0).read('x'))).toBe('after');
    for (const m of sim.members()) for (const e of m.peer.store.entries.values()) expect(e.item.pend).toEqual([]);
  });

  it('bank transfers between peers keep the total while a peer crashes and restarts', async () => {
    const { sim, db } = fourPeers(6);
    const accounts = ['A', 'B', 'C', 'D', 'E'];
    await drive(sim, db(0).transact(async (tx) => accounts.forEach((a) => tx.write(a, 100))));
    const reads: Array<{ id: string; balances: Record<string, number>; status: 'ok' }> = [];
    const clients = [0, 1, 2, 3].map((i) => db(i));
    let stop = false;
    const work = clients.map(async (c, ci) => {
      let n = 0;
      while (!stop) {
        const from = accounts[(ci + n) % 5]!;
        const to = accounts[(ci + 2 * n + 1) % 5]!;
        n++;
        try {
          if (n % 4 === 0) {
            const balances: Record<string, number> = {};
            await c.transact(async (tx) => {
              for (const a of accounts) balances[a] = (await tx.read(a)) as number;
            });
            reads.push({ id: `${ci}-${n}`, balances, status: 'ok' });
          } else if (from !== to) {
            await c.transact(async (tx) => {
              const f = (await tx.read(from)) as number;
              const t = (await tx.read(to)) as number;
              if (f >= 7) {
                tx.write(from, f - 7);
                tx.write(to, t + 7);
              }
            });
          }
        } catch {
          // Unavailable, unknown, or our own peer is down: the checker judges only what was read.
          await simSleep(sim)(50);
        }
      }
    });
    await advance(sim, 3000);
    const victim = sim.members()[3]!.id;
    sim.crash(victim);
    await advance(sim, 5000);
    sim.restart(victim, sim.members()[0]!.id);
    await advance(sim, 5000);
    stop = true;
    await drive(sim, Promise.all(work), 120_000);
    const final: Record<string, number> = {};
    for (const a of accounts) final[a] = (await drive(sim, db(0).read(a))) as number;
    reads.push({ id: 'final', balances: final, status: 'ok' });
    expect(reads.length).toBeGreaterThan(10);
    const res = checkBank({ accounts, total: 500, reads });
    expect(res.anomalies).toEqual([]);
    expect(Object.values(final).reduce((s, v) => s + (v as number), 0)).toBe(500);
    void (null as Json);
  });
});
