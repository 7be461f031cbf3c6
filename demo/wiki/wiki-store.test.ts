import { describe, expect, it } from 'vitest';
import { simCluster } from '../shared/sim-cluster.ts';
import { splitText, text_chunk_json_bytes_max } from './text-chunks.ts';
import { EditConflictError, key, WikiStore } from './wiki-store.ts';

const utf8Json = (s: string) => new TextEncoder().encode(JSON.stringify(s)).length;

describe('text chunks', () => {
  it('fit the value limit in JSON bytes and join back to the text', () => {
    const text = 'a"\\\n\u0001é€😀'.repeat(40_000);
    const chunks = splitText(text);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(utf8Json(c)).toBeLessThanOrEqual(text_chunk_json_bytes_max);
    expect(chunks.join('')).toBe(text);
    expect(splitText('')).toEqual(['']);
  });
});

describe('wiki on the simulated ring', () => {
  it('saves revisions, keeps history, and loads any revision', async () => {
    const { dbs, run } = simCluster(5, 2);
    const a = new WikiStore(dbs[0]!);
    const b = new WikiStore(dbs[3]!);
    expect(await run(a.save({ title: 'hello world', text: 'First', baseRev: 0, author: 'ann', comment: 'new' }))).toMatchObject({ rev: 1, deferred: 0 });
    expect(await run(b.save({ title: 'Hello_world', text: 'Second', baseRev: 1, author: 'bob', comment: 'edit' }))).toMatchObject({ rev: 2, deferred: 0 });
    const page = await run(a.load('Hello world'));
    expect(page?.text).toBe('Second');
    expect(page?.record.history.map((h) => [h.n, h.author])).toEqual([[2, 'bob'], [1, 'ann']]);
    expect((await run(b.load('Hello world', 1)))?.text).toBe('First');
    expect(await run(a.titlesStartingWith('H'))).toEqual(['Hello world']);
  });

  it('reports a concurrent edit as a conflict, and the loser can still save on top', async () => {
    const { dbs, run } = simCluster(5, 3);
    const [a, b] = [new WikiStore(dbs[0]!), new WikiStore(dbs[2]!)];
    await run(a.save({ title: 'P', text: 'base', baseRev: 0, author: 'x', comment: '' }));
    const results = await run(
      Promise.allSettled([a.save({ title: 'P', text: 'from a', baseRev: 1, author: 'a', comment: '' }), b.save({ title: 'P', text: 'from b', baseRev: 1, author: 'b', comment: '' })]),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof EditConflictError);
    expect(ok.length).toBe(1);
    expect(conflicts.length).toBe(1);
    const winner = (await run(a.load('P')))!;
    expect(winner.record.rev).toBe(2);
    const loserText = winner.text === 'from a' ? 'from b' : 'from a';
    await run(b.save({ title: 'P', text: loserText, baseRev: 2, author: 'merge', comment: 'resolved' }));
    expect((await run(a.load('P')))!.text).toBe(loserText);
  });

  it('category and backlink lists follow the edits', async () => {
    const { dbs, run } = simCluster(5, 4);
    const w = new WikiStore(dbs[1]!);
    const r = new WikiStore(dbs[4]!);
    await run(w.save({ title: 'Apple', text: 'A fruit. See [[Pear]] and [[banana]]. [[Category:Fruit]] [[Category:Red things]]', baseRev: 0, author: 'a', comment: '' }));
    expect(await run(r.linksHere('Pear'))).toEqual(['Apple']);
    expect(await run(r.linksHere('Banana'))).toEqual(['Apple']);
    expect(await run(r.categoryMembers('Fruit'))).toEqual(['Apple']);
    await run(w.save({ title: 'Pear', text: '[[Apple]] [[Category:Fruit]]', baseRev: 0, author: 'a', comment: '' }));
    expect(await run(r.categoryMembers('Fruit'))).toEqual(['Apple', 'Pear']);
    await run(w.save({ title: 'Apple', text: 'Only [[banana]]. [[Category:Fruit]] [[Category:Green things]]', baseRev: 1, author: 'a', comment: '' }));
    expect(await run(r.linksHere('Pear'))).toEqual([]);
    expect(await run(r.linksHere('Banana'))).toEqual(['Apple']);
    expect(await run(r.categoryMembers('Red things'))).toEqual([]);
    expect(await run(r.categoryMembers('Green things'))).toEqual(['Apple']);
    expect(await run(r.linksHere('Apple'))).toEqual(['Pear']);
  });

  it('a page with more links than one transaction may touch is indexed by follow-up transactions', async () => {
    const { dbs, run } = simCluster(4, 5);
    const w = new WikiStore(dbs[0]!);
    const targets = Array.from({ length: 150 }, (_, i) => `Target ${i}`);
    const res = await run(w.save({ title: 'Hub', text: targets.map((t) => `[[${t}]]`).join(' ') + ' [[Category:Hubs]]', baseRev: 0, author: 'a', comment: '' }));
    expect(res.deferred).toBeGreaterThan(0);
    const rec = await run(w.page('Hub'));
    expect(rec?.indexed).toBe(1);
    for (const t of [targets[0]!, targets[77]!, targets[149]!]) expect(await run(w.linksHere(t))).toEqual(['Hub']);
    expect(await run(w.categoryMembers('Hubs'))).toEqual(['Hub']);
  });

  it('stores a text larger than one value in chunks', async () => {
    const { dbs, run } = simCluster(4, 6);
    const w = new WikiStore(dbs[0]!);
    const text = 'Lorem ipsum dolor sit amet, [[consectetur]] adipiscing elit. '.repeat(5000);
    await run(w.save({ title: 'Big', text, baseRev: 0, author: 'a', comment: '' }));
    const page = await run(new WikiStore(dbs[2]!).load('Big'));
    expect(page?.revision.chunks).toBeGreaterThan(2);
    expect(page?.text).toBe(text);
    expect(await run(dbs[1]!.get(key.text('Big', 1, 1)))).toBeTypeOf('string');
  });

  it('re-importing the same text changes nothing', async () => {
    const { dbs, run } = simCluster(4, 7);
    const w = new WikiStore(dbs[0]!);
    const p = { title: 'Imp', text: 'x [[Y]]', author: 'a', comment: 'import', time: 1 };
    expect((await run(w.importPage(p))).outcome).toBe('created');
    expect((await run(w.importPage(p))).outcome).toBe('unchanged');
    expect((await run(w.importPage({ ...p, text: 'changed' }))).outcome).toBe('updated');
    expect((await run(w.page('Imp')))?.rev).toBe(2);
  });
});
