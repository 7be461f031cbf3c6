import { describe, expect, it } from 'vitest';
import { Simulation } from '../sim/simulation.ts';
import { buildRing, settle } from '../sim/scenarios.ts';
import { drive, simLink, simSleep } from '../sim/sim-link.ts';
import { Db } from './db.ts';
import { AbortedError, InvalidError, KeyChangedError, LimitError, NotFoundError, UnavailableError, WrongTypeError } from './errors.ts';

function cluster(n: number, seed = 1) {
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, n);
  settle(sim);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), 30_000);
  const dbs = sim.members().map((m, i) => new Db(simLink(sim, m.id), { random: () => sim.rng.next(), sleep: simSleep(sim) }));
  return { sim, dbs };
}

describe('key/value API over the simulated ring', () => {
  it('read, write, delete, get, testAndSet, addOnNr, addDelOnList', async () => {
    const { sim, dbs } = cluster(6);
    const [a, b] = [dbs[0]!, dbs[3]!];
    await expect(drive(sim, a.read('missing'))).rejects.toBeInstanceOf(NotFoundError);
    expect(await drive(sim, a.get('missing'))).toBeUndefined();
    await drive(sim, a.write('k', { hello: 'world' }));
    expect(await drive(sim, b.read('k'))).toEqual({ hello: 'world' });
    await drive(sim, b.testAndSet('k', { hello: 'world' }, 2));
    await expect(drive(sim, a.testAndSet('k', 1, 3))).rejects.toBeInstanceOf(KeyChangedError);
    expect(await drive(sim, a.addOnNr('k', 5))).toBe(7);
    await expect(drive(sim, a.addDelOnList('k', [1]))).rejects.toBeInstanceOf(WrongTypeError);
    expect(await drive(sim, a.addDelOnList('list', [1, 2, 3]))).toEqual([1, 2, 3]);
    expect(await drive(sim, b.addDelOnList('list', [4], [2]))).toEqual([1, 3, 4]);
    await expect(drive(sim, b.addOnNr('list', 1))).rejects.toBeInstanceOf(WrongTypeError);
    await drive(sim, a.delete('k'));
    await expect(drive(sim, b.read('k'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('checks limits and input before sending anything', async () => {
    const { sim, dbs } = cluster(4);
    const db = dbs[0]!;
    const sent = sim.sent;
    await expect(db.write('x'.repeat(1025), 1)).rejects.toBeInstanceOf(LimitError);
    await expect(db.write('k', 'v'.repeat(200_000))).rejects.toBeInstanceOf(LimitError);
    await expect(db.write('k', { f: () => 1 } as never)).rejects.toBeInstanceOf(InvalidError);
    await expect(db.write('k', Number.NaN)).rejects.toBeInstanceOf(InvalidError);
    await expect(db.read(42 as never)).rejects.toBeInstanceOf(InvalidError);
    await expect(
      db.transact(async (tx) => {
        for (let i = 0; i < 65; i++) tx.write(`k${i}`, i);
      }),
    ).rejects.toBeInstanceOf(LimitError);
    expect(sim.sent).toBe(sent);
  });

  it('N clients incrementing one counter concurrently end with the exact total', async () => {
    const { sim, dbs } = cluster(8, 7);
    const each = 15;
    const all = Promise.all(dbs.map(async (db) => {
      for (let i = 0; i < each; i++) await db.addOnNr('counter', 1);
    }));
    await drive(sim, all, 600_000);
    expect(await drive(sim, dbs[2]!.read('counter'))).toBe(each * dbs.length);
  });

  it('of two conflicting transactions at most one commits', async () => {
    const { sim, dbs } = cluster(5, 3);
    await drive(sim, dbs[0]!.write('x', 0));
    let results: Array<'commit' | 'abort'> = [];
    for (let round = 0; round < 10; round++) {
      const noRetry = dbs.map((_, i) => new Db(simLinkOf(sim, i), { transact_attempts_max: 1, random: () => sim.rng.next(), sleep: simSleep(sim) }));
      const attempt = (db: Db) =>
        db.transact(async (tx) => {
          const v = (await tx.read('x')) as number;
          tx.write('x', v + 1);
        }).then(() => 'commit' as const, (e) => {
          if (e instanceof AbortedError) return 'abort' as const;
          throw e;
        });
      results = await drive(sim, Promise.all([attempt(noRetry[0]!), attempt(noRetry[3]!)]));
      expect(results.filter((r) => r === 'commit').length).toBeLessThanOrEqual(1);
    }
    // Every commit incremented exactly once.
    const x = (await drive(sim, dbs[1]!.read('x'))) as number;
    expect(x).toBeGreaterThan(0);
  });

  it('watch tells every change once, in version order', async () => {
    const { sim, dbs } = cluster(5, 5);
    const seen: Array<[unknown, number]> = [];
    const stop = await drive(sim, dbs[1]!.watch('w', (v, ver) => seen.push([v, ver])));
    await drive(sim, dbs[0]!.write('w', 'a'));
    await drive(sim, dbs[2]!.write('w', 'b'));
    await drive(sim, dbs[3]!.delete('w'));
    sim.runFor(1000);
    expect(seen).toEqual([
      ['a', 1],
      ['b', 2],
      [undefined, 3],
    ]);
    await drive(sim, stop());
    await drive(sim, dbs[0]!.write('w', 'c'));
    sim.runFor(1000);
    expect(seen.length).toBe(3);
  });

  it('reads are unavailable, never not found, when a majority of replicas is down', async () => {
    const { sim, dbs } = cluster(4, 11);
    await drive(sim, dbs[0]!.write('k', 1));
    const members = sim.members();
    const survivor = members[0]!;
    for (const m of members.slice(1)) sim.crash(m.id);
    const db = new Db(simLink(sim, survivor.id), { random: () => sim.rng.next(), sleep: simSleep(sim) });
    await expect(drive(sim, db.read('k'))).rejects.toBeInstanceOf(UnavailableError);
    await expect(drive(sim, db.read('never-written'))).rejects.toBeInstanceOf(UnavailableError);
  });
});

function simLinkOf(sim: Simulation, i: number) {
  return simLink(sim, sim.members()[i]!.id);
}
