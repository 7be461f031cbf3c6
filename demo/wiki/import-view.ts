import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { formatBytes } from '../shared/format.ts';
import { href } from './router.ts';
import { findSample, importExport, sample_file, sample_pages, type ImportProgress } from './importer.ts';
import type { WikiStore } from './wiki-store.ts';

/** Import a MediaWiki XML export (the bundled sample or a file the user picks), with progress. */
export function importView(store: WikiStore): HTMLElement {
  const sampleBtn = el('button', { class: 'primary', disabled: true, 'data-testid': 'import-sample' }, ['Looking for the sample…']);
  const file = el('input', { type: 'file', accept: '.xml,.gz,application/xml,application/gzip' });
  const cancel = el('button', { disabled: true }, ['Stop']);
  const bar = el('progress', { max: 1, value: 0, class: 'import-bar' });
  const line = el('p', { class: 'small', 'data-testid': 'import-progress' }, ['Nothing imported yet.']);
  const errors = el('div');
  let controller: AbortController | null = null;

  const show = (p: ImportProgress) => {
    // Saving pages is most of the work; indexing their links the rest.
    const pagesPart = p.phase === 'links' ? 1 : p.pagesTotal ? p.pages / p.pagesTotal : p.bytesTotal ? p.bytesRead / p.bytesTotal : 0;
    const linksPart = p.phase === 'links' && p.pages > 0 ? p.linked / p.pages : 0;
    bar.value = Math.min(1, 0.8 * pagesPart + 0.2 * linksPart);
    const rate = p.elapsedMs > 0 ? (p.pages / p.elapsedMs) * 1000 : 0;
    line.textContent = p.done
      ? `Import complete: ${p.pages} pages, links indexed (${p.created} new, ${p.updated} updated, ${p.unchanged} unchanged${p.failed.length ? `, ${p.failed.length} failed` : ''}) in ${(p.elapsedMs / 1000).toFixed(1)} s.`
      : p.phase === 'pages'
        ? `Saving pages: ${p.pages}${p.pagesTotal ? ` of ${p.pagesTotal}` : ''} · ${formatBytes(p.bytesRead)} read · ${rate.toFixed(1)} pages/s · now: ${p.current}`
        : `Indexing links between the imported pages: ${p.linked} of ${p.pages} · now: ${p.current}`;
    line.dataset.done = String(p.done);
    if (p.done) bar.value = 1;
    errors.replaceChildren(
      ...(p.failed.length
        ? [el('p', { class: 'notice error' }, [`${p.failed.length} page(s) could not be imported:`]), el('ul', { class: 'small' }, p.failed.slice(0, 50).map((f) => el('li', {}, [`${f.title}: ${f.error}`])))]
        : []),
    );
  };

  const run = async (bytes: ReadableStream<Uint8Array>, total: number | null, pages: number | null) => {
    controller = new AbortController();
    sampleBtn.disabled = true;
    file.disabled = true;
    cancel.disabled = false;
    line.dataset.done = 'false';
    try {
      await importExport(store, bytes, total, pages, show, controller.signal);
    } catch (e) {
      errors.replaceChildren(el('p', { class: 'notice error', role: 'alert' }, [`Import stopped: ${describeError(e)}`]));
    } finally {
      cancel.disabled = true;
      file.disabled = false;
      sampleBtn.disabled = sampleUrl === null;
    }
  };

  let sampleUrl: string | null = null;
  void findSample().then((url) => {
    sampleUrl = url;
    sampleBtn.disabled = url === null;
    sampleBtn.textContent = url ? 'Import the sample (491 pages of 2006 Wikipedia)' : 'The sample is not on this server';
  });
  sampleBtn.onclick = async () => {
    if (!sampleUrl) return;
    const r = await fetch(sampleUrl);
    if (!r.ok || !r.body) {
      errors.replaceChildren(el('p', { class: 'notice error' }, [`Could not load the sample: HTTP ${r.status}`]));
      return;
    }
    // A server may send it with Content-Encoding: gzip; the length is then not of what we read.
    const len = r.headers.get('content-encoding') ? NaN : Number(r.headers.get('content-length'));
    await run(r.body, Number.isFinite(len) && len > 0 ? len : null, sample_pages);
  };
  file.onchange = () => {
    const f = file.files?.[0];
    if (f) void run(f.stream(), f.size, null);
  };
  cancel.onclick = () => controller?.abort();

  return el('article', { class: 'page', 'data-testid': 'import' }, [
    el('h1', {}, ['Import a MediaWiki export']),
    el('p', {}, [
      'Reads a MediaWiki XML export (',
      el('code', {}, ['pages-articles.xml']),
      ' or ',
      el('code', {}, ['.xml.gz']),
      ') as it streams in and saves each page as a revision, with its categories and links. Pages whose text is unchanged are skipped, so importing twice is harmless.',
    ]),
    el('div', { class: 'row' }, [sampleBtn, el('span', { class: 'muted' }, ['or']), file, cancel]),
    el('p', { class: 'muted small' }, [
      `The sample (${sample_file}) is text from the English Wikipedia under CC BY-SA 3.0: see `,
      el('a', { href: href.about() }, ['About']),
      '.',
    ]),
    bar,
    line,
    errors,
  ]);
}
