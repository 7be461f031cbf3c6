import { describeError } from '../shared/errors.ts';
import { exportText, readExport } from './mediawiki-xml.ts';
import type { WikiStore } from './wiki-store.ts';

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
  done: boolean;
}

/** Pages imported at once: enough to overlap round trips, few enough to rarely conflict on shared lists. */
export const import_concurrency = 6;

/** File name of the sample export (see NOTICE.txt for its source and licence). */
export const sample_file = 'enwiki-20060303-sample-pages-articles.xml.gz';
/** Pages in the sample (its stats.json). */
export const sample_pages = 491;
/**
 * Where the sample may be served from, relative to the page: `npm start` serves demo/public
 * at the root; the test server serves the repository, so demo/public is a folder there.
 */
const sample_candidates = [`wiki-sample/${sample_file}`, `public/wiki-sample/${sample_file}`];

/** The URL of the sample export when this server has it, else null. */
export async function findSample(): Promise<string | null> {
  for (const c of sample_candidates) {
    const url = new URL(c, location.href).href;
    try {
      const r = await fetch(url, { method: 'HEAD' });
      if (r.ok && !(r.headers.get('content-type') ?? '').includes('text/html')) return url;
    } catch {
      /* try the next */
    }
  }
  return null;
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
 * Import a MediaWiki export into the wiki, a few pages at a time, each page one save
 * (a new revision only when its text changed, so importing twice is harmless).
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
  const p: ImportProgress = { bytesRead: 0, bytesTotal, pagesTotal, pages: 0, created: 0, updated: 0, unchanged: 0, failed: [], current: '', elapsedMs: 0, done: false };
  const tell = () => {
    p.elapsedMs = performance.now() - started;
    onProgress({ ...p, failed: [...p.failed] });
  };
  const pages = readExport(await exportText(bytes.pipeThrough(counter((n) => (p.bytesRead += n)))));
  const worker = async () => {
    for (;;) {
      if (signal.aborted) return;
      const next = await pages.next();
      if (next.done) return;
      const page = next.value;
      p.current = page.title;
      tell();
      try {
        const time = Date.parse(page.timestamp);
        const outcome = await store.importPage({
          title: page.title,
          text: page.text,
          author: page.contributor,
          comment: page.comment ? `import: ${page.comment}` : 'import',
          time: Number.isFinite(time) ? time : Date.now(),
        });
        p[outcome]++;
      } catch (e) {
        p.failed.push({ title: page.title, error: describeError(e) });
      }
      p.pages++;
      tell();
    }
  };
  await Promise.all(Array.from({ length: import_concurrency }, worker));
  p.done = true;
  p.current = '';
  tell();
  return p;
}
