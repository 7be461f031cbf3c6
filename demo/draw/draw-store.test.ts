import { describe, expect, it } from 'vitest';
import { simCluster } from '../shared/sim-cluster.ts';
import { DrawStore, drawKey, lock_lease_ms, ShapeLockedError, ShapeLostError, type Shape } from './draw-store.ts';

const rect = (id: string): Omit<Shape, 'owner' | 'rev'> => ({ id, kind: 'rect', x: 10, y: 10, w: 50, h: 40, stroke: '#000', fill: 'none', lineWidth: 2 });

describe('drawing on the simulated ring', () => {
  it('a shape drawn in one tab is seen by another, whole drawing loads late', async () => {
    const { sim, dbs, run } = simCluster(5, 11);
    const clock = () => sim.now;
    const a = new DrawStore(dbs[0]!, 'b', { client: 'A', name: 'Ann', color: 'red' }, clock);
    const b = new DrawStore(dbs[3]!, 'b', { client: 'B', name: 'Bob', color: 'blue' }, clock);
    const seen: unknown[] = [];
    await run(dbs[3]!.watch(drawKey.index('b'), (v) => seen.push(v)));
    await run(a.create(rect('s1')));
    await run(a.create({ ...rect('s2'), kind: 'path', points: [[0, 0], [1, 1]] }));
    sim.runFor(500);
    expect(seen.at(-1)).toEqual(['s1', 's2']);
    const all = await run(b.load());
    expect(all.map((s) => [s.id, s.kind, s.owner?.client])).toEqual([['s1', 'rect', 'A'], ['s2', 'path', 'A']]);
  });

  it('two tabs grabbing the same shape: exactly one holds it, the other cannot move it', async () => {
    const { sim, dbs, run } = simCluster(5, 12);
    const clock = () => sim.now;
    const a = new DrawStore(dbs[0]!, 'b', { client: 'A', name: 'Ann', color: 'red' }, clock);
    const b = new DrawStore(dbs[2]!, 'b', { client: 'B', name: 'Bob', color: 'blue' }, clock);
    await run(a.create(rect('s')));
    await run(a.release('s'));
    const grabs = await run(Promise.allSettled([a.grab('s'), b.grab('s')]));
    const winners = grabs.filter((g) => g.status === 'fulfilled');
    expect(winners.length).toBe(1);
    expect((grabs.find((g) => g.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ShapeLockedError);
    const [holder, other] = grabs[0]!.status === 'fulfilled' ? [a, b] : [b, a];
    await expect(run(other.update('s', { x: 999 }))).rejects.toBeInstanceOf(ShapeLockedError);
    await expect(run(other.remove('s'))).rejects.toBeInstanceOf(ShapeLockedError);
    expect((await run(holder.update('s', { x: 100 }))).x).toBe(100);
    expect((await run(other.shape('s')))?.x).toBe(100);
    // Released: the other can take it.
    await run(holder.release('s'));
    expect((await run(other.grab('s'))).owner?.client).toBe(other === a ? 'A' : 'B');
  });

  it('a lease ends by itself; the old holder then cannot change the shape', async () => {
    const { sim, dbs, run } = simCluster(4, 13);
    const clock = () => sim.now;
    const a = new DrawStore(dbs[0]!, 'b', { client: 'A', name: 'Ann', color: 'red' }, clock);
    const b = new DrawStore(dbs[1]!, 'b', { client: 'B', name: 'Bob', color: 'blue' }, clock);
    await run(a.create(rect('s')));
    await expect(run(b.grab('s'))).rejects.toBeInstanceOf(ShapeLockedError);
    sim.runFor(lock_lease_ms + 1000);
    await run(b.grab('s'));
    await expect(run(a.update('s', { x: 1 }))).rejects.toBeInstanceOf(ShapeLockedError);
    await run(b.release('s'));
    sim.runFor(10);
    await expect(run(a.update('s', { x: 1 }))).rejects.toBeInstanceOf(ShapeLostError);
  });

  it('the last change of an edit and the release commit in one transaction', async () => {
    const { sim, dbs, run } = simCluster(4, 15);
    const clock = () => sim.now;
    const a = new DrawStore(dbs[0]!, 'b', { client: 'A', name: 'Ann', color: 'red' }, clock);
    const b = new DrawStore(dbs[1]!, 'b', { client: 'B', name: 'Bob', color: 'blue' }, clock);
    await run(a.create(rect('s')));
    const s = await run(a.update('s', { stroke: '#ff0000' }, { release: true }));
    expect(s).toMatchObject({ stroke: '#ff0000', fill: 'none', owner: null, rev: 2 });
    // Nothing else changed: the recolour kept the fill; b can take it at once.
    expect((await run(b.grab('s'))).owner?.client).toBe('B');
    await expect(run(a.update('s', { x: 5 }, { release: true }))).rejects.toBeInstanceOf(ShapeLockedError);
  });

  it('delete removes the shape and its index entry', async () => {
    const { sim, dbs, run } = simCluster(4, 14);
    const a = new DrawStore(dbs[0]!, 'b', { client: 'A', name: 'Ann', color: 'red' }, () => sim.now);
    await run(a.create(rect('s1')));
    await run(a.create(rect('s2')));
    await run(a.bringToFront('s1'));
    expect(await run(a.index())).toEqual(['s2', 's1']);
    await run(a.remove('s1'));
    expect(await run(a.index())).toEqual(['s2']);
    expect(await run(a.shape('s1'))).toBeUndefined();
  });
});
