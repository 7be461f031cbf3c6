import { limits, type Db, type Json, type Tx } from '../../src/api/index.ts';
import { analyse } from './wikitext.ts';
import { normalizeTitle } from './titles.ts';
import { splitText } from './text-chunks.ts';

/**
 * The wiki on the store, after Scalaris' Wikipedia: a page maps to its current revision
 * and its revision list; category member lists and backlink lists are items of their own.
 *
 *   wiki:page:<title>        PageRecord: current revision, recent history, links, categories
 *   wiki:rev:<title>#<n>     RevisionRecord: who, when, why, how many text chunks, links
 *   wiki:text:<title>#<n>#<i> one chunk of the revision's text (values are ≤ 128 KiB)
 *   wiki:cat:<name>          titles of the pages in category <name>
 *   wiki:linkshere:<title>   titles of the pages that link to <title> (it may not exist)
 *   wiki:backlinks:<n>       { title: pages that link to it } for the titles hashed to bucket n:
 *                            the backlinks an import wrote (see below)
 *   wiki:titles:<letter>     every title starting with <letter> (for "All pages")
 *
 * The pages that link to a title are those in its list and those in its bucket's entry.
 * Saves add to lists; an import writes its pages' links into the buckets, a few hundred
 * keys instead of one list per linked title (the sample's 491 pages link to 20,729 titles:
 * on 3 tabs here writing that many lists took over 10 minutes, the buckets take seconds);
 * a save or repair that removes a link removes it from both.
 *
 * Saving is one transaction: it checks that the page is still at the revision the editor
 * started from, appends the revision, and updates category and backlink lists. A
 * transaction may touch at most 64 keys, so when a save changes more lists than fit, the
 * rest is brought up to date by follow-up transactions (`indexed` records how far the
 * lists are known to be right, so any tab can finish the job if this one goes away).
 */

export const key = {
  page: (t: string) => `wiki:page:${t}`,
  backlinks: (n: number) => `wiki:backlinks:${n}`,
  rev: (t: string, n: number) => `wiki:rev:${t}#${n}`,
  text: (t: string, n: number, i: number) => `wiki:text:${t}#${n}#${i}`,
  category: (name: string) => `wiki:cat:${name}`,
  linksHere: (t: string) => `wiki:linkshere:${t}`,
  titles: (t: string) => `wiki:titles:${String.fromCodePoint(t.codePointAt(0) ?? 63)}`,
};

/** Revisions listed in the page record, newest first; older ones stay readable by number. */
export const history_in_page_max = 50;
/** Keys one transaction may touch (the store's limit). */
const tx_keys_max = limits.tx_keys_max;
/**
 * Lists updated per transaction outside a save (follow-ups, imports). Smaller transactions
 * commit faster per key (the commit waits for every replica of every key): on 4 tabs of this
 * machine, 16-key transactions on 16-32 concurrent workers wrote 200-250 lists/s, 63-key ones
 * 50-75 (measured with the loop in demo/README.md).
 */
export const list_batch_keys = 16;
/** Revisions read back at most when repairing lists whose update was interrupted. */
const repair_revisions_max = 20;

export interface RevisionSummary {
  n: number;
  time: number;
  author: string;
  comment: string;
  bytes: number;
}

export interface PageRecord {
  title: string;
  rev: number;
  history: RevisionSummary[];
  links: string[];
  categories: string[];
  redirect: string | null;
  /** Category and backlink lists are right for this revision (lags `rev` while follow-ups run). */
  indexed: number;
  /** Hash of the current text: an import of the same text is skipped. */
  textHash: string;
}

export interface RevisionRecord extends RevisionSummary {
  chunks: number;
  links: string[];
  categories: string[];
}

export interface Page {
  record: PageRecord;
  revision: RevisionRecord;
  text: string;
}

/** Someone saved the page since the editor opened it; nothing was written. */
export class EditConflictError extends Error {
  constructor(
    readonly title: string,
    readonly baseRev: number,
    readonly currentRev: number,
  ) {
    super(`“${title}” was changed by someone else (now revision ${currentRev}; you started from ${baseRev === 0 ? 'a new page' : `revision ${baseRev}`})`);
    this.name = 'EditConflictError';
  }
}

export interface SaveRequest {
  title: string;
  text: string;
  /** Revision the editor started from; 0 for a new page. */
  baseRev: number;
  author: string;
  comment: string;
  /** Time of the revision (ms since epoch); now unless importing. */
  time?: number;
  /**
   * Leave the backlink lists to the caller (an import, see importer.ts, which writes them
   * for all its pages at once, by target). The save then updates only the category lists
   * and leaves the page marked as not fully indexed (`indexed` < `rev`) until they are done.
   */
  deferLinks?: boolean;
  /** Add a new page to the title index ("All pages") here; an import does it for all its pages at once. Default true. */
  indexTitle?: boolean;
}

export interface SaveResult {
  rev: number;
  /** Lists still to update after the save's own transaction (0 when it did everything). */
  deferred: number;
  /** The page record as the save wrote it. */
  record: PageRecord;
}

/** A cheap 53-bit string hash (cyrb53): enough to tell an unchanged text on re-import. */
export function textHash(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

function listKeysOf(links: readonly string[], categories: readonly string[]): string[] {
  return [...categories.map(key.category), ...links.map(key.linksHere)];
}

const categoryPrefix = key.category('');
const isCategoryKey = (k: string) => k.startsWith(categoryPrefix);
const linksHerePrefix = key.linksHere('');
/** The title whose backlink list this key is, or null for another list. */
const backlinkTarget = (k: string): string | null => (k.startsWith(linksHerePrefix) ? k.slice(linksHerePrefix.length) : null);

/**
 * Buckets of import backlinks. 256 buckets hold the sample's 27,387 links in about 3 KiB
 * each; a bucket is one value (at most 128 KiB), so they hold about a million links.
 */
export const backlink_buckets = 256;

/** Backlinks of the titles of one bucket. */
export type BacklinkBucket = Record<string, string[]>;

/** The bucket of a title (a 32-bit FNV-1a hash of its UTF-16 units). */
export function bucketOf(title: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < title.length; i++) h = Math.imul(h ^ title.charCodeAt(i), 0x01000193);
  return (h >>> 0) % backlink_buckets;
}

/** Keys a set of list changes touches: the lists, and the buckets of backlinks removed. */
function keysOfChanges(changes: ReadonlyArray<readonly [string, boolean]>): Set<string> {
  const keys = new Set<string>();
  for (const [k, member] of changes) {
    keys.add(k);
    const t = member ? null : backlinkTarget(k);
    if (t !== null) keys.add(key.backlinks(bucketOf(t)));
  }
  return keys;
}

/** The longest prefix of changes that touches at most `room` keys. */
function fitChanges<T extends readonly [string, boolean]>(changes: readonly T[], room: number): T[] {
  let n = 0;
  while (n < changes.length && keysOfChanges(changes.slice(0, n + 1)).size <= room) n++;
  return changes.slice(0, n);
}

/**
 * Apply list changes for one page in a transaction: each list read once and written when
 * it changes; a backlink removed from a list is removed from its bucket too (one
 * read-modify-write per bucket, however many of its titles lose the page).
 */
async function applyChanges(tx: Tx, title: string, changes: ReadonlyArray<readonly [string, boolean]>): Promise<void> {
  const removedByBucket = new Map<number, string[]>();
  for (const [k, member] of changes) {
    const t = member ? null : backlinkTarget(k);
    if (t !== null) (removedByBucket.get(bucketOf(t)) ?? removedByBucket.set(bucketOf(t), []).get(bucketOf(t))!).push(t);
  }
  // Reads of one transaction go out together: one round trip, not one per list.
  await Promise.all([
    ...changes.map(([k, member]) => setMember(tx, k, title, member)),
    ...[...removedByBucket].map(async ([n, targets]) => {
      const bucket = (await tx.get(key.backlinks(n))) as BacklinkBucket | undefined;
      if (!bucket) return;
      const next: BacklinkBucket = { ...bucket };
      let changed = false;
      for (const t of targets) {
        const list = next[t];
        if (!list?.includes(title)) continue;
        changed = true;
        const rest = list.filter((x) => x !== title);
        if (rest.length) next[t] = rest;
        else delete next[t];
      }
      if (!changed) return;
      if (Object.keys(next).length) tx.write(key.backlinks(n), next as unknown as Json);
      else tx.delete(key.backlinks(n));
    }),
  ]);
}

/** Put title in (or take it out of) the list at listKey, writing only when that changes it. */
async function setMember(tx: Tx, listKey: string, title: string, member: boolean): Promise<void> {
  const list = ((await tx.get(listKey)) as string[] | undefined) ?? [];
  const has = list.includes(title);
  if (has === member) return;
  if (member) tx.write(listKey, [...list, title]);
  else if (list.length === 1) tx.delete(listKey);
  else tx.write(listKey, list.filter((t) => t !== title));
}

/** Add titles to lists (each read once, written only when something is missing). */
async function addMembers(tx: Tx, lists: ReadonlyArray<readonly [listKey: string, titles: readonly string[]]>): Promise<void> {
  await Promise.all(
    lists.map(async ([listKey, titles]) => {
      const list = ((await tx.get(listKey)) as string[] | undefined) ?? [];
      const have = new Set(list);
      const missing = [...new Set(titles)].filter((t) => !have.has(t));
      if (missing.length) tx.write(listKey, [...list, ...missing]);
    }),
  );
}

export class WikiStore {
  constructor(private readonly db: Db) {}

  async page(titleRaw: string): Promise<PageRecord | undefined> {
    return (await this.db.get(key.page(normalizeTitle(titleRaw)))) as PageRecord | undefined;
  }

  /** A page with the text of revision n (the current one by default), or undefined. */
  async load(titleRaw: string, n?: number): Promise<Page | undefined> {
    const title = normalizeTitle(titleRaw);
    const record = await this.page(title);
    if (!record) return undefined;
    const want = n ?? record.rev;
    const revision = (await this.db.get(key.rev(title, want))) as RevisionRecord | undefined;
    if (!revision) return undefined;
    const chunks = await Promise.all(Array.from({ length: revision.chunks }, (_, i) => this.db.get(key.text(title, want, i))));
    return { record, revision, text: chunks.map((c) => (typeof c === 'string' ? c : '')).join('') };
  }

  async revision(titleRaw: string, n: number): Promise<RevisionRecord | undefined> {
    return (await this.db.get(key.rev(normalizeTitle(titleRaw), n))) as RevisionRecord | undefined;
  }

  async categoryMembers(name: string): Promise<string[]> {
    return (((await this.db.get(key.category(normalizeTitle(name)))) as string[] | undefined) ?? []).slice().sort();
  }

  /** Pages that link to a title: its backlink list and its entry in its bucket. */
  async linksHere(titleRaw: string): Promise<string[]> {
    const t = normalizeTitle(titleRaw);
    const [list, bucket] = await Promise.all([this.db.get(key.linksHere(t)), this.db.get(key.backlinks(bucketOf(t)))]);
    return [...new Set([...((list as string[] | undefined) ?? []), ...((bucket as BacklinkBucket | undefined)?.[t] ?? [])])].sort();
  }

  async titlesStartingWith(letter: string): Promise<string[]> {
    return (((await this.db.get(key.titles(letter))) as string[] | undefined) ?? []).slice().sort();
  }

  /** Which of these titles exist (reads in parallel, a bounded number at a time). */
  async existing(titles: readonly string[], concurrency = 24): Promise<Set<string>> {
    const out = new Set<string>();
    let next = 0;
    const worker = async () => {
      while (next < titles.length) {
        const t = titles[next++]!;
        if ((await this.db.get(key.page(t))) !== undefined) out.add(t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, titles.length) }, worker));
    return out;
  }

  /**
   * Save a new revision in one transaction. Throws EditConflictError when the page moved
   * on from baseRev (the caller still has its text: nothing is lost).
   */
  async save(req: SaveRequest): Promise<SaveResult> {
    const title = normalizeTitle(req.title);
    if (!title) throw new Error('a page needs a title');
    const facts = analyse(req.text);
    const links = facts.links.filter((l) => l !== title);
    const deferLinks = req.deferLinks === true;
    const chunks = splitText(req.text);
    const time = req.time ?? Date.now();
    const bytes = new TextEncoder().encode(req.text).length;
    const result = await this.db.transact(async (tx) => {
      const old = (await tx.get(key.page(title))) as PageRecord | undefined;
      const current = old?.rev ?? 0;
      if (current !== req.baseRev) throw new EditConflictError(title, req.baseRev, current);
      const n = current + 1;
      const summary: RevisionSummary = { n, time, author: req.author, comment: req.comment, bytes };
      const rev: RevisionRecord = { ...summary, chunks: chunks.length, links, categories: facts.categories };
      tx.write(key.rev(title, n), rev as unknown as Json);
      chunks.forEach((c, i) => tx.write(key.text(title, n, i), c));
      // Lists whose membership changes, categories first (few, and the most visible).
      const before = new Set(old ? listKeysOf(old.links, old.categories) : []);
      const after = new Set(listKeysOf(links, facts.categories));
      const changes: Array<[string, boolean]> = [
        ...[...after].filter((k) => !before.has(k)).map((k) => [k, true] as [string, boolean]),
        ...[...before].filter((k) => !after.has(k)).map((k) => [k, false] as [string, boolean]),
      ];
      const used = 2 + chunks.length;
      const room = Math.max(0, tx_keys_max - used);
      const wasIndexed = !old || old.indexed === old.rev;
      const here = deferLinks ? changes.filter(([k]) => isCategoryKey(k)) : changes;
      const now = wasIndexed ? fitChanges(here, room) : [];
      await applyChanges(tx, title, now);
      const deferred = changes.length - now.length;
      const record: PageRecord = {
        title,
        rev: n,
        history: [summary, ...(old?.history ?? [])].slice(0, history_in_page_max),
        links,
        categories: facts.categories,
        redirect: facts.redirect,
        indexed: deferred === 0 && wasIndexed ? n : (old?.indexed ?? 0),
        textHash: textHash(req.text),
      };
      tx.write(key.page(title), record as unknown as Json);
      // When the page was fully indexed before, exactly the lists not changed here are left.
      const done = new Set(now.map(([k]) => k));
      return { rev: n, deferred, left: wasIndexed ? changes.filter(([k]) => !done.has(k)).map(([k]) => k) : null, created: !old, record };
    });
    // The title index is one list per letter that every new page joins: inside the save it
    // would make concurrent creations conflict. Its own small transaction retries cheaply;
    // "All pages" may lag a save by a moment.
    if (result.created && req.indexTitle !== false) await this.indexTitles([title]);
    if (result.deferred > 0 && !deferLinks) await this.finishIndexing(title, undefined, result.left ? { rev: result.rev, keys: result.left } : undefined);
    return { rev: result.rev, deferred: result.deferred, record: result.record };
  }

  /**
   * Bring the category and backlink lists of a page up to date with its current revision,
   * in transactions of at most 64 keys. Safe to run from any tab, at any time, as often as
   * wanted: each list is set from the page's current links, read in the same transaction.
   * Returns the number of lists checked.
   */
  async finishIndexing(titleRaw: string, onProgress?: (done: number, total: number) => void, left?: { rev: number; keys: string[] }): Promise<number> {
    const title = normalizeTitle(titleRaw);
    const rec = (await this.db.get(key.page(title))) as PageRecord | undefined;
    if (!rec || rec.indexed === rec.rev) return 0;
    // The lists a save left are all that is off only while that save is the current revision.
    const only = left && left.rev === rec.rev ? left.keys : undefined;
    // The lists a save left (when known); else every list touched by a revision since the
    // last fully indexed one may be off.
    const suspects = new Set(only ?? listKeysOf(rec.links, rec.categories));
    const from = Math.max(rec.indexed, rec.rev - repair_revisions_max, 1);
    const revs = only ? [] : await Promise.all(Array.from({ length: Math.max(0, rec.rev - from) }, (_, i) => this.db.get(key.rev(title, from + i))));
    for (const r of revs as Array<RevisionRecord | undefined>) if (r) for (const k of listKeysOf(r.links, r.categories)) suspects.add(k);
    const all = [...suspects];
    // Batches of at most list_batch_keys keys, the page record (read in each) included; a
    // list that may lose this page counts with its bucket.
    for (let i = 0; i < all.length; ) {
      const part = fitChanges(all.slice(i).map((k) => [k, false] as const), list_batch_keys - 1).map(([k]) => k);
      i += part.length;
      const last = i >= all.length;
      await this.db.transact(async (tx) => {
        const cur = (await tx.get(key.page(title))) as PageRecord | undefined;
        if (!cur) return;
        const want = new Set(listKeysOf(cur.links, cur.categories));
        await applyChanges(tx, title, part.map((k) => [k, want.has(k)] as const));
        if (last && cur.rev === rec.rev && cur.indexed !== cur.rev) tx.write(key.page(title), { ...cur, indexed: cur.rev } as unknown as Json);
      });
      onProgress?.(i, all.length);
    }
    return all.length;
  }

  /** Add titles to the title index ("All pages"), one list per first letter, a few lists per transaction. */
  async indexTitles(titlesRaw: readonly string[]): Promise<void> {
    const byList = new Map<string, string[]>();
    for (const t of titlesRaw.map(normalizeTitle)) {
      const k = key.titles(t);
      if (!byList.has(k)) byList.set(k, []);
      byList.get(k)!.push(t);
    }
    const entries = [...byList];
    for (let i = 0; i < entries.length; i += list_batch_keys) await this.db.transact((tx) => addMembers(tx, entries.slice(i, i + list_batch_keys)));
  }

  /**
   * Add the backlinks an import found to buckets, in one transaction: `buckets` maps bucket
   * numbers (at most 64) to the sources of each target in it. Sources already there are
   * not added twice.
   */
  async addBacklinks(buckets: ReadonlyMap<number, ReadonlyMap<string, readonly string[]>>): Promise<void> {
    if (buckets.size > tx_keys_max) throw new RangeError(`at most ${tx_keys_max} buckets per transaction`);
    await this.db.transact(async (tx) => {
      await Promise.all(
        [...buckets].map(async ([n, targets]) => {
          const bucket: BacklinkBucket = { ...(((await tx.get(key.backlinks(n))) as BacklinkBucket | undefined) ?? {}) };
          let changed = false;
          for (const [t, sources] of targets) {
            const have = new Set(bucket[t] ?? []);
            const missing = [...new Set(sources)].filter((s) => !have.has(s));
            if (missing.length === 0) continue;
            bucket[t] = [...(bucket[t] ?? []), ...missing];
            changed = true;
          }
          if (changed) tx.write(key.backlinks(n), bucket as unknown as Json);
        }),
      );
    });
  }

  /**
   * Mark pages as fully indexed at the revision given, in one transaction (at most 64
   * pages), when they are still at that revision. Returns the titles that moved on (edited
   * meanwhile: their lists need finishIndexing).
   */
  async markIndexed(pages: ReadonlyArray<{ title: string; rev: number }>): Promise<string[]> {
    if (pages.length > tx_keys_max) throw new RangeError(`at most ${tx_keys_max} pages per transaction`);
    return this.db.transact(async (tx) => {
      const recs = (await Promise.all(pages.map((p) => tx.get(key.page(p.title))))) as Array<PageRecord | undefined>;
      const moved: string[] = [];
      pages.forEach((p, i) => {
        const rec = recs[i];
        if (!rec) return;
        if (rec.rev !== p.rev) moved.push(p.title);
        else if (rec.indexed !== rec.rev) tx.write(key.page(p.title), { ...rec, indexed: rec.rev } as unknown as Json);
      });
      return moved;
    });
  }

  /**
   * Import one page: a new revision when its text differs from the current one, else
   * nothing. Options as for save (an import defers links and titles). Returns what happened
   * and the page record as it is now.
   */
  async importPage(
    p: { title: string; text: string; author: string; comment: string; time: number },
    opts: Pick<SaveRequest, 'deferLinks' | 'indexTitle'> = {},
  ): Promise<{ outcome: 'created' | 'updated' | 'unchanged'; record: PageRecord }> {
    for (let attempt = 0; ; attempt++) {
      const rec = await this.page(p.title);
      if (rec && rec.textHash === textHash(p.text)) {
        if (rec.indexed !== rec.rev && !opts.deferLinks) await this.finishIndexing(p.title);
        return { outcome: 'unchanged', record: rec };
      }
      try {
        const r = await this.save({ title: p.title, text: p.text, baseRev: rec?.rev ?? 0, author: p.author, comment: p.comment, time: p.time, ...opts });
        return { outcome: rec ? 'updated' : 'created', record: r.record };
      } catch (e) {
        // Another tab imported or edited it meanwhile: look again.
        if (!(e instanceof EditConflictError) || attempt >= 3) throw e;
      }
    }
  }
}
