/**
 * Per-key linearizability of register operations.
 *
 * Algorithm: Wing & Gong's search with Lowe's memoization, in the form Porcupine
 * (anishathalye/porcupine) uses. Call and return events are sorted by time into a linked
 * list; the search repeatedly tries to linearize a pending call (apply it to the model and
 * remove its call and return from the list), and backtracks when it meets a return event
 * whose operation has not been linearized yet. A cache of (set of linearized ops, model
 * state) pairs prunes configurations already explored: the future of the search depends
 * only on that pair.
 *
 * Linearizability is compositional (Herlihy & Wing), so each key is checked on its own:
 * this is what keeps the search small.
 *
 * Reductions on top of plain Wing & Gong, each argued where it is implemented and each
 * keeping the verdict exact (a brute-force oracle in the tests holds them to it):
 * - unknown ops nobody could observe are dropped; an unknown op that is the only producer
 *   of an observed value gets the observer's completion as its deadline;
 * - an enabled read is linearized at once, with no alternative (a forced move);
 * - an unknown op must be followed directly by an op observing its result;
 * - interchangeable unknown ops are used in invocation order;
 * - a write whose value a later-invoked op still has to read is not linearized while
 *   another write must complete before that read starts;
 * - candidates are tried earliest-deadline first (a heuristic: order only).
 * High concurrency on one key can still exceed `search_steps_max`: that is reported as
 * `timedOut`, never as a pass.
 *
 * History conventions:
 * - status 'fail' ops definitely did not take effect: removed.
 * - status 'unknown' ops may or may not have taken effect and have completion +infinity.
 *   An unknown read constrains nothing and is removed. An unknown write/delete/cas stays
 *   and the search succeeds once every definite op is linearized (an unknown op left over
 *   is one that never took effect).
 * - Events at the same instant are treated as concurrent (calls sort before returns), so a
 *   coarse clock can only make the checker more permissive, never report a false violation.
 */
import type { RegisterOp } from './history.ts';
import { canonicalJson } from './json.ts';

/** Search iterations per key before giving up with `timedOut` (memory is bounded by it too). */
export const search_steps_max_default = 2_000_000;
/** Ops of the longest linearizable prefix shown in an explanation. */
const explanation_ops_max = 6;

export interface LinearizabilityOptions {
  /** Search iterations per key; when hit, the result is `{ ok: false, timedOut: true }`. */
  search_steps_max?: number;
}

export interface LinearizabilityResult {
  ok: boolean;
  /** The key that failed (or timed out). */
  key?: string;
  explanation?: string;
  /** The search hit `search_steps_max`: unknown whether the history is linearizable. */
  timedOut?: boolean;
}

/** One op, with its values in canonical form so model steps are string compares. */
interface Prepared {
  src: RegisterOp;
  kind: RegisterOp['kind'];
  /** State after a write/cas/delete. */
  next: string;
  /** cas: required current state; read: state it observed. */
  need: string;
  invoke: number;
  complete: number;
  definite: boolean;
}

const initial_state = 'null';

/** Applies `op` to `state`; undefined when the op cannot take effect in that state. */
function step(state: string, op: Prepared): string | undefined {
  switch (op.kind) {
    case 'read':
      return state === op.need ? state : undefined;
    case 'write':
    case 'delete':
      return op.next;
    case 'cas':
      return state === op.need ? op.next : undefined;
  }
}

export function describeRegisterOp(op: RegisterOp): string {
  let what: string;
  switch (op.kind) {
    case 'read':
      what = `read -> ${canonicalJson(op.output)}`;
      break;
    case 'write':
      what = `write ${canonicalJson(op.value)}`;
      break;
    case 'delete':
      what = 'delete';
      break;
    case 'cas':
      what = `cas ${canonicalJson(op.expected)} -> ${canonicalJson(op.value)}`;
      break;
  }
  const end = op.completeMs === null || op.status === 'unknown' ? 'inf' : String(op.completeMs);
  return `p${op.process} ${what} (${op.status}, ${op.invokeMs}..${end})`;
}

function prepare(ops: RegisterOp[]): Prepared[] {
  const kept: Prepared[] = [];
  for (const op of ops) {
    if (op.status === 'fail') continue;
    if (op.status === 'unknown' && op.kind === 'read') continue;
    const complete = op.status === 'unknown' || op.completeMs === null ? Infinity : op.completeMs;
    if (!(complete >= op.invokeMs)) {
      throw new Error(`malformed history: op completes before it is invoked: ${describeRegisterOp(op)}`);
    }
    kept.push({
      src: op,
      kind: op.kind,
      next: op.kind === 'delete' ? initial_state : canonicalJson(op.value),
      need: op.kind === 'read' ? canonicalJson(op.output) : canonicalJson(op.expected),
      invoke: op.invokeMs,
      complete,
      definite: op.status === 'ok',
    });
  }
  // An unknown write/delete/cas whose resulting state no read returns and no cas expects
  // can be dropped without changing the verdict: in any linearization containing it, the
  // next op touching the register overwrites it (nothing may observe it), so removing it
  // leaves a valid linearization. Dropping such ops keeps timeouts from blowing up the search
  // (each unknown op otherwise multiplies the configurations).
  const observed = new Set<string>();
  for (const p of kept) if (p.kind === 'read' || p.kind === 'cas') observed.add(p.need);
  const useful = kept.filter((p) => p.definite || observed.has(p.next));

  // An unknown op that is the only producer of its state s (s not the initial null), where
  // some acknowledged op observes s (a read of s, a cas expecting s), must have taken effect
  // before the earliest such observer completed: that observer is linearized and only this
  // op can have set s. So it becomes a definite op completing then. The constraint this adds
  // (precede everything invoked after that instant) is already implied through the observer,
  // so the verdict is unchanged, but the op stops being a candidate at every later step.
  const producers = new Map<string, number>();
  for (const p of useful) if (p.kind !== 'read') producers.set(p.next, (producers.get(p.next) ?? 0) + 1);
  const firstObserverEnd = new Map<string, number>();
  for (const p of useful) {
    if (!p.definite || (p.kind !== 'read' && p.kind !== 'cas')) continue;
    firstObserverEnd.set(p.need, Math.min(firstObserverEnd.get(p.need) ?? Infinity, p.complete));
  }
  for (const p of useful) {
    if (p.definite || p.next === initial_state || producers.get(p.next) !== 1) continue;
    const end = firstObserverEnd.get(p.next);
    if (end === undefined || end < p.invoke) continue; // observed before invoked: the search reports it
    p.complete = end;
    p.definite = true;
  }
  // Ops numbered in call order, so the set of linearized ops is mostly a prefix (see cacheKey).
  useful.sort((a, b) => a.invoke - b.invoke);
  return useful;
}

/**
 * Unknown ops with the same effect and no deadline are interchangeable: any linearization
 * using a later-invoked one can use the earliest-invoked unused one instead (it is already
 * invoked at that point, and neither has a return). So within such a group only the
 * earliest unused op is a candidate. Returns, per op, the previous op of its group or -1.
 */
function symmetryPredecessors(prepared: Prepared[]): Int32Array {
  const pred = new Int32Array(prepared.length).fill(-1);
  const lastOfGroup = new Map<string, number>();
  prepared.forEach((p, i) => {
    if (p.definite || p.complete !== Infinity || p.kind === 'read') return;
    const group = `${p.kind === 'cas' ? 'cas:' + p.need : 'set'}|${p.next}`;
    const prev = lastOfGroup.get(group);
    if (prev !== undefined) pred[i] = prev;
    lastOfGroup.set(group, i);
  });
  return pred;
}

type KeyResult = { ok: true } | { ok: false; timedOut: boolean; explanation: string };

/** Search steps spent re-running a failed check without pruning, for a clearer explanation. */
const explanation_steps_max = 200_000;

/** Checks one key's operations (all ops must be on the same key). */
export function checkKeyLinearizable(ops: RegisterOp[], options: LinearizabilityOptions = {}): KeyResult {
  const steps_max = options.search_steps_max ?? search_steps_max_default;
  const prepared = prepare(ops);
  const res = search(prepared, steps_max, true);
  if (res.ok || res.timedOut) return res;
  // The pruned search fails early, at the op whose deadline makes the conflict certain,
  // which is true but cryptic. The plain search runs to the op that actually cannot be
  // explained (e.g. the stale read): use its explanation when it finishes quickly.
  const plain = search(prepared, Math.min(steps_max, explanation_steps_max), false);
  return !plain.ok && plain.timedOut ? res : plain;
}

/**
 * The search alone, with or without the pruning rule, so tests can hold each against an
 * oracle. Not part of the checker API.
 * @internal
 */
export function searchKeyForTest(ops: RegisterOp[], prune: boolean, steps_max = search_steps_max_default): KeyResult {
  return search(prepare(ops), steps_max, prune);
}

function search(prepared: Prepared[], steps_max: number, prune: boolean): KeyResult {
  const n = prepared.length;
  const groupPrev = symmetryPredecessors(prepared);
  const definite_count = prepared.reduce((c, p) => c + (p.definite ? 1 : 0), 0);
  if (definite_count === 0) return { ok: true };

  // Events sorted by time; at equal times calls come first (concurrent), then by op number.
  const events: Array<{ time: number; call: boolean; op: number }> = [];
  prepared.forEach((p, i) => {
    events.push({ time: p.invoke, call: true, op: i });
    events.push({ time: p.complete, call: false, op: i });
  });
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1));

  // Doubly linked list over nodes 1..2n (node 0 is the head sentinel, -1 is "none").
  const size = 2 * n + 1;
  const next = new Int32Array(size);
  const prev = new Int32Array(size);
  const match = new Int32Array(size);
  const nodeOp = new Int32Array(size);
  const isCall = new Uint8Array(size);
  const callNode = new Int32Array(n);
  const returnNode = new Int32Array(n);
  for (let i = 0; i < events.length; i++) {
    const node = i + 1;
    const e = events[i];
    nodeOp[node] = e.op;
    isCall[node] = e.call ? 1 : 0;
    if (e.call) callNode[e.op] = node;
    else returnNode[e.op] = node;
    prev[node] = node - 1;
    next[node] = node + 1 < size ? node + 1 : -1;
  }
  next[0] = n > 0 ? 1 : -1;
  prev[0] = -1;
  for (let i = 0; i < n; i++) {
    match[callNode[i]] = returnNode[i];
  }

  const lift = (c: number): void => {
    next[prev[c]] = next[c];
    if (next[c] !== -1) prev[next[c]] = prev[c];
    const r = match[c];
    next[prev[r]] = next[r];
    if (next[r] !== -1) prev[next[r]] = prev[r];
  };
  const unlift = (c: number): void => {
    const r = match[c];
    next[prev[r]] = r;
    if (next[r] !== -1) prev[next[r]] = r;
    next[prev[c]] = c;
    if (next[c] !== -1) prev[next[c]] = c;
  };

  // The set of linearized ops: a bigint bitset plus `prefix`, the length of the run of
  // linearized ops starting at op 0. Since ops are numbered in call order, the set is
  // almost always "a prefix plus a few ops inside the concurrency window", so the memo key
  // is (prefix, the few bits above it): short strings instead of n-bit ones.
  const bits: bigint[] = prepared.map((_, i) => 1n << BigInt(i));
  const done = new Uint8Array(n);
  let linearized = 0n;
  let prefix = 0;
  const stateIds = new Map<string, number>();
  const stateId = (s: string): number => {
    let id = stateIds.get(s);
    if (id === undefined) {
      id = stateIds.size;
      stateIds.set(s, id);
    }
    return id;
  };
  // `restricted` (see candidates) changes what is explored from a configuration, so it is part of the key.
  const cacheKey = (set: bigint, pre: number, state: string, restricted: boolean): string =>
    `${pre}:${(set >> BigInt(pre)).toString(36)}:${stateId(state)}${restricted ? '!' : ''}`;
  const cache = new Set<string>();

  // Applied ops (the current partial linearization) and, per configuration on the path,
  // its ordered candidate list and how far it has been tried.
  const applied: Array<{ node: number; state: string; prefix: number }> = [];
  const frames: Array<{ cands: number[]; idx: number }> = [];
  let state = initial_state;
  let definite_done = 0;
  let best_count = -1;
  let best: { ops: number[]; states: string[]; stuck: number; state: string } | undefined;

  // An acknowledged op that never changes the state (a read, a cas expecting its own new
  // value) and is enabled now can be linearized now without loss of generality: in any
  // valid completion it can be moved to the front (every op that must precede it is already
  // linearized, since its call comes before the first pending return, and moving it
  // changes no state). So it is the only candidate of its configuration: reads never branch.
  const neutral = prepared.map((p) => p.definite && (p.kind === 'read' || (p.kind === 'cas' && p.need === p.next)));

  // Acknowledged ops observing each state (reads of it, cas expecting it), by completion.
  const observers = new Map<string, number[]>();
  prepared.forEach((p, i) => {
    if (!p.definite || (p.kind !== 'read' && p.kind !== 'cas')) return;
    let list = observers.get(p.need);
    if (list === undefined) {
      list = [];
      observers.set(p.need, list);
    }
    list.push(i);
  });
  for (const list of observers.values()) list.sort((a, b) => prepared[a].complete - prepared[b].complete);
  /** When op i is needed at the latest: its own return, or the return of the first pending op observing its result. */
  const deadline = (i: number): number => {
    // Optional (unknown) ops last: a correct history rarely needs them, and they are tried anyway.
    if (!prepared[i].definite) return Infinity;
    let d = prepared[i].complete;
    for (const o of observers.get(prepared[i].next) ?? []) {
      if (prepared[o].complete >= d) break;
      if (!done[o] && o !== i) {
        d = prepared[o].complete;
        break;
      }
    }
    return d;
  };

  // How many ops produce each state, and for each state, its observers by invocation.
  const producerCount = new Map<string, number>();
  for (const p of prepared) if (p.kind !== 'read') producerCount.set(p.next, (producerCount.get(p.next) ?? 0) + 1);
  const observersByInvoke = new Map<string, number[]>();
  for (const [v, list] of observers) observersByInvoke.set(v, [...list].sort((a, b) => prepared[b].invoke - prepared[a].invoke));
  /**
   * A sound prune (not a heuristic): op w is the only producer of state v (v not the
   * initial null). Once w is linearized, every pending acknowledged observer of v must
   * follow it before any other state change (nothing else can restore v), so every other
   * pending acknowledged state-changing op X must then come after the last of those
   * observers, i.e. after its invocation L. If some X completes before L, it must precede w:
   * linearizing w now is a dead end.
   */
  const blocked = (w: number): boolean => {
    const v = prepared[w].next;
    if (v === initial_state || producerCount.get(v) !== 1) return false;
    let latest = -Infinity;
    for (const o of observersByInvoke.get(v) ?? []) {
      if (!done[o] && o !== w) {
        latest = prepared[o].invoke;
        break;
      }
    }
    if (latest === -Infinity) return false;
    // Earliest return among pending acknowledged state-changing ops other than w. (A cas
    // expecting v counts too: it must follow w, and the late observer must precede it.)
    for (let e = next[0]; e !== -1; e = next[e]) {
      if (isCall[e]) continue;
      const x = prepared[nodeOp[e]];
      if (x.complete >= latest) return false;
      if (nodeOp[e] === w || !x.definite || neutral[nodeOp[e]]) continue;
      return true;
    }
    return false;
  };

  /**
   * Candidates of the current configuration: the pending calls before the first pending
   * return (Wing & Gong). Order is a heuristic only (every candidate is tried): earliest
   * deadline first, where a write is due by the time the first op reading its value
   * completes. That is the order of "clusters" (a write and its readers) in Gibbons &
   * Korach's register algorithm, so a correct history mostly goes straight to a witness.
   *
   * `restricted`: the last op linearized is optional (unknown). An optional op is only
   * worth having in a linearization if the next op observes its result (a read, or a cas
   * expecting it): if the next op overwrites the state, or nothing follows, removing the
   * optional op leaves a valid linearization. So after one, only observers are candidates.
   * Without this, every subset of the pending unknown ops gets explored.
   */
  const candidates = (restricted: boolean): { cands: number[]; stuck: number } => {
    const calls: number[] = [];
    let e = next[0];
    for (; e !== -1 && isCall[e]; e = next[e]) calls.push(e);
    const stuck = e === -1 ? -1 : nodeOp[e];
    const enabled: number[] = [];
    for (const c of calls) {
      const i = nodeOp[c];
      const g = groupPrev[i];
      if (g >= 0 && !done[g]) continue;
      if (restricted && prepared[i].kind !== 'read' && prepared[i].kind !== 'cas') continue;
      if (step(state, prepared[i]) === undefined) continue;
      if (neutral[i]) return { cands: [c], stuck };
      enabled.push(c);
    }
    const viable = prune ? enabled.filter((c) => !blocked(nodeOp[c])) : enabled;
    if (viable.length < 2) return { cands: viable, stuck };
    // The op with the earliest pending return, when it waits for a state the register does
    // not hold, needs a producer of that state first.
    const urgent = stuck >= 0 ? prepared[stuck] : undefined;
    const wanted = urgent !== undefined && (urgent.kind === 'read' || urgent.kind === 'cas') && urgent.need !== state ? urgent.need : undefined;
    const ranked = viable.map((c, k) => {
      const i = nodeOp[c];
      return { c, k, d: wanted !== undefined && prepared[i].next === wanted ? -Infinity : deadline(i) };
    });
    ranked.sort((a, b) => a.d - b.d || a.k - b.k);
    return { cands: ranked.map((x) => x.c), stuck };
  };

  const recordBest = (stuck: number): void => {
    if (applied.length <= best_count) return;
    best_count = applied.length;
    const ops_in_order = applied.map((s) => nodeOp[s.node]);
    const states = applied.slice(1).map((s) => s.state).concat([state]);
    best = { ops: ops_in_order, states, stuck, state };
  };

  let steps = 0;
  {
    const first = candidates(false);
    recordBest(first.stuck);
    frames.push({ cands: first.cands, idx: 0 });
  }
  for (;;) {
    if (++steps > steps_max) {
      return {
        ok: false,
        timedOut: true,
        explanation: `search gave up after ${steps_max} steps (search_steps_max) on ${n} ops; verdict unknown`,
      };
    }
    const frame = frames[frames.length - 1];
    if (frame.idx >= frame.cands.length) {
      // Every candidate failed (or a pending op's deadline passed): this configuration is
      // dead. Undo the op that led here and go on with its parent's next candidate.
      frames.pop();
      const top = applied.pop();
      if (top === undefined) return { ok: false, timedOut: false, explanation: explain(prepared, best) };
      const i = nodeOp[top.node];
      state = top.state;
      prefix = top.prefix;
      linearized &= ~bits[i];
      done[i] = 0;
      if (prepared[i].definite) definite_done--;
      unlift(top.node);
      continue;
    }
    const node = frame.cands[frame.idx++];
    const i = nodeOp[node];
    const after = step(state, prepared[i])!;
    const set = linearized | bits[i];
    let pre = prefix;
    if (i === pre) {
      pre++;
      while (pre < n && done[pre]) pre++;
    }
    const restricted = !prepared[i].definite;
    const key = cacheKey(set, pre, after, restricted);
    if (cache.has(key)) continue; // explored before, and failed
    cache.add(key);
    applied.push({ node, state, prefix });
    state = after;
    linearized = set;
    prefix = pre;
    done[i] = 1;
    if (prepared[i].definite) definite_done++;
    lift(node);
    if (definite_done === definite_count) return { ok: true };
    const c = candidates(restricted);
    recordBest(c.stuck);
    frames.push({ cands: c.cands, idx: 0 });
  }
}

function explain(
  prepared: Prepared[],
  best: { ops: number[]; states: string[]; stuck: number; state: string } | undefined,
): string {
  if (best === undefined) return 'no linearization exists';
  const definite = prepared.filter((p) => p.definite).length;
  const parts: string[] = [];
  parts.push(
    `no linearization exists. The longest linearizable prefix has ${best.ops.length} op(s) ` +
      `(${definite} acknowledged op(s) in the history)`,
  );
  if (best.ops.length > 0) {
    const from = Math.max(0, best.ops.length - explanation_ops_max);
    const shown = best.ops
      .slice(from)
      .map((op, k) => `${describeRegisterOp(prepared[op].src)} => ${best.states[from + k]}`);
    parts.push(`; it ends with: ${from > 0 ? '..., ' : ''}${shown.join(', ')}`);
  }
  parts.push(`. The register then holds ${best.state}`);
  if (best.stuck >= 0) {
    parts.push(
      `, and ${describeRegisterOp(prepared[best.stuck].src)} must take effect before it completes ` +
        `but no order of the remaining ops allows it`,
    );
  }
  return parts.join('') + '.';
}

/**
 * Checks every key of a register history. Keys are checked in sorted order; a definite
 * violation is reported in preference to a timed-out key.
 */
export function checkLinearizable(ops: RegisterOp[], options: LinearizabilityOptions = {}): LinearizabilityResult {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  let timedOut: LinearizabilityResult | undefined;
  for (const key of [...byKey.keys()].sort()) {
    const r = checkKeyLinearizable(byKey.get(key)!, options);
    if (r.ok) continue;
    if (!r.timedOut) return { ok: false, key, explanation: `key ${JSON.stringify(key)}: ${r.explanation}` };
    timedOut ??= { ok: false, timedOut: true, key, explanation: `key ${JSON.stringify(key)}: ${r.explanation}` };
  }
  return timedOut ?? { ok: true };
}
