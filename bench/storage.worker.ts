/// <reference lib="webworker" />
import { IndexedDbStorage, type Durability } from '../worker/indexeddb-storage.ts';
import { measureWrites, putsFor, VALUE, type Measurement } from './storage-measure.ts';

/** Browser half of bench/storage.ts: runs inside a dedicated worker, like the real peer. */
export interface BrowserBenchRequest {
  readonly concurrency: readonly number[];
  readonly scale: number;
}

let dbCounter = 0;
const dbName = (what: string): string => `bench-${what}-${Date.now()}-${++dbCounter}`;

function openRaw(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore('s');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function deleteRaw(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

/** Bare IndexedDB, no adapter: `perTx` puts per transaction, transactions one after another. */
async function rawPuts(durability: Durability, perTx: number, total: number): Promise<Measurement & { perTx: number }> {
  const name = dbName('raw');
  const db = await openRaw(name);
  const json = JSON.stringify(VALUE);
  const start = performance.now();
  for (let done = 0; done < total; done += perTx) {
    const tx = db.transaction('s', 'readwrite', { durability });
    const store = tx.objectStore('s');
    for (let i = 0; i < perTx; i++) store.put(json, `k/${done + i}`);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  }
  const ms = performance.now() - start;
  db.close();
  await deleteRaw(name);
  return { perTx, concurrency: 1, puts: total, ms: Math.round(ms), putsPerSec: Math.round((total / ms) * 1000) };
}

async function run(req: BrowserBenchRequest): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const durability of ['strict', 'relaxed'] as const) {
    const raw = [];
    for (const perTx of [1, 100, 1000]) raw.push(await rawPuts(durability, perTx, perTx === 1 ? putsFor(1, req.scale) : 10 * perTx));
    const adapter = [];
    for (const c of req.concurrency) {
      const storage = await IndexedDbStorage.open(dbName('adapter'), { durability });
      adapter.push(await measureWrites(storage, c, putsFor(c, req.scale), () => performance.now()));
      await storage.destroy();
    }
    out[durability] = { rawIndexedDb: raw, indexedDbStorage: adapter };
  }
  return out;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = async (e: MessageEvent<BrowserBenchRequest>) => {
  try {
    scope.postMessage({ ok: true, result: await run(e.data) });
  } catch (error) {
    scope.postMessage({ ok: false, error: String(error) });
  }
};
