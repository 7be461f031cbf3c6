import { describe, expect, it } from 'vitest';
import { simCluster } from '../shared/sim-cluster.ts';
import { importExport, type ImportProgress } from './importer.ts';
import { WikiStore } from './wiki-store.ts';

const page = (title: string, text: string) =>
  `<page><title>${title}</title><ns>0</ns><id>1</id><revision><id>2</id><timestamp>2006-03-01T00:00:00Z</timestamp><contributor><username>Ann</username></contributor><comment>c &amp; d</comment><text bytes="1" xml:space="preserve">${text}</text></revision></page>`;

const exportXml = [
  '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><siteinfo><sitename>W</sitename></siteinfo>',
  page('Alpha', '[[Beta]] and [[Missing]] &amp; &lt;b&gt;x&lt;/b&gt; [[Category:Letters]]'),
  page('Beta', '[[Alpha]] [[Category:Letters]]'),
  page('AlphA', '#REDIRECT [[Alpha]]'),
  '</mediawiki>',
].join('\n');

function gzipped(s: string): ReadableStream<Uint8Array> {
  return new Blob([s]).stream().pipeThrough(new CompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
}

describe('import of a MediaWiki export on the simulated ring', () => {
  it('saves every page, its categories and the links between imported pages; a second import changes nothing', async () => {
    const { dbs, run } = simCluster(4, 21);
    const w = new WikiStore(dbs[0]!);
    const seen: ImportProgress[] = [];
    const p = await run(importExport(w, gzipped(exportXml), null, 3, (x) => seen.push(x), new AbortController().signal));
    expect(p).toMatchObject({ done: true, pages: 3, created: 3, linkTargets: 3, failed: [] });
    expect(seen.some((s) => s.phase === 'pages' && s.pages === 1)).toBe(true);
    const alpha = await run(w.load('Alpha'));
    expect(alpha?.text).toBe('[[Beta]] and [[Missing]] & <b>x</b> [[Category:Letters]]');
    expect(alpha?.revision).toMatchObject({ author: 'Ann', comment: 'import: c & d', time: Date.parse('2006-03-01T00:00:00Z') });
    expect(await run(w.categoryMembers('Letters'))).toEqual(['Alpha', 'Beta']);
    expect(await run(w.linksHere('Alpha'))).toEqual(['AlphA', 'Beta']);
    expect(await run(w.linksHere('Beta'))).toEqual(['Alpha']);
    // A link to a page the export does not bring is indexed too (what links to a red link).
    expect(await run(w.linksHere('Missing'))).toEqual(['Alpha']);
    expect(await run(w.titlesStartingWith('A'))).toEqual(['AlphA', 'Alpha']);
    for (const t of ['Alpha', 'Beta', 'AlphA']) expect((await run(w.page(t)))?.indexed).toBe(1);
    expect((await run(w.page('AlphA')))?.redirect).toBe('Alpha');
    const again = await run(importExport(w, gzipped(exportXml), null, 3, () => {}, new AbortController().signal));
    expect(again).toMatchObject({ done: true, unchanged: 3, created: 0 });
  });

  it('a page created later finds the imported pages that link to it; editing an imported page keeps its lists right', async () => {
    const { dbs, run } = simCluster(4, 23);
    const w = new WikiStore(dbs[0]!);
    await run(importExport(w, gzipped(exportXml), null, 3, () => {}, new AbortController().signal));
    const other = new WikiStore(dbs[2]!);
    await run(other.save({ title: 'Missing', text: 'Now it exists.', baseRev: 0, author: 'b', comment: '' }));
    expect(await run(other.linksHere('Missing'))).toEqual(['Alpha']);
    await run(other.save({ title: 'Alpha', text: 'Only [[Gamma]] now.', baseRev: 1, author: 'b', comment: '' }));
    expect(await run(other.linksHere('Missing'))).toEqual([]);
    expect(await run(other.linksHere('Beta'))).toEqual([]);
    expect(await run(other.linksHere('Gamma'))).toEqual(['Alpha']);
    expect(await run(other.categoryMembers('Letters'))).toEqual(['Beta']);
  });

  it('a stopped import leaves pages marked as not indexed; importing again finishes the lists', async () => {
    const { dbs, run } = simCluster(4, 24);
    const w = new WikiStore(dbs[0]!);
    const stop = new AbortController();
    const first = await run(
      importExport(w, gzipped(exportXml), null, 3, (x) => {
        if (x.phase === 'links') stop.abort();
      }, stop.signal),
    );
    expect(first.done).toBe(false);
    expect((await run(w.page('Alpha')))?.indexed).toBe(0);
    const again = await run(importExport(w, gzipped(exportXml), null, 3, () => {}, new AbortController().signal));
    expect(again).toMatchObject({ done: true, unchanged: 3, failed: [] });
    expect(await run(w.linksHere('Missing'))).toEqual(['Alpha']);
    expect(await run(w.linksHere('Alpha'))).toEqual(['AlphA', 'Beta']);
    expect((await run(w.page('Alpha')))?.indexed).toBe(1);
  });

  it('a page edited while the import writes its lists is re-indexed from its new text', async () => {
    const { dbs, run } = simCluster(4, 25);
    const w = new WikiStore(dbs[0]!);
    const editor = new WikiStore(dbs[1]!);
    let edited: Promise<unknown> | null = null;
    const p = await run(
      importExport(w, gzipped(exportXml), null, 3, (x) => {
        if (x.phase === 'links' && !edited) edited = editor.save({ title: 'Alpha', text: 'Only [[Gamma]]. [[Category:Letters]]', baseRev: 1, author: 'e', comment: '' });
      }, new AbortController().signal),
    );
    await run(edited!);
    expect(p.done).toBe(true);
    // Whatever order the import's lists and the edit committed in, a shown page ends indexed.
    const rec = (await run(w.page('Alpha')))!;
    if (rec.indexed !== rec.rev) await run(w.finishIndexing('Alpha'));
    expect((await run(w.page('Alpha')))!.indexed).toBe(2);
    expect(await run(w.linksHere('Gamma'))).toEqual(['Alpha']);
    expect(await run(w.linksHere('Missing'))).toEqual([]);
    expect(await run(w.linksHere('Beta'))).toEqual([]);
  });

  it('refuses a file that is not an export', async () => {
    const { dbs, run } = simCluster(4, 22);
    const w = new WikiStore(dbs[0]!);
    await expect(run(importExport(w, new Blob(['<html>' + 'x'.repeat(5000) + '</html>']).stream(), null, null, () => {}, new AbortController().signal))).rejects.toThrow(/not a MediaWiki XML export/);
  });
});
