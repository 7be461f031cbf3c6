import type { Json } from '../core/types.ts';
import type { ClientOp, ClientReply, WatchEvent } from '../peer/io.ts';
import type { ReplicasReport } from '../replication/replica-probe.ts';
import { AbortedError, CommitUnknownError, errorFromReply, KeyChangedError, NotFoundError, TabringError, WrongTypeError } from './errors.ts';
import { checkKey, checkTxKeys, checkValue } from './validate.ts';

/**
 * How the API reaches its peer: in the same process (simulator, Node peer) or through
 * comlink into a Web Worker. Two calls, nothing else.
 */
export interface PeerLink {
  request(op: ClientOp): Promise<ClientReply>;
  /** Subscribe to watch events; returns an unsubscribe function. */
  onEvent(cb: (e: WatchEvent) => void): () => void;
}

export interface DbOptions {
  /** Attempts of transact() when transactions conflict (each a new transaction). */
  transact_attempts_max?: number;
  /** Backoff between attempts: random in [0, base * 2^attempt] ms, capped. */
  transact_backoff_base_ms?: number;
  transact_backoff_max_ms?: number;
  /** Times a commit of unknown outcome is asked again (same id) before CommitUnknownError. */
  resolve_attempts_max?: number;
  /** Random source for transaction ids and backoff (Math.random unless given). */
  random?: () => number;
  /** Timer (setTimeout unless given): the simulator hands in its own. */
  sleep?: (ms: number) => Promise<void>;
}

/** What a transaction function gets: reads go to the store, writes are buffered until commit. */
export interface Tx {
  readonly id: string;
  /** The value, or throws NotFoundError. Reads see this transaction's own writes. */
  read(key: string): Promise<Json>;
  /** The value, or undefined when the key does not exist. */
  get(key: string): Promise<Json | undefined>;
  write(key: string, value: Json): void;
  delete(key: string): void;
  /** Add n to the number at key (absent counts as 0); returns the new value. */
  addOnNr(key: string, n: number): Promise<number>;
  /** Append `add` to the list at key and remove every element equal to one in `del`; returns the new list. */
  addDelOnList(key: string, add: Json[], del?: Json[]): Promise<Json[]>;
}

const sameJson = (a: Json, b: Json) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The key/value API of tabring (Scalaris' operations plus Beernet's watch). Every
 * operation is linearizable; transactions are strictly serializable. Errors are typed
 * (see errors.ts); limits are checked before anything is sent.
 */
export class Db {
  private readonly opts: Required<Omit<DbOptions, 'random' | 'sleep'>>;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private counter = 0;
  private readonly prefix: string;

  constructor(
    private readonly link: PeerLink,
    options: DbOptions = {},
  ) {
    this.opts = {
      transact_attempts_max: options.transact_attempts_max ?? 20,
      transact_backoff_base_ms: options.transact_backoff_base_ms ?? 2,
      transact_backoff_max_ms: options.transact_backoff_max_ms ?? 500,
      resolve_attempts_max: options.resolve_attempts_max ?? 3,
    };
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.prefix = Math.floor(this.random() * 36 ** 8).toString(36);
  }

  /** A fresh transaction id: unique per client, so a retry by id is recognised. */
  newTxId(): string {
    return `${this.prefix}.${(++this.counter).toString(36)}.${Math.floor(this.random() * 36 ** 4).toString(36)}`;
  }

  private async call(op: ClientOp, txId = '', keys: string[] = []): Promise<Extract<ClientReply, { ok: true }>> {
    const r = await this.link.request(op);
    if (!r.ok) throw errorFromReply(r.code, r.message, r.keys ?? keys, txId);
    return r;
  }

  // ---------------------------------------------------------------- single operations

  /** The value at key; throws NotFoundError when it does not exist. */
  async read(key: string): Promise<Json> {
    checkKey(key);
    const r = await this.call({ op: 'read', key });
    if (!r.found) throw new NotFoundError(key);
    return r.value;
  }

  /** The value at key, or undefined. */
  async get(key: string): Promise<Json | undefined> {
    checkKey(key);
    const r = await this.call({ op: 'read', key });
    return r.found ? r.value : undefined;
  }

  async write(key: string, value: Json): Promise<void> {
    checkKey(key);
    checkValue(key, value);
    await this.transact(async (tx) => tx.write(key, value));
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.transact(async (tx) => tx.delete(key));
  }

  /** Write value only if key holds expected (undefined = absent); throws KeyChangedError otherwise. */
  async testAndSet(key: string, expected: Json | undefined, value: Json): Promise<void> {
    checkKey(key);
    checkValue(key, value);
    await this.transact(async (tx) => {
      const cur = await tx.get(key);
      if (cur === undefined ? expected !== undefined : expected === undefined || !sameJson(cur, expected)) throw new KeyChangedError(key, cur);
      tx.write(key, value);
    });
  }

  addOnNr(key: string, n: number): Promise<number> {
    return this.transact((tx) => tx.addOnNr(key, n));
  }

  addDelOnList(key: string, add: Json[], del: Json[] = []): Promise<Json[]> {
    return this.transact((tx) => tx.addDelOnList(key, add, del));
  }

  // ---------------------------------------------------------------- transactions

  /**
   * Run fn as one transaction, retrying it (as a new transaction, after a random backoff)
   * when it conflicts with another. Errors thrown by fn abort it and are passed on.
   */
  async transact<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let last: TabringError | null = null;
    for (let attempt = 0; attempt < this.opts.transact_attempts_max; attempt++) {
      const id = this.newTxId();
      const writes = new Map<string, { value: Json; exists: boolean }>();
      const readKeys = new Set<string>();
      const tx = this.makeTx(id, writes, readKeys);
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        void this.link.request({ op: 'tx_abandon', tx: id }).catch(() => {});
        throw e;
      }
      const keys = [...new Set([...readKeys, ...writes.keys()])];
      checkTxKeys(keys.length);
      try {
        await this.commit(id, writes, keys);
        return result;
      } catch (e) {
        if (!(e instanceof AbortedError)) throw e;
        last = e;
        const cap = Math.min(this.opts.transact_backoff_max_ms, this.opts.transact_backoff_base_ms * 2 ** attempt);
        await this.sleep(this.random() * cap);
      }
    }
    throw last ?? new AbortedError('transaction aborted');
  }

  private async commit(id: string, writes: Map<string, { value: Json; exists: boolean }>, keys: string[]): Promise<void> {
    const w = [...writes].map(([k, v]) => [k, v.value, v.exists] as [string, Json, boolean]);
    try {
      await this.call({ op: 'tx_commit', tx: id, writes: w }, id, keys);
    } catch (e) {
      if (!(e instanceof CommitUnknownError)) throw e;
      await this.resolve(id, keys);
    }
  }

  /**
   * Find out the outcome of a commit that was reported unknown (same id: idempotent).
   * Resolves when it committed, throws AbortedError when it did not, and
   * CommitUnknownError while nobody can tell yet.
   */
  async resolve(txId: string, keys: string[]): Promise<void> {
    let last: unknown = null;
    for (let i = 0; i < this.opts.resolve_attempts_max; i++) {
      try {
        await this.call({ op: 'tx_commit', tx: txId, writes: [], retryKeys: keys }, txId, keys);
        return;
      } catch (e) {
        if (!(e instanceof CommitUnknownError)) throw e;
        last = e;
      }
    }
    throw last instanceof CommitUnknownError ? last : new CommitUnknownError('commit outcome unknown', txId, keys);
  }

  private makeTx(id: string, writes: Map<string, { value: Json; exists: boolean }>, readKeys: Set<string>): Tx {
    const get = async (key: string): Promise<Json | undefined> => {
      checkKey(key);
      const own = writes.get(key);
      if (own) return own.exists ? own.value : undefined;
      readKeys.add(key);
      checkTxKeys(new Set([...readKeys, ...writes.keys()]).size);
      const r = await this.call({ op: 'tx_read', tx: id, key }, id);
      return r.found ? r.value : undefined;
    };
    const tx: Tx = {
      id,
      get,
      read: async (key) => {
        const v = await get(key);
        if (v === undefined) throw new NotFoundError(key);
        return v;
      },
      write: (key, value) => {
        checkKey(key);
        checkValue(key, value);
        writes.set(key, { value, exists: true });
        checkTxKeys(new Set([...readKeys, ...writes.keys()]).size);
      },
      delete: (key) => {
        checkKey(key);
        writes.set(key, { value: null, exists: false });
      },
      addOnNr: async (key, n) => {
        if (typeof n !== 'number' || !Number.isFinite(n)) throw new WrongTypeError(key, 'a number argument', typeof n);
        const cur = await get(key);
        if (cur !== undefined && typeof cur !== 'number') throw new WrongTypeError(key, 'a number', Array.isArray(cur) ? 'a list' : typeof cur);
        const next = (cur ?? 0) + n;
        tx.write(key, next);
        return next;
      },
      addDelOnList: async (key, add, del = []) => {
        const cur = await get(key);
        if (cur !== undefined && !Array.isArray(cur)) throw new WrongTypeError(key, 'a list', typeof cur);
        const dels = new Set(del.map((d) => JSON.stringify(d)));
        const next = [...(cur ?? []).filter((x) => !dels.has(JSON.stringify(x))), ...add];
        tx.write(key, next);
        return next;
      },
    };
    return tx;
  }

  // ---------------------------------------------------------------- diagnostics

  /**
   * Diagnostic, for consoles and tests: each of key's r replicas as its holder has it
   * (holder peer, version, whether the holder is authoritative for that position, whether
   * an undecided transaction locks it). Read-only: it decides nothing, repairs nothing and
   * waits for no lock, so it is not a read: use read() for the value. Slots whose holder
   * did not answer in time come back with `answered: false`.
   */
  async replicas(key: string): Promise<ReplicasReport> {
    checkKey(key);
    const r = await this.call({ op: 'replicas', key });
    return r.value as unknown as ReplicasReport;
  }

  // ---------------------------------------------------------------- notifications

  /**
   * Call cb(value, version) whenever key changes (value undefined when deleted). Events
   * come from the key's replicas; the highest version wins, so each change is told once.
   * Returns a function that stops watching.
   */
  async watch(key: string, cb: (value: Json | undefined, version: number) => void): Promise<() => Promise<void>> {
    checkKey(key);
    let watchId = -1;
    const early: WatchEvent[] = [];
    const off = this.link.onEvent((e) => {
      if (watchId < 0) early.push(e);
      else if (e.watchId === watchId) cb(e.found ? e.value : undefined, e.ver);
    });
    const r = await this.call({ op: 'watch', key });
    watchId = r.value as number;
    for (const e of early) if (e.watchId === watchId) cb(e.found ? e.value : undefined, e.ver);
    return async () => {
      off();
      await this.call({ op: 'unwatch', watchId });
    };
  }
}
