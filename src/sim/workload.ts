import type { Json, PeerId } from '../core/types.ts';
import type { ClientOp, ClientReply } from '../peer/io.ts';
import type { MicroOp, OpStatus, RegisterOp, TxnOp } from './check/history.ts';
import type { BankRead } from './check/bank.ts';
import type { Rng } from './rng.ts';
import type { Simulation } from './simulation.ts';

export type WorkloadKind = 'list' | 'bank' | 'register';

export interface WorkloadKnobs {
  kinds: WorkloadKind[];
  clients: number;
  /** Keys of the list-append and register workloads. */
  list_keys: number;
  register_keys: number;
  bank_accounts: number;
  bank_initial_balance: number;
  /** Pause between a client's operations. */
  think_ms_max: number;
  /** A client that hears nothing this long records the operation as unknown and moves on. */
  op_timeout_ms: number;
}

/** What the clients saw: the histories the checkers judge. */
export interface Histories {
  txns: TxnOp[];
  registers: RegisterOp[];
  bank: BankRead[];
  committed: number;
  aborted: number;
  unknown: number;
  unavailable: number;
}

function outcome(r: ClientReply): OpStatus {
  if (r.ok) return 'ok';
  // Definitely not applied: aborted, unavailable before anything was prepared, refused by a
  // limit or by a peer not in a ring. 'stopped' (our peer crashed under the request) and
  // 'unknown' may have committed: an RTM can finish a transaction whose TM died.
  if (r.code === 'aborted' || r.code === 'unavailable' || r.code === 'not_joined' || r.code === 'limit' || r.code === 'invalid') return 'fail';
  return 'unknown';
}

/**
 * Seeded clients that run list-append transactions, bank transfers and single-key
 * register operations against the simulated peers, recording invocation and completion
 * of every operation in virtual time.
 */
export class Workload {
  readonly h: Histories = { txns: [], registers: [], bank: [], committed: 0, aborted: 0, unknown: 0, unavailable: 0 };
  private running = false;
  private stopAt = 0;
  private nextValue = 1;
  private txCounter = 0;
  private inFlight = 0;
  readonly accounts: string[];
  readonly listKeys: string[];
  readonly registerKeys: string[];

  constructor(
    private readonly sim: Simulation,
    private readonly rng: Rng,
    readonly k: WorkloadKnobs,
  ) {
    this.accounts = Array.from({ length: k.bank_accounts }, (_, i) => `acct${i}`);
    this.listKeys = Array.from({ length: k.list_keys }, (_, i) => `list${i}`);
    this.registerKeys = Array.from({ length: k.register_keys }, (_, i) => `reg${i}`);
  }

  get busy(): number {
    return this.inFlight;
  }

  /** Every key the workload may touch. */
  keys(): string[] {
    return [...this.listKeys, ...this.registerKeys, ...(this.k.kinds.includes('bank') ? this.accounts : [])];
  }

  // ---------------------------------------------------------------- plumbing

  private peer(): PeerId | null {
    const m = this.sim.members();
    return m.length === 0 ? null : this.rng.pick(m).id;
  }

  /**
   * One request with a client-side timeout. The callback runs exactly once: with the
   * reply, or with null when the client gave up (peer crashed, or too slow).
   */
  private call(peer: PeerId, op: ClientOp, cb: (r: ClientReply | null) => void): void {
    let done = false;
    this.sim.schedule(this.sim.now + this.k.op_timeout_ms, () => {
      if (done) return;
      done = true;
      cb(null);
    });
    this.sim.request(peer, op, (r) => {
      if (done) return;
      done = true;
      cb(r);
    });
  }

  // ---------------------------------------------------------------- setup

  /** Before faults: give every account its initial balance (retried until it commits). */
  initBank(done: () => void): void {
    const peer = this.peer();
    if (peer === null) return;
    const tx = `init-${this.txCounter++}`;
    this.call(peer, { op: 'tx_commit', tx, writes: this.accounts.map((a) => [a, this.k.bank_initial_balance, true] as const) }, (r) => {
      if (r?.ok) done();
      else this.sim.schedule(this.sim.now + 100, () => this.initBank(done));
    });
  }

  // ---------------------------------------------------------------- running

  start(durationMs: number): void {
    this.running = true;
    this.stopAt = this.sim.now + durationMs;
    for (let c = 0; c < this.k.clients; c++) this.sim.schedule(this.sim.now + this.rng.next() * 50, () => this.loop(c));
  }

  private loop(client: number): void {
    if (!this.running || this.sim.now >= this.stopAt) return;
    const kind = this.rng.pick(this.k.kinds);
    const next = () => this.sim.schedule(this.sim.now + this.rng.next() * this.k.think_ms_max, () => this.loop(client));
    this.inFlight++;
    const finish = () => {
      this.inFlight--;
      next();
    };
    if (kind === 'list') this.listTxn(client, finish);
    else if (kind === 'bank') this.bankOp(client, finish);
    else this.registerOp(client, finish);
  }

  /** Called at the instant a client is told its commit succeeded (the seed runner's worst moment to crash). */
  onCommitted: (() => void) | undefined;

  private count(r: ClientReply | null): OpStatus {
    if (r === null) {
      this.h.unknown++;
      return 'unknown';
    }
    const s = outcome(r);
    if (s === 'ok') {
      this.h.committed++;
      this.onCommitted?.();
    }
    else if (!r.ok && r.code === 'aborted') this.h.aborted++;
    else if (!r.ok && r.code === 'unavailable') this.h.unavailable++;
    else if (s === 'unknown') this.h.unknown++;
    return s;
  }

  /**
   * Read the keys a transaction needs in order, then commit its writes. cb gets the
   * reads (key -> value) or the failing reply (status) when a read failed.
   */
  private runTx(
    peer: PeerId,
    tx: string,
    readKeys: string[],
    plan: (values: Map<string, Json>) => Array<[string, Json, boolean]> | null,
    cb: (status: OpStatus, values: Map<string, Json>, completeMs: number | null) => void,
  ): void {
    const values = new Map<string, Json>();
    const step = (i: number) => {
      if (i === readKeys.length) {
        const writes = plan(values);
        if (writes === null) {
          this.call(peer, { op: 'tx_abandon', tx }, () => {});
          cb('fail', values, this.sim.now);
          return;
        }
        this.call(peer, { op: 'tx_commit', tx, writes }, (r) => {
          const s = this.count(r);
          cb(s, values, s === 'unknown' ? null : this.sim.now);
        });
        return;
      }
      this.call(peer, { op: 'tx_read', tx, key: readKeys[i]! }, (r) => {
        if (r === null || !r.ok) {
          this.call(peer, { op: 'tx_abandon', tx }, () => {});
          if (r === null) this.h.unknown++;
          else this.h.unavailable++;
          // A read failed: nothing was committed.
          cb('fail', values, this.sim.now);
          return;
        }
        values.set(readKeys[i]!, r.found ? r.value : null);
        step(i + 1);
      });
    };
    step(0);
  }

  private listTxn(client: number, done: () => void): void {
    const peer = this.peer();
    if (peer === null) return done();
    const n = this.rng.int(1, 3);
    const micro: MicroOp[] = [];
    for (let i = 0; i < n; i++) {
      const key = this.rng.pick(this.listKeys);
      if (this.rng.chance(0.5)) micro.push(['append', key, this.nextValue++]);
      else micro.push(['r', key, null]);
    }
    const keys = [...new Set(micro.map((m) => m[1]))];
    const tx = `l${client}-${this.txCounter++}`;
    const invokeMs = this.sim.now;
    this.runTx(
      peer,
      tx,
      keys,
      (values) => {
        // Apply the micro-ops to local copies: appends extend the list, reads see the transaction's own appends.
        const lists = new Map<string, Json[]>();
        for (const k of keys) lists.set(k, Array.isArray(values.get(k)) ? [...(values.get(k) as Json[])] : []);
        const writes = new Map<string, Json[]>();
        for (const m of micro) {
          if (m[0] === 'append') {
            lists.get(m[1])!.push(m[2]);
            writes.set(m[1], lists.get(m[1])!);
          } else {
            const cur = lists.get(m[1])!;
            m[2] = cur.length === 0 && !values.get(m[1]) ? null : [...cur];
          }
        }
        return [...writes].map(([k, l]) => [k, [...l], true]);
      },
      (status, _values, completeMs) => {
        this.h.txns.push({ id: tx, process: client, ops: micro, invokeMs, completeMs, status });
        done();
      },
    );
  }

  private bankOp(client: number, done: () => void): void {
    const peer = this.peer();
    if (peer === null) return done();
    const tx = `b${client}-${this.txCounter++}`;
    if (this.rng.chance(0.3)) {
      // Read every account in one transaction.
      this.runTx(
        peer,
        tx,
        this.accounts,
        () => [],
        (status, values) => {
          const balances: Record<string, number> = {};
          for (const a of this.accounts) balances[a] = (values.get(a) as number | null) ?? 0;
          this.h.bank.push({ id: tx, balances, status });
          done();
        },
      );
      return;
    }
    const from = this.rng.pick(this.accounts);
    let to = this.rng.pick(this.accounts);
    if (to === from) to = this.accounts[(this.accounts.indexOf(from) + 1) % this.accounts.length]!;
    const amount = this.rng.int(1, 20);
    this.runTx(
      peer,
      tx,
      [from, to],
      (values) => {
        const a = (values.get(from) as number | null) ?? 0;
        const b = (values.get(to) as number | null) ?? 0;
        if (a < amount) return null;
        return [
          [from, a - amount, true],
          [to, b + amount, true],
        ];
      },
      () => done(),
    );
  }

  private registerOp(client: number, done: () => void): void {
    const peer = this.peer();
    if (peer === null) return done();
    const key = this.rng.pick(this.registerKeys);
    const invokeMs = this.sim.now;
    const roll = this.rng.next();
    if (roll < 0.45) {
      this.call(peer, { op: 'read', key }, (r) => {
        const status = r === null ? 'unknown' : outcome(r);
        if (status === 'ok') this.h.registers.push({ process: client, key, kind: 'read', output: r!.ok ? r!.value : null, invokeMs, completeMs: this.sim.now, status });
        // Failed or unknown reads constrain nothing; they are left out of the history.
        done();
      });
      return;
    }
    const tx = `r${client}-${this.txCounter++}`;
    if (roll < 0.85) {
      const value = this.nextValue++;
      this.call(peer, { op: 'tx_commit', tx, writes: [[key, value, true]] }, (r) => {
        const status = this.count(r);
        this.h.registers.push({ process: client, key, kind: 'write', value, invokeMs, completeMs: status === 'unknown' ? null : this.sim.now, status });
        done();
      });
      return;
    }
    // Compare-and-set: read, then write only if unchanged (the transaction validates the read).
    this.call(peer, { op: 'tx_read', tx, key }, (r) => {
      if (r === null || !r.ok) {
        if (r === null) this.h.unknown++;
        return done();
      }
      const expected = r.found ? r.value : null;
      const value = this.nextValue++;
      this.call(peer, { op: 'tx_commit', tx, writes: [[key, value, true]] }, (c) => {
        const status = this.count(c);
        this.h.registers.push({ process: client, key, kind: 'cas', expected, value, invokeMs, completeMs: status === 'unknown' ? null : this.sim.now, status });
        done();
      });
    });
  }

  stop(): void {
    this.running = false;
  }

  /** Final quiescent reads of every key (retried until a quorum answers or the budget runs out). */
  finalReads(cb: (values: Map<string, { found: boolean; value: Json } | null>) => void, budgetMs = 60_000): void {
    const keys = this.keys();
    const out = new Map<string, { found: boolean; value: Json } | null>();
    const deadline = this.sim.now + budgetMs;
    let left = keys.length;
    const one = (key: string) => {
      const peer = this.peer();
      if (peer === null) return;
      const invokeMs = this.sim.now;
      this.call(peer, { op: 'read', key }, (r) => {
        if (r?.ok) {
          out.set(key, { found: r.found ?? false, value: r.value });
          if (this.registerKeys.includes(key)) this.h.registers.push({ process: -1, key, kind: 'read', output: r.value, invokeMs, completeMs: this.sim.now, status: 'ok' });
          if (--left === 0) cb(out);
        } else if (this.sim.now < deadline) this.sim.schedule(this.sim.now + 500, () => one(key));
        else {
          out.set(key, null);
          if (--left === 0) cb(out);
        }
      });
    };
    for (const k of keys) one(k);
    if (keys.length === 0) cb(out);
  }
}
