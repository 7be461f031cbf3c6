import { describeError } from '../shared/errors.ts';
import { exportText, readExport } from './mediawiki-xml.ts';
import { normalizeTitle } from './titles.ts';
import type { WikiStore } from './wiki-store.ts';
import { analyse } from './wikitext.ts';

export interface ImportProgress {
  /** Bytes of the file read so far (compressed, when it is). */
  bytesRead: number;
  bytesTotal: number | null;
  /** Pages the file is known to hold (the sample's count), else null. */
  pagesTotal: number | null;
  pages: number;
  created: number;
  updated: number;
  unchanged: number;
  failed: Array<{ title: string; error: string }>;
  current: string;
  elapsedMs: number;
  /** 'pages': saving pages; 'links': indexing the links between imported pages. */
  phase: 'pages' | 'links';
  /** Pages whose links are indexed (second phase). */
  linked: number;
  done: boolean;
}

/** Pages imported at once: enough to overlap round trips, few enough to rarely conflict on shared lists. */
export const import_concurrency = 4;

/** File name of the sample export (see NOTICE.txt for its source and licence). */
export const sample_file = 'enwiki-20060303-sample-pages-articles.xml.gz';
/** Pages in the sample (its stats.json). */
export const sample_pages = 491;
/**
 * Where the sample is served from, relative to the page: `npm start` serves demo/public at
 * the root; the test server serves the whole repository, where demo/public is a folder.
 */
function sampleUrl(): string {
  const underRepo = location.pathname.includes('/demo/');
  return new URL(`${underRepo ? 'public/' : ''}wiki-sample/${sample_file}`, location.href).href;
}

/** The URL of the sample export when this server has it, else null. */
export async function findSample(): Promise<string | null> {
  const url = sampleUrl();
  try {
    const r = await fetch(url, { method: 'HEAD' });
    return r.ok && !(r.headers.get('content-type') ?? '').includes('text/html') ? url : null;
  } catch {
    return null;
  }
}

/** Count bytes as they pass. */
function counter(onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, c) {
      onBytes(chunk.byteLength);
      c.enqueue(chunk);
    },
  });
}

/**
 * Import a MediaWiki export into the wiki, a few pages at a time. First every page is saved
 * (a new revision only when its text changed, so importing twice is harmless) with its
 * categories; then each page is added to the backlink lists of the imported pages it links
 * to. Links to pages the export does not bring are not indexed: the sample has about
 * 33,000 of them, and indexing them took a ring of 3 tabs on this machine over half an
 * hour (one list per target; a link typed in the editor later is indexed as usual).
 */
export async function importExport(
  store: WikiStore,
  bytes: ReadableStream<Uint8Array>,
  bytesTotal: number | null,
  pagesTotal: number | null,
  onProgress: (p: ImportProgress) => void,
  signal: AbortSignal,
): Promise<ImportProgress> {
  const started = performance.now();
  const p: ImportProgress = { phase: 'pages', linked: 0, bytesRead: 0, bytesTotal, pagesTotal, pages: 0, created: 0, updated: 0, unchanged: 0, failed: [], current: '', elapsedMs: 0, done: false };
  const tell = () => {
    p.elapsedMs = performance.now() - started;
    onProgress({ ...p, failed: [...p.failed] });
  };
  const pages = readExport(await exportText(bytes.pipeThrough(counter((n) => (p.bytesRead += n)))));
  const imported: Array<{ title: string; links: string[] }> = [];
  const none = () => false;
  await parallel(import_concurrency, signal, async () => {
    const next = await pages.next();
    if (next.done) return false;
    const page = next.value;
    p.current = page.title;
    tell();
    try {
      const time = Date.parse(page.timestamp);
      const outcome = await store.importPage(
        { title: page.title, text: page.text, author: page.contributor, comment: page.comment ? `import: ${page.comment}` : 'import', time: Number.isFinite(time) ? time : Date.now() },
        none,
      );
      p[outcome]++;
      imported.push({ title: normalizeTitle(page.title), links: analyse(page.text).links });
    } catch (e) {
      p.failed.push({ title: page.title, error: describeError(e) });
    }
    p.pages++;
    tell();
    return true;
  });
  p.phase = 'links';
  const titles = new Set(imported.map((i) => i.title));
  let next = 0;
  await parallel(import_concurrency, signal, async () => {
    const item = imported[next++];
    if (!item) return false;
    p.current = item.title;
    try {
      await store.indexBacklinks(item.title, item.links.filter((l) => l !== item.title && titles.has(l)));
    } catch (e) {
      p.failed.push({ title: item.title, error: `links not indexed: ${describeError(e)}` });
    }
    p.linked++;
    tell();
    return true;
  });
  p.done = !signal.aborted;
  p.current = '';
  tell();
  return p;
}

/** Run `step` on `workers` workers until it returns false (or the signal aborts). */
async function parallel(workers: number, signal: AbortSignal, step: () => Promise<boolean>): Promise<void> {
  const worker = async () => {
    while (!signal.aborted && (await step()));
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
