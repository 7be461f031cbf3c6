import { AbortedError, CommitUnknownError, NotJoinedError, UnavailableError } from '../../src/api/index.ts';
import { describeError } from '../shared/errors.ts';
import { exportText, readExport } from './mediawiki-xml.ts';
import { bucketOf, key, list_batch_keys, type WikiStore } from './wiki-store.ts';

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
  /** Operations that failed for a passing reason (a conflict, replicas out of reach) and were tried again. */
  retried: Array<{ title: string; error: string }>;
  current: string;
  elapsedMs: number;
  /** How long saving the pages took (set when the second phase starts). */
  pagesMs: number | null;
  /** 'pages': saving pages; 'links': writing the title index and backlink lists of all of them. */
  phase: 'pages' | 'links';
  /** Lists to write in the second phase: title lists (one per first letter) and backlink buckets. */
  listsTotal: number;
  listsDone: number;
  /** Distinct titles the imported pages link to, and how many of them are pages of the wiki. */
  linkTargets: number;
  /** Pages re-indexed one by one (edited during the import, or updated by it). */
  repaired: number;
  done: boolean;
}

/** Pages saved at once: enough to overlap round trips, few enough to rarely conflict on shared category lists. */
export const import_concurrency = 4;
/** Transactions writing lists at once in the second phase (each of list_batch_keys lists). */
export const list_concurrency = 8;

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
 * Import a MediaWiki export into the wiki. First every page is saved, a few at a time (a
 * new revision only when its text changed, so importing twice is harmless), with its
 * categories. Then what many pages share is written once for all of them: the title
 * index, and the backlinks of every linked title, whether that page exists or not (a red
 * link's "what links here" is how a wiki finds the pages to fix when it is created). The
 * backlinks go into buckets (WikiStore.addBacklinks): the sample's 491 pages link to
 * 20,729 titles, which fit in 256 keys; one list per title took over 10 minutes on 3
 * tabs of this machine, page by page (as a save does) over half an hour. Last, each page
 * is marked as indexed; a page that someone edited during the import is re-indexed alone.
 *
 * Until a page is marked, it shows that its lists are being brought up to date, and any
 * tab that shows it finishes them itself (WikiStore.finishIndexing), so a stopped import
 * leaves nothing wrong for good; importing again finishes it.
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
  const p: ImportProgress = { retried: [], pagesMs: null, phase: 'pages', listsTotal: 0, listsDone: 0, linkTargets: 0, repaired: 0, bytesRead: 0, bytesTotal, pagesTotal, pages: 0, created: 0, updated: 0, unchanged: 0, failed: [], current: '', elapsedMs: 0, done: false };
  const tell = () => {
    p.elapsedMs = performance.now() - started;
    onProgress({ ...p, failed: [...p.failed], retried: [...p.retried] });
  };
  const pages = readExport(await exportText(bytes.pipeThrough(counter((n) => (p.bytesRead += n)))));
  const titles: string[] = [];
  /** Pages whose only revision is not indexed yet: their lists need only additions. */
  const fresh: Array<{ title: string; rev: number; links: string[] }> = [];
  /** Pages with older revisions and lists not right: re-indexed one by one. */
  const repair: string[] = [];
  /** Pages some of whose backlink lists could not be written. */
  const unfinished = new Set<string>();
  await parallel(import_concurrency, signal, async () => {
    const next = await pages.next();
    if (next.done) return false;
    const page = next.value;
    p.current = page.title;
    tell();
    try {
      const time = Date.parse(page.timestamp);
      // Importing a page again is harmless (an unchanged text is skipped), so a passing failure is retried.
      const { outcome, record } = await retrying(p, page.title, signal, () =>
        store.importPage(
          { title: page.title, text: page.text, author: page.contributor, comment: page.comment ? `import: ${page.comment}` : 'import', time: Number.isFinite(time) ? time : Date.now() },
          { deferLinks: true, indexTitle: false },
        ),
      );
      p[outcome]++;
      titles.push(record.title);
      if (record.indexed !== record.rev) (record.rev === 1 ? fresh.push({ title: record.title, rev: record.rev, links: record.links }) : repair.push(record.title));
    } catch (e) {
      p.failed.push({ title: page.title, error: describeError(e) });
    }
    p.pages++;
    tell();
    return true;
  });
  if (signal.aborted) return finish();

  p.phase = 'links';
  p.pagesMs = performance.now() - started;
  // Backlinks of the fresh pages, by target, by bucket.
  const buckets = new Map<number, Map<string, string[]>>();
  const targets = new Set<string>();
  for (const f of fresh) {
    for (const t of f.links) {
      targets.add(t);
      const n = bucketOf(t);
      const bucket = buckets.get(n) ?? buckets.set(n, new Map()).get(n)!;
      (bucket.get(t) ?? bucket.set(t, []).get(t)!).push(f.title);
    }
  }
  const bucketList = [...buckets].sort(([a], [b]) => a - b);
  p.linkTargets = targets.size;
  const letters = new Set(titles.map((t) => key.titles(t))).size;
  p.listsTotal = letters + bucketList.length;
  p.current = 'All pages';
  tell();
  try {
    await retrying(p, 'All pages', signal, () => store.indexTitles(titles));
  } catch (e) {
    p.failed.push({ title: 'All pages', error: `title index not updated: ${describeError(e)}` });
  }
  p.listsDone += letters;
  tell();
  let nextBatch = 0;
  await parallel(list_concurrency, signal, async () => {
    const batch = bucketList.slice(nextBatch, nextBatch + list_batch_keys);
    nextBatch += batch.length;
    if (batch.length === 0) return false;
    p.current = `backlink buckets ${batch[0]![0]}–${batch.at(-1)![0]}`;
    try {
      await retrying(p, p.current, signal, () => store.addBacklinks(new Map(batch)));
    } catch (e) {
      // The pages stay marked as not indexed: showing one (or importing again) finishes it.
      for (const [, bucket] of batch) for (const srcs of bucket.values()) for (const s of srcs) unfinished.add(s);
      p.failed.push({ title: p.current, error: `backlinks not written: ${describeError(e)}` });
    }
    p.listsDone += batch.length;
    tell();
    return true;
  });
  if (signal.aborted) return finish();

  // Every page whose lists are now complete is marked; pages edited meanwhile are re-indexed.
  const complete = fresh.filter((f) => !unfinished.has(f.title));
  let nextMark = 0;
  await parallel(list_concurrency, signal, async () => {
    const batch = complete.slice(nextMark, nextMark + list_batch_keys);
    nextMark += batch.length;
    if (batch.length === 0) return false;
    try {
      repair.push(...(await retrying(p, batch[0]!.title, signal, () => store.markIndexed(batch))));
    } catch (e) {
      p.failed.push({ title: batch[0]!.title, error: `not marked as indexed: ${describeError(e)}` });
    }
    return true;
  });
  let nextRepair = 0;
  await parallel(import_concurrency, signal, async () => {
    const title = repair[nextRepair++];
    if (title === undefined) return false;
    p.current = title;
    try {
      await retrying(p, title, signal, () => store.finishIndexing(title));
    } catch (e) {
      p.failed.push({ title, error: `lists not brought up to date: ${describeError(e)}` });
    }
    p.repaired++;
    tell();
    return true;
  });
  return finish();

  function finish(): ImportProgress {
    p.done = !signal.aborted;
    p.current = '';
    tell();
    return p;
  }
}
/** Attempts per operation of an import before it counts as failed. */
export const import_attempts_max = 4;
const retry_pause_ms = 1000;

/**
 * Run op, and again (after a pause, up to import_attempts_max times) when it fails for a
 * reason that passes: a conflict with another transaction, replicas out of reach while the
 * ring re-forms, an outcome that did not come back. Every operation of an import is
 * idempotent, so trying again is safe; each retry is recorded in the progress.
 */
async function retrying<T>(p: ImportProgress, title: string, signal: AbortSignal, op: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      const passing = e instanceof AbortedError || e instanceof UnavailableError || e instanceof CommitUnknownError || e instanceof NotJoinedError;
      if (!passing || attempt >= import_attempts_max || signal.aborted) throw e;
      p.retried.push({ title, error: `${e.name}: ${e.message}` });
      await new Promise((r) => setTimeout(r, retry_pause_ms * attempt));
    }
  }
}

/** Run `step` on `workers` workers until it returns false (or the signal aborts). */
async function parallel(workers: number, signal: AbortSignal, step: () => Promise<boolean>): Promise<void> {
  const worker = async () => {
    while (!signal.aborted && (await step()));
  };
  await Promise.all(Array.from({ length: workers }, worker));
}
