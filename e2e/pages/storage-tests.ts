import type { Json } from '../../src/core/types.ts';
import type { StorageAdapter } from '../../src/adapters/storage.ts';
import { assertEqual, assertRejects, storageSuite, type SuiteApi } from '../../test/storage-suite.ts';
import { IndexedDbStorage } from '../../worker/indexeddb-storage.ts';

/**
 * Browser storage tests, registered into any SuiteApi: the shared suite against
 * IndexedDbStorage plus IndexedDB-only failure cases. Runs inside a dedicated Worker
 * (storage-suite.worker.ts); Playwright imports it in Node only to list the names.
 */
export const SUITE_PREFIX = 'storage suite: IndexedDbStorage';
export const IDB_PREFIX = 'IndexedDbStorage';
export const SCENARIO_PREFIX = 'scenario';

const deleteDatabase = (name: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });

function randomText(chars: number): string {
  const bytes = new Uint8Array(chars);
  // getRandomValues gives at most 64 KiB per call.
  for (let i = 0; i < chars; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  let out = '';
  for (const b of bytes) out += String.fromCharCode(33 + (b % 90));
  return out;
}

let n = 0;
const uniqueName = (what: string): string => `${what}-${Date.now().toString(36)}-${++n}`;

export function registerStorageTests(api: SuiteApi): void {
  storageSuite('IndexedDbStorage', (name) => IndexedDbStorage.open(name), {
    api,
    // A real aborted transaction (tx.abort() after its puts were issued).
    failNextCommit: (a: StorageAdapter) => (a as IndexedDbStorage).abortNextCommit(),
  });

  api.describe(IDB_PREFIX, () => {
    api.it('relaxed durability stores and reloads the same way', async () => {
      const name = uniqueName('relaxed');
      const a = await IndexedDbStorage.open(name, { durability: 'relaxed' });
      await Promise.all([a.write({ puts: [['a', 1]], dels: [] }), a.write({ puts: [['b', 2]], dels: [] })]);
      await a.close();
      const b = await IndexedDbStorage.open(name, { durability: 'relaxed' });
      assertEqual(await b.loadAll(), [['a', 1], ['b', 2]], 'state');
      await b.destroy();
    });

    api.it('concurrent single-put writes are group-committed into few transactions', async () => {
      const a = await IndexedDbStorage.open(uniqueName('group'));
      await Promise.all(Array.from({ length: 1000 }, (_, i) => a.write({ puts: [[`k${i}`, i]], dels: [] })));
      assertEqual(a.stats.batches, 1000, 'batches');
      if (a.stats.commits > 10) throw new Error(`${a.stats.commits} transactions for 1000 concurrent writes`);
      await a.destroy();
    });

    api.it('a connection closed underneath is reopened and the write goes through', async () => {
      const a = await IndexedDbStorage.open(uniqueName('dropped'));
      await a.write({ puts: [['a', 1]], dels: [] });
      a.dropConnectionForTest();
      await a.write({ puts: [['b', 2]], dels: [] });
      assertEqual(a.stats.reconnects, 1, 'reconnects');
      assertEqual(await a.loadAll(), [['a', 1], ['b', 2]], 'state');
      await a.destroy();
    });

    api.it('a database deleted underneath makes every later call reject with corrupt', async () => {
      const name = uniqueName('deleted');
      const a = await IndexedDbStorage.open(name);
      await a.write({ puts: [['a', 1]], dels: [] });
      await deleteDatabase(name); // not blocked: the adapter closes on versionchange
      await assertRejects(a.write({ puts: [['b', 2]], dels: [] }), 'corrupt', 'write after deletion');
      await assertRejects(a.loadAll(), 'corrupt', 'loadAll after deletion');
      await a.destroy();
      const fresh = await IndexedDbStorage.open(name);
      assertEqual(await fresh.loadAll(), [], 'a new store under the same name starts empty');
      await fresh.destroy();
    });

    api.it('destroy is not blocked by a second open adapter on the same database', async () => {
      const name = uniqueName('twice');
      const a = await IndexedDbStorage.open(name);
      const b = await IndexedDbStorage.open(name);
      await a.write({ puts: [['a', 1]], dels: [] });
      await a.destroy();
      await assertRejects(b.write({ puts: [['b', 1]], dels: [] }), 'corrupt', 'the other adapter learns it lost its storage');
      await b.destroy();
    });

    api.it('a connection that never lets go makes destroy and open fail with io, not hang', async () => {
      const name = uniqueName('blocked');
      const a = await IndexedDbStorage.open(name, { blockedTimeoutMs: 300 });
      await a.write({ puts: [['a', 1]], dels: [] });
      // A foreign connection that ignores versionchange (no onversionchange handler).
      const foreign = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      await assertRejects(a.destroy(), 'io', 'destroy while blocked');
      // The delete request is still queued; an open behind it is blocked too.
      await assertRejects(IndexedDbStorage.open(name, { openTimeoutMs: 500 }), 'io', 'open behind a blocked delete');
      foreign.close(); // the queued delete now runs, then later opens
      const fresh = await IndexedDbStorage.open(name);
      assertEqual(await fresh.loadAll(), [], 'the delete went through once unblocked');
      await fresh.destroy();
    });

    api.it('the log is checkpointed; state after reopen equals a model; short-lived records never reach the checkpoint', async () => {
      const name = uniqueName('checkpoint');
      const log = { log_entries_max: 8, checkpoint_records_max: 3 };
      const a = await IndexedDbStorage.open(name, { log });
      const model = new Map<string, Json>();
      for (let i = 0; i < 100; i++) {
        // Long-lived keys rewritten again and again, and a record that lives for one commit.
        const puts: Array<[string, Json]> = [[`k${i % 7}`, i], [`tmp${i}`, { i }]];
        const dels = i > 0 ? [`tmp${i - 1}`] : [];
        await a.write({ puts, dels });
        for (const [k, v] of puts) model.set(k, v);
        for (const k of dels) model.delete(k);
      }
      if (a.stats.checkpoints < 5) throw new Error(`only ${a.stats.checkpoints} checkpoints for 100 commits`);
      const expected = [...model].sort(([x], [y]) => (x < y ? -1 : 1));
      assertEqual(await a.loadAll(), expected, 'state before reopen');
      // Per checkpoint of 8 commits: the 7 long-lived keys, the live tmp key and the delete of
      // the one checkpointed before; not the 7 tmp keys that lived and died in between.
      if (a.stats.checkpointRecords > a.stats.checkpoints * 9 + 9) throw new Error(`${a.stats.checkpointRecords} records checkpointed`);
      await a.close();
      const b = await IndexedDbStorage.open(name, { log });
      assertEqual(await b.loadAll(), expected, 'state after reopen');
      assertEqual((await b.usage()).records, expected.length, 'usage after reopen');
      await b.destroy();
    });

    api.it('an interrupted checkpoint loses nothing and is done again later', async () => {
      const name = uniqueName('interrupted');
      const log = { log_entries_max: 4, checkpoint_records_max: 2 };
      const a = await IndexedDbStorage.open(name, { log });
      await a.loadAll();
      a.abortCheckpointChunks(2); // the second chunk fails after the first was written
      const model = new Map<string, Json>();
      for (let i = 0; i < 12; i++) {
        const puts: Array<[string, Json]> = [[`k${i % 5}`, i]];
        const dels = i % 3 === 2 ? [`k${(i + 1) % 5}`] : [];
        await a.write({ puts, dels });
        for (const [k, v] of puts) model.set(k, v);
        for (const k of dels) model.delete(k);
      }
      if (a.stats.checkpointFailures === 0) throw new Error('no checkpoint failed');
      const expected = [...model].sort(([x], [y]) => (x < y ? -1 : 1));
      await a.close();
      const b = await IndexedDbStorage.open(name, { log });
      assertEqual(await b.loadAll(), expected, 'state after an interrupted checkpoint');
      for (let i = 0; i < 8; i++) await b.write({ puts: [[`k${i % 5}`, 100 + i]], dels: [] });
      for (let i = 0; i < 8; i++) model.set(`k${i % 5}`, 100 + i);
      if (b.stats.checkpoints === 0) throw new Error('no checkpoint after reopening');
      await b.close();
      const c = await IndexedDbStorage.open(name, { log });
      assertEqual(await c.loadAll(), [...model].sort(([x], [y]) => (x < y ? -1 : 1)), 'state after a later checkpoint');
      await c.destroy();
    });

    api.it('a version-1 database (records only) opens with its records', async () => {
      const name = uniqueName('v1');
      await new Promise<void>((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => {
          const store = req.result.createObjectStore('records');
          store.put(JSON.stringify({ a: 1 }), 'a');
          store.put(JSON.stringify([2]), 'b');
        };
        req.onsuccess = () => (req.result.close(), resolve());
        req.onerror = () => reject(req.error);
      });
      const a = await IndexedDbStorage.open(name);
      assertEqual(await a.loadAll(), [['a', { a: 1 }], ['b', [2]]], 'records of version 1');
      await a.write({ puts: [['c', 3]], dels: ['a'] });
      await a.close();
      const b = await IndexedDbStorage.open(name);
      assertEqual(await b.loadAll(), [['b', [2]], ['c', 3]], 'after a write and reopen');
      await b.destroy();
    });

    api.it('estimate() reports the origin usage and quota', async () => {
      const a = await IndexedDbStorage.open(uniqueName('estimate'));
      const e = await a.estimate();
      if (e === undefined || typeof e.quota !== 'number' || typeof e.usage !== 'number') {
        throw new Error(`no estimate: ${JSON.stringify(e)}`);
      }
      await a.destroy();
    });
  });
}

const PERSIST_DB = 'persist-across-relaunch';
const persistRecords = (): Array<[string, Json]> => [
  ...Array.from({ length: 1000 }, (_, i): [string, Json] => [`r/${String(i).padStart(4, '0')}`, { i, s: `v${i}` }]),
  ['zz-big', 'x'.repeat(1024 * 1024)],
];

/** Steps that Playwright sequences around browser restarts and quota overrides. */
export function registerScenarios(api: SuiteApi): void {
  api.describe(SCENARIO_PREFIX, () => {
    api.it('persist: write', async () => {
      const a = await IndexedDbStorage.open(PERSIST_DB);
      await a.write({ puts: persistRecords(), dels: [] });
      await a.close();
    });

    api.it('persist: check', async () => {
      const a = await IndexedDbStorage.open(PERSIST_DB);
      const loaded = await a.loadAll();
      assertEqual(loaded.length, persistRecords().length, 'records after relaunch');
      assertEqual(loaded, persistRecords(), 'values after relaunch');
      await a.destroy();
    });

    api.it('quota: fill until QuotaExceededError, then recover', async () => {
      const a = await IndexedDbStorage.open(uniqueName('quota'));
      // Random text: Chromium compresses large IndexedDB values, so 'qqq…' would never fill it.
      const chunk = randomText(512 * 1024);
      const written: string[] = [];
      let failure: unknown;
      // Four concurrent 512 KiB writes per round: a failing transaction holds several batches.
      for (let round = 0; round < 200 && failure === undefined; round++) {
        const keys = [0, 1, 2, 3].map((i) => `big/${round}/${i}`);
        const results = await Promise.allSettled(keys.map((k) => a.write({ puts: [[k, chunk]], dels: [] })));
        results.forEach((r, i) => (r.status === 'fulfilled' ? written.push(keys[i]!) : (failure ??= r.reason)));
        for (const r of results) if (r.status === 'rejected') await assertRejects(Promise.reject(r.reason), 'quota', 'every failed batch');
      }
      if (failure === undefined) throw new Error('wrote 400 MiB without reaching the quota');
      if (written.length === 0) throw new Error('not even the first write fit');
      assertEqual((await a.usage()).records, written.length, 'only acknowledged batches are counted');
      await a.write({ puts: [], dels: written }); // freeing space is allowed over quota
      await a.write({ puts: [['small', 1]], dels: [] });
      assertEqual(await a.loadAll(), [['small', 1]], 'state after recovering');
      await a.destroy();
    });
  });
}
