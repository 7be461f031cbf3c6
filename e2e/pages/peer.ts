/**
 * Test page: one tabring peer, started with connect() exactly as an application would.
 * Playwright drives it through window.peer; every operation returns an Outcome (errors as
 * data: name, code, message) so the test process can record what each one did.
 */
import { connect, Db, type ConnectOptions, type TabringClient, type TabringStatus } from '../../src/index.ts';
import type { Json } from '../../src/core/types.ts';
import { incrementLoop, readLoop, type LoopOptions, type LoopResult } from './loops.ts';

export type { LoopOptions, LoopResult } from './loops.ts';

export type Outcome<T> = { ok: true; value: T } | { ok: false; name: string; code: string; message: string };

export interface PeerConnectOptions {
  room: string;
  signaling: string;
  storage?: 'indexeddb' | 'memory';
  /** Use the worker build with the garbage hook (peer-debug.worker.ts). */
  debugWorker?: boolean;
  joinTimeoutMs?: number;
  config?: ConnectOptions['config'];
}

export interface PeerPageApi {
  connect(o: PeerConnectOptions): Promise<Outcome<{ peerId: number; slot: number | null }>>;
  read(key: string): Promise<Outcome<{ found: boolean; value: Json | null }>>;
  write(key: string, value: Json): Promise<Outcome<null>>;
  addOnNr(key: string, n: number): Promise<Outcome<number>>;
  /** Moves amount from one account to another in one transaction, if the balance allows. */
  transfer(from: string, to: string, amount: number): Promise<Outcome<{ moved: boolean }>>;
  /** Reads all keys in one transaction (a consistent snapshot); absent keys are null. */
  readAll(keys: string[]): Promise<Outcome<Record<string, Json | null>>>;
  /** Writes all in one transaction. */
  writeAll(values: Record<string, Json>): Promise<Outcome<null>>;
  lookup(target: number): Promise<Outcome<{ peer: number; hops: number }>>;
  status(): Promise<TabringStatus | null>;
  /** The protocol's own status ({op: 'status'}: ring pointers, counters). */
  protocolStatus(): Promise<Json>;
  /** Diagnostic: each of key's replicas as its holder has it ({op: 'replicas'}). */
  replicas(key: string): Promise<Json>;
  /** Garbage on the raw data channel to `peer` (debug worker only). */
  garbage(peer: number): Promise<number>;
  /** Protocol ping round trips to a connected peer over the moved channel (debug worker only). */
  rtt(peer: number, samples: number): Promise<Quantiles>;
  /** Per-operation costs in the worker, µs: a data-channel send, a message decode, a JSON.parse (debug worker only). */
  micro(peer: number): Promise<{ sendUs: number; sendBigUs: number; bufferedUs: number; decodeUs: number; parseUs: number }>;
  /** Latency of one strict-durability IndexedDB write (debug worker only). */
  idbWriteLatency(samples: number): Promise<Quantiles>;
  /** Benchmark: `clients` loops, each incrementing its own key in read-modify-write transactions. */
  incrementLoop(o: LoopOptions): Promise<LoopResult>;
  /** Benchmark: `clients` loops of quorum reads. */
  readLoop(o: LoopOptions): Promise<LoopResult>;
  /** Garbage posted to the worker's port, beside comlink and the transport. */
  portGarbage(): Promise<void>;
  closeConnection(peer: number): void;
  /**
   * One attempt of a write, its first honest answer: no retry on conflict, and "commit
   * outcome unknown" is reported at once rather than asked again (bounded time under a
   * partition).
   */
  writeOnce(key: string, value: Json): Promise<Outcome<null>>;
  /** Test-only network cut at this tab's transport (client.testing.partition): drop everything to/from `drop`. */
  partition(drop: number[], direction?: 'both' | 'in' | 'out'): Promise<Outcome<{ in: number[]; out: number[] }>>;
  /** Lifts the cut. */
  heal(): Promise<Outcome<{ in: number[]; out: number[] }>>;
  close(): Promise<void>;
  leave(): Promise<void>;
}

export interface Quantiles {
  samples: number;
  p50: number;
  p99: number;
  mean: number;
}

declare global {
  interface Window {
    peer: PeerPageApi;
  }
}

let client: TabringClient | null = null;
/** The client while connect() is still waiting to be in the ring (for status while joining). */
let joining: TabringClient | null = null;
let worker: Worker | null = null;
let nextDebug = 0;

function debug<T>(message: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const rpc = ++nextDebug;
    const w = worker!;
    const on = (e: MessageEvent) => {
      const d = e.data as { debugReply?: number; result?: T; error?: string } | null;
      if (d?.debugReply !== rpc) return;
      w.removeEventListener('message', on);
      if (d.error !== undefined) reject(new Error(d.error));
      else resolve(d.result as T);
    };
    w.addEventListener('message', on);
    w.postMessage({ ...message, rpc });
  });
}


function need(): TabringClient {
  if (client === null) throw new Error('not connected');
  return client;
}

async function outcome<T>(f: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    const err = e as { name?: string; code?: string; message?: string };
    return { ok: false, name: err.name ?? 'Error', code: err.code ?? 'error', message: err.message ?? String(e) };
  }
}

window.peer = {
  connect: (o) =>
    outcome(async () => {
      client = await connect({
        room: o.room,
        signaling: o.signaling,
        storage: o.storage ?? 'indexeddb',
        joinTimeoutMs: o.joinTimeoutMs,
        config: o.config,
        // Tabs that all hammer one counter conflict a lot: let transact() retry long enough.
        db: { transact_attempts_max: 100 },
        onJoining: (c) => (joining = c),
        worker: () => {
          worker = o.debugWorker
            ? new Worker(new URL('./peer-debug.worker.ts', import.meta.url), { type: 'module' })
            : new Worker(new URL('../../worker/peer-worker.ts', import.meta.url), { type: 'module' });
          return worker;
        },
      });
      const s = await client.status();
      return { peerId: client.peerId, slot: s.slot };
    }),
  read: (key) =>
    outcome(async () => {
      const v = await need().get(key);
      return { found: v !== undefined, value: v ?? null };
    }),
  write: (key, value) => outcome(async () => (await need().write(key, value), null)),
  addOnNr: (key, n) => outcome(() => need().addOnNr(key, n)),
  transfer: (from, to, amount) =>
    outcome(() =>
      need().transact(async (tx) => {
        const a = ((await tx.get(from)) as number | undefined) ?? 0;
        const b = ((await tx.get(to)) as number | undefined) ?? 0;
        if (a < amount) return { moved: false };
        tx.write(from, a - amount);
        tx.write(to, b + amount);
        return { moved: true };
      }),
    ),
  readAll: (keys) =>
    outcome(() =>
      need().transact(async (tx) => {
        const out: Record<string, Json | null> = {};
        for (const k of keys) out[k] = (await tx.get(k)) ?? null;
        return out;
      }),
    ),
  writeAll: (values) =>
    outcome(() =>
      need().transact(async (tx) => {
        for (const [k, v] of Object.entries(values)) tx.write(k, v);
        return null;
      }),
    ),
  lookup: (target) =>
    outcome(async () => {
      const r = await need().request({ op: 'lookup', target });
      if (!r.ok) throw Object.assign(new Error(r.message), { code: r.code });
      return { peer: r.value as number, hops: r.hops ?? 0 };
    }),
  status: async () => {
    const c = client ?? joining;
    return c === null ? null : c.status();
  },
  protocolStatus: async () => {
    const c = client ?? joining;
    if (c === null) return null;
    const r = await c.request({ op: 'status' });
    return r.ok ? r.value : null;
  },
  replicas: async (key) => {
    const c = client ?? joining;
    if (c === null) return null;
    const r = await c.request({ op: 'replicas', key });
    return r.ok ? (r as unknown as Json) : { error: r.code, message: r.message };
  },
  garbage: (peer) => debug<number>({ debug: 'garbage', peer }),
  rtt: (peer, samples) => debug({ debug: 'rtt', peer, samples }),
  idbWriteLatency: (samples) => debug({ debug: 'idb', samples }),
  micro: (peer) => debug({ debug: 'micro', peer }),
  incrementLoop: (o) => incrementLoop((op) => need().request(op), o),
  readLoop: (o) => readLoop((op) => need().request(op), o),
  portGarbage: async () => {
    const w = worker!;
    for (const m of [
      null,
      42,
      'text',
      { kind: 'channel', peer: 'x' },
      { kind: 'channel', peer: 5, channel: 'not a channel' },
      { kind: 'relay-data', peer: 7, frame: new ArrayBuffer(8) },
      { kind: 'link-down', peer: -1 },
      { type: 'APPLY', id: 'bogus', path: ['nope', 'deeper'] },
      { type: 'GET', id: 'bogus2', path: ['__proto__', 'constructor'] },
    ]) {
      w.postMessage(m);
    }
    // A request the API must refuse, not crash on.
    await need().request({ op: 'no-such-op' } as never);
    await need().request(null as never);
  },
  closeConnection: (peer) => {
    (need() as unknown as { manager: { close(p: number): void } }).manager.close(peer);
  },
  writeOnce: (key, value) =>
    outcome(async () => {
      const c = need();
      const once = new Db({ request: (op) => c.request(op), onEvent: () => () => {} }, { transact_attempts_max: 1, resolve_attempts_max: 0 });
      await once.write(key, value);
      return null;
    }),
  partition: (drop, direction) => outcome(() => need().testing.partition({ drop, direction })),
  heal: () => outcome(() => need().testing.heal()),
  close: async () => {
    await client?.close();
    client = null;
  },
  leave: async () => {
    await client?.leave();
    client = null;
  },
};
document.title = 'peer ready';
