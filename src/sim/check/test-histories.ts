/**
 * Test support (not part of the checker API): histories produced by running random
 * operations against a correct sequential model with random but consistent timing, so
 * every generated history is linearizable / strictly serializable by construction.
 * Each operation takes effect at one instant between its invocation and its completion;
 * some fail without effect, some time out (unknown) and may take effect later or never.
 * Deterministic from a seed (own PRNG: the checkers' tests must replay exactly).
 */
import type { Json } from '../../core/types.ts';
import type { MicroOp, RegisterOp, TxnOp } from './history.ts';
import { canonicalJson } from './json.ts';

/** mulberry32: tiny, fast, good enough for test generation. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
}

export interface SimShape {
  processes: number;
  keys: number;
  ops: number;
  /** Probability an op times out (unknown). */
  unknown_p: number;
  /** Probability a mutation fails without effect. */
  fail_p: number;
  /** Register op kinds to draw from (repeat one to weight it). */
  kinds?: ReadonlyArray<RegisterOp['kind']>;
}

interface Pending<T> {
  op: T;
  applied: boolean;
  /** Decided to fail without effect. */
  aborted: boolean;
}

/** Register history from a correct linearizable register per key. */
export function genRegisterHistory(seed: number, shape: SimShape): { history: RegisterOp[]; finals: Record<string, Json> } {
  const rng = new Rng(seed);
  const keys = Array.from({ length: shape.keys }, (_, i) => `k${i}`);
  const state = new Map<string, Json>(keys.map((k) => [k, null]));
  const past = new Map<string, Json[]>(keys.map((k) => [k, [null]]));
  const out: RegisterOp[] = [];
  const inflight = new Map<number, Pending<RegisterOp>>();
  const zombies: Pending<RegisterOp>[] = []; // timed out, not yet applied: may apply later
  let invoked = 0;
  let counter = 0;
  let t = 0;
  const apply = (p: Pending<RegisterOp>): void => {
    const op = p.op;
    const cur = state.get(op.key)!;
    p.applied = true;
    switch (op.kind) {
      case 'read':
        op.output = cur;
        break;
      case 'write':
        state.set(op.key, op.value!);
        past.get(op.key)!.push(op.value!);
        break;
      case 'delete':
        state.set(op.key, null);
        break;
      case 'cas':
        if (canonicalJson(cur) === canonicalJson(op.expected)) {
          state.set(op.key, op.value!);
          past.get(op.key)!.push(op.value!);
        } else {
          p.aborted = true; // a cas that found another value did not take effect: status fail
        }
        break;
    }
  };
  while (invoked < shape.ops || inflight.size > 0) {
    t += rng.int(0, 3);
    const idle = Array.from({ length: shape.processes }, (_, i) => i).filter((p) => !inflight.has(p));
    const actions: string[] = [];
    if (invoked < shape.ops && idle.length > 0) actions.push('invoke');
    if (inflight.size > 0) actions.push('step', 'step');
    if (zombies.length > 0) actions.push('zombie');
    const action = rng.pick(actions);
    if (action === 'invoke') {
      const process = rng.pick(idle);
      const key = rng.pick(keys);
      const kind = rng.pick(shape.kinds ?? (['read', 'read', 'write', 'write', 'cas', 'delete'] as const));
      const op: RegisterOp = { process, key, kind, invokeMs: t, completeMs: null, status: 'ok' };
      if (kind === 'write' || kind === 'cas') op.value = ++counter;
      if (kind === 'cas') op.expected = rng.chance(0.6) ? state.get(key)! : rng.pick(past.get(key)!);
      inflight.set(process, { op, applied: false, aborted: false });
      out.push(op);
      invoked++;
    } else if (action === 'zombie') {
      const i = rng.int(0, zombies.length - 1);
      const z = zombies[i];
      zombies.splice(i, 1);
      if (rng.chance(0.5)) apply(z);
    } else {
      const [process, p] = rng.pick([...inflight.entries()]);
      if (!p.applied && !p.aborted) {
        if (p.op.kind !== 'read' && rng.chance(shape.fail_p)) p.aborted = true;
        else apply(p);
        continue;
      }
      inflight.delete(process);
      if (rng.chance(shape.unknown_p)) {
        p.op.status = 'unknown';
        p.op.completeMs = null;
        if (p.op.kind === 'read') delete p.op.output;
        continue;
      }
      p.op.completeMs = t;
      p.op.status = p.aborted ? 'fail' : 'ok';
      if (p.op.kind === 'read' && p.aborted) delete p.op.output;
    }
    // Unknown ops in flight when timing out before applying become zombies.
    for (const [process, p] of inflight) {
      if (!p.applied && !p.aborted && rng.chance(shape.unknown_p / 4)) {
        inflight.delete(process);
        p.op.status = 'unknown';
        p.op.completeMs = null;
        if (p.op.kind !== 'read') zombies.push(p);
      }
    }
  }
  return { history: out, finals: Object.fromEntries(state) };
}

/** List-append transactions from a correct strictly serializable store. */
export function genTxnHistory(
  seed: number,
  shape: SimShape & { ops_per_txn_max: number },
): { history: TxnOp[]; finals: Record<string, Json[]> } {
  const rng = new Rng(seed);
  const keys = Array.from({ length: shape.keys }, (_, i) => `k${i}`);
  const lists = new Map<string, Json[]>(keys.map((k) => [k, []]));
  const out: TxnOp[] = [];
  const inflight = new Map<number, Pending<TxnOp>>();
  const zombies: Pending<TxnOp>[] = [];
  let invoked = 0;
  let counter = 0;
  let t = 0;
  const apply = (p: Pending<TxnOp>): void => {
    p.applied = true;
    for (const mop of p.op.ops) {
      const list = lists.get(mop[1])!;
      if (mop[0] === 'append') list.push(mop[2]);
      else mop[2] = list.length === 0 && rng.chance(0.5) ? null : [...list];
    }
  };
  while (invoked < shape.ops || inflight.size > 0) {
    t += rng.int(0, 3);
    const idle = Array.from({ length: shape.processes }, (_, i) => i).filter((p) => !inflight.has(p));
    const actions: string[] = [];
    if (invoked < shape.ops && idle.length > 0) actions.push('invoke');
    if (inflight.size > 0) actions.push('step', 'step');
    if (zombies.length > 0) actions.push('zombie');
    const action = rng.pick(actions);
    if (action === 'invoke') {
      const process = rng.pick(idle);
      const n = rng.int(1, shape.ops_per_txn_max);
      const ops: MicroOp[] = [];
      for (let i = 0; i < n; i++) {
        const key = rng.pick(keys);
        ops.push(rng.chance(0.5) ? ['append', key, ++counter] : ['r', key, null]);
      }
      const op: TxnOp = { id: `T${invoked}`, process, ops, invokeMs: t, completeMs: null, status: 'ok' };
      inflight.set(process, { op, applied: false, aborted: false });
      out.push(op);
      invoked++;
    } else if (action === 'zombie') {
      const i = rng.int(0, zombies.length - 1);
      const z = zombies[i];
      zombies.splice(i, 1);
      if (rng.chance(0.5)) apply(z);
    } else {
      const [process, p] = rng.pick([...inflight.entries()]);
      if (!p.applied && !p.aborted) {
        if (rng.chance(shape.fail_p)) p.aborted = true;
        else apply(p);
        continue;
      }
      inflight.delete(process);
      if (rng.chance(shape.unknown_p)) {
        p.op.status = 'unknown';
        continue;
      }
      p.op.completeMs = t;
      p.op.status = p.aborted ? 'fail' : 'ok';
    }
    for (const [process, p] of inflight) {
      if (!p.applied && !p.aborted && rng.chance(shape.unknown_p / 4)) {
        inflight.delete(process);
        p.op.status = 'unknown';
        zombies.push(p);
      }
    }
  }
  return { history: out, finals: Object.fromEntries([...lists].map(([k, v]) => [k, [...v]])) };
}

export function clone<T>(x: T): T {
  return structuredClone(x);
}
