import type { Json } from '../src/core/types.ts';
import { StorageError, type StorageAdapter, type StorageErrorCode } from '../src/adapters/storage.ts';

/**
 * The one suite every StorageAdapter passes. It takes its test functions as arguments and
 * asserts with its own helpers, so the same file runs under Vitest in Node and inside a
 * dedicated Worker in real Chromium (e2e/pages/storage-suite.ts, driven by Playwright).
 */
export interface SuiteApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

/** Opens (or reopens) the store called `name`; same name = same records. */
export type MakeAdapter = (name: string) => Promise<StorageAdapter> | StorageAdapter;

export interface StorageSuiteOptions {
  readonly api: SuiteApi;
  /** Records in the many-keys test. */
  readonly manyKeys?: number;
  /** Size of the large value, in chars of JSON. */
  readonly largeValueChars?: number;
  /** Concurrent write() calls in the group-commit test. */
  readonly concurrentWrites?: number;
  readonly timeoutMs?: number;
  /**
   * Optional: make the adapter's next commit fail for real (an aborted transaction, a failed
   * append). The suite then checks that the failed batches are all rejected with a
   * StorageError, none is applied, and later writes work.
   */
  readonly failNextCommit?: (adapter: StorageAdapter) => void | Promise<void>;
}

export const SUITE_DEFAULTS = {
  manyKeys: 10_000,
  largeValueChars: 1024 * 1024,
  concurrentWrites: 500,
  timeoutMs: 60_000,
};

// ---- assertions (no test framework inside a Worker) ----

function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
  } catch {
    return String(v);
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (!sameJson(actual, expected)) throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
}

export async function assertRejects(p: Promise<unknown>, code: StorageErrorCode | 'any', what: string): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof StorageError)) throw new Error(`${what}: expected a StorageError, got ${show(String(e))}`);
    if (code !== 'any' && e.code !== code) throw new Error(`${what}: expected code ${code}, got ${e.code} (${e.message})`);
    return e;
  }
  throw new Error(`${what}: expected a rejection with ${code}, but it resolved`);
}

function recordsOf(entries: Array<[string, Json]>): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true });
  return out;
}

/** Bytes usage() must report: key length + JSON length of every record. */
function expectedBytes(records: Array<[string, Json]>): number {
  return records.reduce((n, [k, v]) => n + k.length + JSON.stringify(v).length, 0);
}

// ---- the suite ----

let storeCounter = 0;

export function storageSuite(suiteName: string, makeAdapter: MakeAdapter, options: StorageSuiteOptions): void {
  const o = { ...SUITE_DEFAULTS, ...options };
  const { describe, it } = o.api;
  const runId = Math.floor(Math.random() * 36 ** 4).toString(36);

  /** A fresh store name per test, valid as a file name and an IndexedDB name. */
  const fresh = (): string => `suite-${runId}-${++storeCounter}`;

  /** Runs fn on a fresh store and always destroys it afterwards. */
  async function withStore(fn: (open: () => Promise<StorageAdapter>, first: StorageAdapter) => Promise<void>): Promise<void> {
    const name = fresh();
    const opened: StorageAdapter[] = [];
    const open = async (): Promise<StorageAdapter> => {
      const a = await makeAdapter(name);
      opened.push(a);
      return a;
    };
    try {
      await fn(open, await open());
    } finally {
      for (const a of opened) await a.close().catch(() => undefined);
      const last = await makeAdapter(name);
      await last.destroy();
    }
  }

  async function reopen(a: StorageAdapter, open: () => Promise<StorageAdapter>): Promise<StorageAdapter> {
    await a.close();
    return open();
  }

  const test = (name: string, fn: () => Promise<void>): void => it(name, fn, o.timeoutMs);

  describe(`storage suite: ${suiteName}`, () => {
    test('an empty store loads nothing and uses nothing', () =>
      withStore(async (_open, a) => {
        assertEqual(await a.loadAll(), [], 'loadAll');
        assertEqual(await a.usage(), { records: 0, bytes: 0 }, 'usage');
      }));

    test('records survive close and reopen, sorted by key (UTF-16 order)', () =>
      withStore(async (open, a) => {
        // 'B' < 'a' < 'é' < '\u{1F600}' (surrogate 0xD83D) < '\uFFFF' in code-unit order.
        const keys = ['\uFFFF', 'a', '\u{1F600}', 'B', 'é', 'a/b', ''];
        await a.write({ puts: keys.map((k, i) => [k, i]), dels: [] });
        const b = await reopen(a, open);
        const sorted = [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        assertEqual((await b.loadAll()).map(([k]) => k), sorted, 'keys after reopen');
        assertEqual(recordsOf(await b.loadAll()), recordsOf(keys.map((k, i) => [k, i])), 'values after reopen');
      }));

    test('a batch applies puts in order, then dels', () =>
      withStore(async (open, a) => {
        await a.write({ puts: [['x', 1], ['y', 1], ['x', 2]], dels: [] });
        await a.write({ puts: [['y', 2], ['z', 1]], dels: ['y'] });
        const b = await reopen(a, open);
        assertEqual(await b.loadAll(), [['x', 2], ['z', 1]], 'state');
      }));

    test('an invalid batch is rejected whole: nothing of it is stored', () =>
      withStore(async (open, a) => {
        await a.write({ puts: [['keep', 1]], dels: [] });
        await assertRejects(
          a.write({ puts: [['a', 1], ['b', undefined as unknown as Json]], dels: ['keep'] }),
          'invalid',
          'batch with one bad value',
        );
        const b = await reopen(a, open);
        assertEqual(await b.loadAll(), [['keep', 1]], 'state');
      }));

    test('deletes remove records; deleting a missing key is a no-op', () =>
      withStore(async (open, a) => {
        await a.write({ puts: [['a', 1], ['b', 2], ['c', 3]], dels: [] });
        await a.write({ puts: [], dels: ['b', 'missing'] });
        await a.write({ puts: [], dels: [] });
        assertEqual(await a.loadAll(), [['a', 1], ['c', 3]], 'before reopen');
        const b = await reopen(a, open);
        assertEqual(await b.loadAll(), [['a', 1], ['c', 3]], 'after reopen');
        assertEqual((await b.usage()).records, 2, 'records');
      }));

    test('overwrites replace the value and the counted size', () =>
      withStore(async (open, a) => {
        await a.write({ puts: [['k', 'a long first value']], dels: [] });
        await a.write({ puts: [['k', { v: 2 }]], dels: [] });
        assertEqual(await a.usage(), { records: 1, bytes: 1 + '{"v":2}'.length }, 'usage');
        const b = await reopen(a, open);
        assertEqual(await b.loadAll(), [['k', { v: 2 }]], 'state');
        assertEqual(await b.usage(), { records: 1, bytes: 1 + '{"v":2}'.length }, 'usage after reopen');
      }));

    test('large values (1 MiB) round trip', () =>
      withStore(async (open, a) => {
        const big = 'x'.repeat(o.largeValueChars - 2);
        const bigArray = Array.from({ length: 4096 }, (_, i) => ({ i, s: 'é'.repeat(64) }));
        await a.write({ puts: [['big', big], ['arr', bigArray]], dels: [] });
        const b = await reopen(a, open);
        const loaded = recordsOf(await b.loadAll());
        assertEqual(typeof loaded.big === 'string' && loaded.big.length, big.length, 'big length');
        if (loaded.big !== big) throw new Error('big value changed');
        assertEqual(loaded.arr, bigArray, 'array value');
      }));

    test('many keys (10k) in one batch and in many batches', () =>
      withStore(async (open, a) => {
        const n = o.manyKeys;
        const key = (i: number): string => `key/${String(i).padStart(6, '0')}`;
        await a.write({ puts: Array.from({ length: n }, (_, i) => [key(i), i]), dels: [] });
        const half = Math.floor(n / 2);
        for (let start = 0; start < half; start += 1000) {
          const end = Math.min(start + 1000, half);
          await a.write({ puts: [], dels: Array.from({ length: end - start }, (_, i) => key(start + i)) });
        }
        const b = await reopen(a, open);
        const loaded = await b.loadAll();
        assertEqual(loaded.length, n - half, 'count');
        assertEqual(loaded[0], [key(half), half], 'first');
        assertEqual(loaded[loaded.length - 1], [key(n - 1), n - 1], 'last');
        assertEqual((await b.usage()).records, n - half, 'usage records');
      }));

    test('concurrent writes are all durable, applied and acknowledged in call order', () =>
      withStore(async (open, a) => {
        const n = o.concurrentWrites;
        const acked: number[] = [];
        const writes: Promise<void>[] = [];
        for (let i = 0; i < n; i++) {
          // Each batch overwrites 'last', adds its own key, and deletes the previous one's
          // odd key: the end state only comes out right if batches apply in call order.
          const dels = i > 0 && (i - 1) % 2 === 1 ? [`c/${i - 1}`] : [];
          writes.push(a.write({ puts: [['last', i], [`c/${i}`, i]], dels }).then(() => void acked.push(i)));
        }
        await Promise.all(writes);
        assertEqual(acked, Array.from({ length: n }, (_, i) => i), 'acknowledgement order');
        const b = await reopen(a, open);
        const state = recordsOf(await b.loadAll());
        assertEqual(state.last, n - 1, 'last');
        for (let i = 0; i < n; i++) {
          const present = Object.prototype.hasOwnProperty.call(state, `c/${i}`);
          const expected = i % 2 === 0 || i === n - 1;
          if (present !== expected) throw new Error(`c/${i}: present=${present}, expected ${expected}`);
        }
      }));

    test('close waits for pending writes; a closed adapter rejects with closed', () =>
      withStore(async (open, a) => {
        const pending = [a.write({ puts: [['p', 1]], dels: [] }), a.write({ puts: [['q', 2]], dels: [] })];
        await a.close();
        await Promise.all(pending);
        await a.close(); // idempotent
        await assertRejects(a.write({ puts: [['r', 3]], dels: [] }), 'closed', 'write after close');
        await assertRejects(a.loadAll(), 'closed', 'loadAll after close');
        await assertRejects(a.usage(), 'closed', 'usage after close');
        const b = await open();
        assertEqual(await b.loadAll(), [['p', 1], ['q', 2]], 'state');
      }));

    test('destroy removes every record and closes the adapter', () =>
      withStore(async (open, a) => {
        await a.write({ puts: [['a', 1], ['b', [1, 2]]], dels: [] });
        await a.destroy();
        await assertRejects(a.write({ puts: [['c', 1]], dels: [] }), 'closed', 'write after destroy');
        const b = await open();
        assertEqual(await b.loadAll(), [], 'state after destroy');
        assertEqual(await b.usage(), { records: 0, bytes: 0 }, 'usage after destroy');
      }));

    test('usage counts records and key + JSON bytes, across reopen', () =>
      withStore(async (open, a) => {
        const records: Array<[string, Json]> = [['a', 1], ['bb', 'two'], ['ccc', { x: [1, 2, 3] }], ['ü', 'é']];
        await a.write({ puts: records, dels: [] });
        assertEqual(await a.usage(), { records: 4, bytes: expectedBytes(records) }, 'usage');
        await a.write({ puts: [['a', 12345]], dels: ['bb'] });
        const now: Array<[string, Json]> = [['a', 12345], ['ccc', { x: [1, 2, 3] }], ['ü', 'é']];
        assertEqual(await a.usage(), { records: 3, bytes: expectedBytes(now) }, 'after overwrite + delete');
        const b = await reopen(a, open);
        assertEqual(await b.usage(), { records: 3, bytes: expectedBytes(now) }, 'after reopen');
      }));

    test('every kind of JSON value round trips (-0 is stored as 0)', () =>
      withStore(async (open, a) => {
        const proto = JSON.parse('{"__proto__":{"polluted":true}}') as Json;
        const values: Array<[string, Json, Json]> = [
          ['null', null, null],
          ['true', true, true],
          ['false', false, false],
          ['zero', 0, 0],
          ['negzero', -0, 0],
          ['frac', 1.5, 1.5],
          ['huge', -1.7976931348623157e308, -1.7976931348623157e308],
          ['tiny', 5e-324, 5e-324],
          ['safe', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
          ['empty', '', ''],
          ['unicode', 'héllo wörld 日本語 \u{1F600}', 'héllo wörld 日本語 \u{1F600}'],
          ['controls', '\u0000\n\t"\\\u2028', '\u0000\n\t"\\\u2028'],
          ['lone', 'a\uD800b\uDFFF', 'a\uD800b\uDFFF'],
          ['emptyobj', {}, {}],
          ['emptyarr', [], []],
          ['nested', { a: [1, { b: [null, true, 'x', { c: {} }] }], 'ключ': -2 }, { a: [1, { b: [null, true, 'x', { c: {} }] }], 'ключ': -2 }],
          ['proto', proto, proto],
          ['deep', nest(200), nest(200)],
        ];
        await a.write({ puts: values.map(([k, v]) => [k, v]), dels: [] });
        const check = async (s: StorageAdapter, when: string): Promise<void> => {
          const loaded = recordsOf(await s.loadAll());
          for (const [k, , expected] of values) assertEqual(loaded[k], expected, `${k} ${when}`);
          const p = loaded.proto as Record<string, Json>;
          if (!Object.prototype.hasOwnProperty.call(p, '__proto__')) throw new Error('__proto__ key lost');
          if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('prototype polluted');
        };
        await check(a, 'before reopen');
        await check(await reopen(a, open), 'after reopen');
      }));

    test('non-JSON input is rejected with invalid and not stored', () =>
      withStore(async (open, a) => {
        const cyclic: Record<string, unknown> = { a: 1 };
        cyclic.self = cyclic;
        // eslint-disable-next-line no-sparse-arrays
        const sparse = [1, , 3];
        class Point {
          x = 1;
        }
        const bad: Array<[string, unknown]> = [
          ['undefined', undefined],
          ['function', () => 1],
          ['symbol', Symbol('s')],
          ['bigint', BigInt(1)],
          ['nan', NaN],
          ['inf', Infinity],
          ['neginf', -Infinity],
          ['date', new Date(0)],
          ['map', new Map()],
          ['class', new Point()],
          ['cyclic', cyclic],
          ['sparse', sparse],
          ['undefinedprop', { a: undefined }],
          ['nestedbad', { a: [1, { b: NaN }] }],
        ];
        for (const [k, v] of bad) {
          await assertRejects(a.write({ puts: [[k, v as Json]], dels: [] }), 'invalid', `value ${k}`);
        }
        const badBatches: unknown[] = [
          null,
          { puts: [] },
          { dels: [] },
          { puts: [[1, 'numeric key']], dels: [] },
          { puts: [['k']], dels: [] },
          { puts: [], dels: [7] },
        ];
        for (const [i, batch] of badBatches.entries()) {
          await assertRejects(a.write(batch as never), 'invalid', `batch ${i}`);
        }
        await a.write({ puts: [['ok', 1]], dels: [] });
        const b = await reopen(a, open);
        assertEqual(await b.loadAll(), [['ok', 1]], 'only the valid write is stored');
      }));

    test('stored state never aliases caller objects', () =>
      withStore(async (_open, a) => {
        const value = { list: [1, 2], inner: { x: 1 } };
        const write = a.write({ puts: [['k', value]], dels: [] });
        value.list.push(3);
        value.inner.x = 99;
        await write;
        const first = await a.loadAll();
        assertEqual(first, [['k', { list: [1, 2], inner: { x: 1 } }]], 'after mutating the input');
        ((first[0]![1] as { list: number[] }).list).push(4);
        assertEqual(await a.loadAll(), [['k', { list: [1, 2], inner: { x: 1 } }]], 'after mutating the output');
      }));

    if (o.failNextCommit !== undefined) {
      const failNextCommit = o.failNextCommit;
      test('a failed commit rejects all its batches, applies none, and later writes work', () =>
        withStore(async (open, a) => {
          await a.write({ puts: [['before', 1]], dels: [] });
          await failNextCommit(a);
          // Issued together: they may share the failing commit; each must settle honestly.
          const results = await Promise.allSettled([
            a.write({ puts: [['f1', 1]], dels: ['before'] }),
            a.write({ puts: [['f2', 2]], dels: [] }),
          ]);
          const first = results[0]!;
          if (first.status !== 'rejected' || !(first.reason instanceof StorageError)) {
            throw new Error(`first write should fail with a StorageError, got ${show(first)}`);
          }
          await a.write({ puts: [['after', 3]], dels: [] });
          const expected: Array<[string, Json]> = [['after', 3], ['before', 1]];
          if (results[1]!.status === 'fulfilled') expected.push(['f2', 2]);
          expected.sort(([x], [y]) => (x < y ? -1 : 1));
          const b = await reopen(a, open);
          assertEqual(await b.loadAll(), expected, 'state after failure');
          assertEqual(await b.usage(), { records: expected.length, bytes: expectedBytes(expected) }, 'usage');
        }));
    }
  });
}

function nest(depth: number): Json {
  let v: Json = 'bottom';
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { d: v };
  return v;
}
