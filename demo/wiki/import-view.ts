import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { formatBytes } from '../shared/format.ts';
import { href } from './router.ts';
import { findSample, importExport, sample_file, sample_pages, type ImportProgress } from './importer.ts';
import type { WikiStore } from './wiki-store.ts';

/** Progress this long overdue is reported as a stall. */
const import_stall_ms = 20_000;

/** Import a MediaWiki XML export (the bundled sample or a file the user picks), with progress. */
export function importView(store: WikiStore): HTMLElement {
  const sampleBtn = el('button', { class: 'primary', disabled: true, 'data-testid': 'import-sample' }, ['Looking for the sample…']);
  const file = el('input', { type: 'file', accept: '.xml,.gz,application/xml,application/gzip' });
  const cancel = el('button', { disabled: true }, ['Stop']);
  const bar = el('progress', { max: 1, value: 0, class: 'import-bar' });
  const line = el('p', { class: 'small', 'data-testid': 'import-progress' }, ['Nothing imported yet.']);
  const errors = el('div', { 'data-testid': 'import-errors' });
  const stall = el('p', { class: 'notice info small', hidden: true, 'data-testid': 'import-stalled' });
  let controller: AbortController | null = null;
  let lastProgressAt = 0;

  const show = (p: ImportProgress) => {
    lastProgressAt = Date.now();
    stall.hidden = true;
    // Saving the pages and writing the shared lists take about as long as each other on the sample.
    const pagesPart = p.phase === 'links' ? 1 : p.pagesTotal ? p.pages / p.pagesTotal : p.bytesTotal ? p.bytesRead / p.bytesTotal : 0;
    const listsPart = p.phase === 'links' && p.listsTotal > 0 ? p.listsDone / p.listsTotal : 0;
    bar.value = Math.min(1, 0.5 * pagesPart + 0.5 * listsPart);
    const secs = (p.elapsedMs / 1000).toFixed(0);
    const n = (x: number) => x.toLocaleString('en');
    const rate = p.elapsedMs > 0 ? (p.pages / p.elapsedMs) * 1000 : 0;
    line.textContent = p.done
      ? `Import complete: ${n(p.pages)} pages (${n(p.created)} new, ${n(p.updated)} updated, ${n(p.unchanged)} unchanged${p.failed.length ? `, ${p.failed.length} failed` : ''}), backlinks of ${n(p.linkTargets)} linked titles, in ${(p.elapsedMs / 1000).toFixed(1)} s${p.pagesMs !== null ? ` (pages ${(p.pagesMs / 1000).toFixed(1)} s, lists ${((p.elapsedMs - p.pagesMs) / 1000).toFixed(1)} s)` : ''}.`
      : p.phase === 'pages'
        ? `Saving pages: ${n(p.pages)}${p.pagesTotal ? ` of ${n(p.pagesTotal)}` : ''} · ${formatBytes(p.bytesRead)} read · ${rate.toFixed(1)} pages/s · ${secs} s · now: ${p.current}`
        : p.listsDone < p.listsTotal
          ? `Writing the title index and the backlinks of the ${n(p.linkTargets)} titles the pages link to: ${n(p.listsDone)} of ${n(p.listsTotal)} lists · ${secs} s · now: ${p.current}`
          : `Marking pages as indexed${p.repaired ? `, re-indexed ${p.repaired} edited during the import` : ''} · ${secs} s`;
    line.dataset.done = String(p.done);
    if (p.done) bar.value = 1;
    errors.replaceChildren(
      ...(p.failed.length
        ? [el('p', { class: 'notice error' }, [`${p.failed.length} page(s) could not be imported (importing again tries them again):`]), el('ul', { class: 'small' }, p.failed.slice(0, 50).map((f) => el('li', {}, [`${f.title}: ${f.error}`])))]
        : []),
      ...(p.retried.length
        ? [el('details', { class: 'small muted', 'data-testid': 'import-retried' }, [el('summary', {}, [`${p.retried.length} operation(s) tried again after a passing failure`]), el('ul', {}, p.retried.slice(-50).map((f) => el('li', {}, [`${f.title}: ${f.error}`])))])]
        : []),
    );
  };

  const run = async (bytes: ReadableStream<Uint8Array>, total: number | null, pages: number | null) => {
    controller = new AbortController();
    sampleBtn.disabled = true;
    file.disabled = true;
    cancel.disabled = false;
    line.dataset.done = 'false';
    lastProgressAt = Date.now();
    // Operations wait while the replicas they need are out of reach (a ring re-forming): say so.
    const watchdog = setInterval(() => {
      const quiet = Date.now() - lastProgressAt;
      if (quiet < import_stall_ms) return;
      stall.hidden = false;
      stall.textContent = `No answer from the ring for ${Math.round(quiet / 1000)} s. The import goes on when the peers holding the data answer again; the status at the top shows whether this tab is connected.`;
    }, 1000);
    try {
      const p = await importExport(store, bytes, total, pages, show, controller.signal);
      if (!p.done) {
        line.textContent = `Import stopped after ${p.pages} pages. What was saved stays; importing the same file again skips the pages already there and finishes the rest.`;
        line.dataset.done = 'stopped';
      }
    } catch (e) {
      errors.replaceChildren(el('p', { class: 'notice error', role: 'alert' }, [`Import stopped: ${describeError(e)}`]));
    } finally {
      clearInterval(watchdog);
      stall.hidden = true;
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
      ') as it streams in and saves each page as a revision with its categories. Then it writes the title index and, for every title the pages link to (existing or not), its list of pages that link there. Pages whose text is unchanged are skipped, so importing twice is harmless; importing again also finishes an import that was stopped. The pages can be read while the lists are written.',
    ]),
    el('div', { class: 'row' }, [sampleBtn, el('span', { class: 'muted' }, ['or']), file, cancel]),
    el('p', { class: 'muted small' }, [
      `The sample (${sample_file}) is text from the English Wikipedia under CC BY-SA 3.0: see `,
      el('a', { href: href.about() }, ['About']),
      '.',
    ]),
    bar,
    line,
    stall,
    errors,
  ]);
}
