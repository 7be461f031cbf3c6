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
    expect(p).toMatchObject({ done: true, pages: 3, created: 3, linked: 3, failed: [] });
    expect(seen.some((s) => s.phase === 'pages' && s.pages === 1)).toBe(true);
    const alpha = await run(w.load('Alpha'));
    expect(alpha?.text).toBe('[[Beta]] and [[Missing]] & <b>x</b> [[Category:Letters]]');
    expect(alpha?.revision).toMatchObject({ author: 'Ann', comment: 'import: c & d', time: Date.parse('2006-03-01T00:00:00Z') });
    expect(await run(w.categoryMembers('Letters'))).toEqual(['Alpha', 'Beta']);
    expect(await run(w.linksHere('Alpha'))).toEqual(['AlphA', 'Beta']);
    expect(await run(w.linksHere('Beta'))).toEqual(['Alpha']);
    expect((await run(w.page('AlphA')))?.redirect).toBe('Alpha');
    const again = await run(importExport(w, gzipped(exportXml), null, 3, () => {}, new AbortController().signal));
    expect(again).toMatchObject({ done: true, unchanged: 3, created: 0 });
  });

  it('refuses a file that is not an export', async () => {
    const { dbs, run } = simCluster(4, 22);
    const w = new WikiStore(dbs[0]!);
    await expect(run(importExport(w, new Blob(['<html>' + 'x'.repeat(5000) + '</html>']).stream(), null, null, () => {}, new AbortController().signal))).rejects.toThrow(/not a MediaWiki XML export/);
  });
});
