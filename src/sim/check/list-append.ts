/**
 * Elle-style checker for list-append transactions (Kingsbury & Alvaro, "Elle: Inferring
 * Isolation Anomalies from Experimental Observations", VLDB 2020), target: strict
 * serializability.
 *
 * Why list-append: every append is unique and a read returns the whole list, so a read
 * reveals the order of every version it contains. From that the checker recovers a
 * version order per key, then the dependency graph between transactions (Adya):
 *   ww  T1 -> T2: T2 appended the element right after T1's in the key's version order;
 *   wr  T1 -> T2: T2 read a list whose last element T1 appended;
 *   rw  T1 -> T2: T1 read a list, and the next element in the version order is T2's;
 *   realtime T1 -> T2: T1 completed before T2 was invoked (strict serializability).
 * A cycle is an anomaly: G0 (ww only), G1c (ww+wr), G-single (exactly one rw), G2 (rw
 * edges, none of which alone closes a cycle), and "-realtime" variants for cycles that
 * exist only thanks to realtime edges. Non-cycle anomalies are found directly: G1a,
 * G1b, internal, duplicate-elements, incompatible-order, garbage-read, lost-append.
 *
 * Conventions:
 * - Appended values must be unique per key (the workload guarantees it); a duplicate
 *   append makes the inference meaningless, so it throws.
 * - Reads of ok transactions count; reads of fail/unknown ones are ignored. A read of
 *   null means the key is absent: the empty list.
 * - Graph nodes: ok transactions, plus unknown ones some ok read observed (an observed
 *   append means they committed). An unknown transaction completes at +infinity.
 * - Equal timestamps are concurrent: realtime edges need completeMs < invokeMs.
 */
import type { Json, TxnOp } from './history.ts';
import { canonicalJson } from './json.ts';
import { RT, RW, TypedGraph, WR, WW, edge_type_names } from './graph.ts';

export interface ListAppendAnomaly {
  type: string;
  txns: string[];
  explanation: string;
}

export interface ListAppendResult {
  ok: boolean;
  anomalies: ListAppendAnomaly[];
  /** Anomalies found but not listed, per type (see anomalies_per_type_max). */
  omitted?: Record<string, number>;
}

export interface ListAppendOptions {
  /** Check realtime order (strict serializability). Default true; false = serializability. */
  realtime?: boolean;
  /** Anomalies listed per type; the rest are only counted in `omitted`. */
  anomalies_per_type_max?: number;
  /**
   * Edge visits per strongly connected component when looking for a G-single cycle
   * (one breadth-first search per rw edge). When spent, the component is reported as G2
   * with a note: still a failure, only the name may be less precise.
   */
  cycle_search_edge_visits_max?: number;
}

export const anomalies_per_type_max_default = 8;
export const cycle_search_edge_visits_max_default = 2_000_000;
/**
 * rw edges inferred per key from reads to appends no read observed (see below): dropping
 * some only loses detections, never adds false ones, and it bounds a pathological history.
 */
const inferred_edges_per_key_max = 100_000;
/** Elements shown at the end of a long list in explanations. */
const shown_elements_max = 6;

/**
 * An element's identity: the number itself for numbers (the usual case: no allocation),
 * else its canonical JSON text (a string element becomes quoted text, so it cannot collide
 * with a number or with another kind of value).
 */
type Elem = number | string;

function elemOf(value: Json): Elem {
  return typeof value === 'number' ? value : canonicalJson(value);
}

/** A read's elements as identities; a list of numbers is used as is. */
function elemsOf(value: Json[]): readonly Elem[] {
  for (const e of value) if (typeof e !== 'number') return value.map(elemOf);
  return value as number[];
}

interface Txn {
  op: TxnOp;
  /** Graph node, or -1 when the transaction is not in the graph. */
  node: number;
  /** Some ok read contains one of its appends. */
  observed: boolean;
  /** key -> elements this transaction appended, in order. */
  appends: Map<string, Elem[]>;
}

interface Read {
  txn: number;
  key: string;
  elems: readonly Elem[];
  /** First read of the key in its transaction, before any append to it there. */
  external: boolean;
  /** A prefix of the key's inferred version order. */
  compatible: boolean;
}

interface Writer {
  txn: number;
  /** Index among the transaction's appends to the key. */
  pos: number;
  /** Whether this is the transaction's last append to the key. */
  last: boolean;
}

function showList(elems: readonly Elem[]): string {
  if (elems.length <= shown_elements_max) return `[${elems.join(',')}]`;
  return `[...${elems.length - shown_elements_max} more,${elems.slice(-shown_elements_max).join(',')}]`;
}

function isPrefix(a: readonly Elem[], b: readonly Elem[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `read` equals base ++ extra. */
function equalsConcat(read: readonly Elem[], base: readonly Elem[], extra: readonly Elem[]): boolean {
  if (read.length !== base.length + extra.length) return false;
  for (let i = 0; i < base.length; i++) if (read[i] !== base[i]) return false;
  for (let i = 0; i < extra.length; i++) if (read[base.length + i] !== extra[i]) return false;
  return true;
}

function endsWith(a: readonly Elem[], suffix: readonly Elem[]): boolean {
  if (suffix.length > a.length) return false;
  const off = a.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (a[off + i] !== suffix[i]) return false;
  return true;
}

/** The first element occurring twice, or undefined. */
function firstDuplicate(elems: readonly Elem[]): Elem | undefined {
  const seen = new Set<Elem>();
  for (const e of elems) {
    if (seen.has(e)) return e;
    seen.add(e);
  }
  return undefined;
}

export function checkListAppend(history: TxnOp[], options: ListAppendOptions = {}): ListAppendResult {
  const per_type_max = options.anomalies_per_type_max ?? anomalies_per_type_max_default;
  const visits_max = options.cycle_search_edge_visits_max ?? cycle_search_edge_visits_max_default;
  const anomalies: ListAppendAnomaly[] = [];
  const counts = new Map<string, number>();
  const report = (type: string, txns: string[], explanation: string): void => {
    const c = (counts.get(type) ?? 0) + 1;
    counts.set(type, c);
    if (c <= per_type_max) anomalies.push({ type, txns, explanation });
  };

  // --- Index transactions and appends -------------------------------------------------
  const txns: Txn[] = [];
  const ids = new Set<string>();
  const writers = new Map<string, Map<Elem, Writer>>(); // key -> element -> writer
  for (const op of history) {
    if (ids.has(op.id)) throw new Error(`malformed history: duplicate transaction id ${op.id}`);
    ids.add(op.id);
    if (op.status !== 'unknown' && op.completeMs !== null && op.completeMs < op.invokeMs) {
      throw new Error(`malformed history: ${op.id} completes before it is invoked`);
    }
    const t: Txn = { op, node: -1, observed: false, appends: new Map() };
    const index = txns.length;
    txns.push(t);
    for (const mop of op.ops) {
      if (mop[0] !== 'append') continue;
      const key = mop[1];
      const elem = elemOf(mop[2]);
      let w = writers.get(key);
      if (w === undefined) {
        w = new Map();
        writers.set(key, w);
      }
      const prior = w.get(elem);
      if (prior !== undefined) {
        throw new Error(
          `malformed history: ${elem} appended to ${JSON.stringify(key)} twice (${txns[prior.txn].op.id}, ${op.id}); ` +
            'list-append needs unique elements per key',
        );
      }
      let mine = t.appends.get(key);
      if (mine === undefined) {
        mine = [];
        t.appends.set(key, mine);
      } else {
        w.get(mine[mine.length - 1])!.last = false;
      }
      w.set(elem, { txn: index, pos: mine.length, last: true });
      mine.push(elem);
    }
  }
  const writerOf = (key: string, elem: Elem): Writer | undefined => writers.get(key)?.get(elem);
  const name = (i: number): string => txns[i].op.id;

  // --- Reads of ok transactions; internal consistency ----------------------------------
  const reads: Read[] = [];
  txns.forEach((t, ti) => {
    if (t.op.status !== 'ok') return;
    // Per key: the list this transaction knows (its last read of the key, plus its appends
    // since) or, before any read, just its own appends, which a later read must end with.
    const known = new Map<string, { base: readonly Elem[] | null; extra: Elem[] }>();
    for (const mop of t.op.ops) {
      const key = mop[1];
      let k = known.get(key);
      if (mop[0] === 'append') {
        if (k === undefined) {
          k = { base: null, extra: [] };
          known.set(key, k);
        }
        k.extra.push(elemOf(mop[2]));
        continue;
      }
      const elems = elemsOf(mop[2] ?? []);
      reads.push({ txn: ti, key, elems, external: k === undefined, compatible: true });
      if (k !== undefined && k.base !== null && !equalsConcat(elems, k.base, k.extra)) {
        report(
          'internal',
          [t.op.id],
          `${t.op.id} read ${JSON.stringify(key)} = ${showList(elems)}, but its own earlier reads and appends ` +
            `imply ${showList([...k.base, ...k.extra])}`,
        );
      } else if (k !== undefined && k.base === null && !endsWith(elems, k.extra)) {
        report(
          'internal',
          [t.op.id],
          `${t.op.id} appended ${showList(k.extra)} to ${JSON.stringify(key)} but then read ${showList(elems)}, ` +
            'which does not end with those appends',
        );
      } else if (k === undefined && t.appends.has(key)) {
        const own = elems.find((e) => writerOf(key, e)?.txn === ti);
        if (own !== undefined) {
          report(
            'internal',
            [t.op.id],
            `${t.op.id} read ${JSON.stringify(key)} = ${showList(elems)}, containing its own append ${own} ` +
              'before it made that append',
          );
        }
      }
      known.set(key, { base: elems, extra: [] });
    }
  });

  // --- Version order per key: the longest read; every read must be a prefix of it ------
  const readsByKey = new Map<string, Read[]>();
  for (const r of reads) {
    let list = readsByKey.get(r.key);
    if (list === undefined) {
      list = [];
      readsByKey.set(r.key, list);
    }
    list.push(r);
  }
  const orders = new Map<string, readonly Elem[]>();
  /** Per key, the reads whose elements must be examined one by one: the longest and the incompatible ones. */
  const distinctReads = new Map<string, Read[]>();
  for (const [key, list] of readsByKey) {
    let longest = list[0];
    for (const r of list) if (r.elems.length > longest.elems.length) longest = r;
    const order = longest.elems;
    orders.set(key, order);
    const distinct = [longest];
    for (const r of list) {
      if (isPrefix(r.elems, order)) continue;
      r.compatible = false;
      distinct.push(r);
      report(
        'incompatible-order',
        [name(r.txn), name(longest.txn)],
        `${name(r.txn)} read ${JSON.stringify(key)} = ${showList(r.elems)} and ${name(longest.txn)} read ` +
          `${showList(order)}: the first is not a prefix of the second, so no single order of appends explains both`,
      );
    }
    distinctReads.set(key, distinct);
  }

  // --- Element checks. A compatible read is a prefix of the longest, so its elements are
  // checked once, on the longest read (naming the first read that holds the element), and
  // incompatible reads on their own: linear in the history, not in total read length.
  const seenElems = new Map<string, Set<Elem>>();
  for (const [key, distinct] of distinctReads) {
    const seen = new Set<Elem>();
    seenElems.set(key, seen);
    const compatibleReads = readsByKey.get(key)!.filter((r) => r.compatible);
    for (const r of distinct) {
      const dup = firstDuplicate(r.elems);
      if (dup !== undefined) {
        report(
          'duplicate-elements',
          [name(r.txn)],
          `${name(r.txn)} read ${JSON.stringify(key)} = ${showList(r.elems)}, which contains ${dup} more than once`,
        );
      }
      r.elems.forEach((e, index) => {
        // A transaction's appends to a key are installed together and in its order: each of
        // its later appends must directly follow its previous one.
        const wr = writerOf(key, e);
        if (wr !== undefined && wr.pos > 0) {
          const before = txns[wr.txn].appends.get(key)![wr.pos - 1];
          if (index === 0 || r.elems[index - 1] !== before) {
            report(
              'incompatible-order',
              [name(wr.txn), name(r.txn)],
              `${name(r.txn)} read ${JSON.stringify(key)} = ${showList(r.elems)}, where ${e} is not directly ` +
                `preceded by ${before}, although ${name(wr.txn)} appended ${before} then ${e}`,
            );
          }
        }
        if (seen.has(e)) return;
        seen.add(e);
        const w = writerOf(key, e);
        if (w !== undefined && txns[w.txn].op.status !== 'fail') {
          txns[w.txn].observed = true;
          return;
        }
        // Name the first read holding the element (for the longest read: any compatible read long enough).
        const reader = r.compatible ? (compatibleReads.find((c) => c.elems.length > index) ?? r) : r;
        if (w === undefined) {
          report(
            'garbage-read',
            [name(reader.txn)],
            `${name(reader.txn)} read ${JSON.stringify(key)} = ${showList(reader.elems)}, containing ${e}, ` +
              'which no transaction appended',
          );
        } else {
          report(
            'G1a',
            [name(w.txn), name(reader.txn)],
            `${name(reader.txn)} read ${JSON.stringify(key)} = ${showList(reader.elems)}, containing ${e}, ` +
              `appended by ${name(w.txn)}, which failed (aborted read)`,
          );
        }
      });
    }
  }

  // G1b: a read ending in an append its writer followed with another append to that key.
  const g1bSeen = new Set<string>();
  for (const r of reads) {
    if (r.elems.length === 0) continue;
    const last = r.elems[r.elems.length - 1];
    const w = writerOf(r.key, last);
    if (w === undefined || w.last || w.txn === r.txn || txns[w.txn].op.status === 'fail') continue;
    const tag = `${r.txn}|${r.key}|${last}`;
    if (g1bSeen.has(tag)) continue;
    g1bSeen.add(tag);
    const finalElem = txns[w.txn].appends.get(r.key)!.at(-1)!;
    report(
      'G1b',
      [name(w.txn), name(r.txn)],
      `${name(r.txn)} read ${JSON.stringify(r.key)} = ${showList(r.elems)}, ending in ${last}, an intermediate ` +
        `append of ${name(w.txn)}, whose final append to ${JSON.stringify(r.key)} is ${finalElem} (intermediate read)`,
    );
  }

  // --- Lost appends: acknowledged, never read, although a read began after it completed -
  const latestRead = new Map<string, number>(); // key -> txn index of the latest-invoked read
  for (const r of reads) {
    const cur = latestRead.get(r.key);
    if (cur === undefined || txns[r.txn].op.invokeMs > txns[cur].op.invokeMs) latestRead.set(r.key, r.txn);
  }
  txns.forEach((t, ti) => {
    if (t.op.status !== 'ok' || t.op.completeMs === null) return;
    for (const [key, elems] of t.appends) {
      const reader = latestRead.get(key);
      if (reader === undefined || !(txns[reader].op.invokeMs > t.op.completeMs)) continue;
      const seen = seenElems.get(key)!;
      const lost = elems.filter((e) => !seen.has(e));
      if (lost.length === 0) continue;
      report(
        'lost-append',
        [name(ti), name(reader)],
        `${name(ti)} appended ${showList(lost)} to ${JSON.stringify(key)} and completed at ${t.op.completeMs}, ` +
          `but no read ever saw it, although ${name(reader)} read ${JSON.stringify(key)} after being invoked ` +
          `at ${txns[reader].op.invokeMs}`,
      );
    }
  });

  // --- Dependency graph ----------------------------------------------------------------
  const nodes: number[] = []; // node -> txn index
  txns.forEach((t, ti) => {
    if (t.op.status === 'ok' || (t.op.status === 'unknown' && t.observed)) {
      t.node = nodes.length;
      nodes.push(ti);
    }
  });
  const graph = new TypedGraph(nodes.length);
  const reasons = new Map<string, string>();
  const addEdge = (a: number, b: number, type: number, why: () => string): void => {
    const na = txns[a].node;
    const nb = txns[b].node;
    if (na < 0 || nb < 0 || na === nb) return;
    if (graph.add(na, nb, type)) reasons.set(`${na},${nb},${type}`, why());
  };
  for (const [key, order] of orders) {
    for (let i = 0; i + 1 < order.length; i++) {
      const a = writerOf(key, order[i]);
      const b = writerOf(key, order[i + 1]);
      if (a === undefined || b === undefined) continue;
      addEdge(
        a.txn,
        b.txn,
        WW,
        () => `${name(b.txn)} appended ${order[i + 1]} to ${JSON.stringify(key)} right after ${name(a.txn)}'s ${order[i]}`,
      );
    }
  }
  for (const r of reads) {
    if (!r.external || !r.compatible) continue;
    const order = orders.get(r.key)!;
    const last = r.elems.at(-1);
    if (last !== undefined) {
      const w = writerOf(r.key, last);
      if (w !== undefined) {
        addEdge(
          w.txn,
          r.txn,
          WR,
          () => `${name(r.txn)} read ${JSON.stringify(r.key)} = ${showList(r.elems)}, whose last element ${name(w.txn)} appended`,
        );
      }
    }
    if (r.elems.length < order.length) {
      const nextElem = order[r.elems.length];
      const w = writerOf(r.key, nextElem);
      if (w !== undefined) {
        addEdge(
          r.txn,
          w.txn,
          RW,
          () =>
            `${name(r.txn)} read ${JSON.stringify(r.key)} = ${showList(r.elems)}, which misses ${nextElem}, ` +
            `the next append, made by ${name(w.txn)}`,
        );
      }
    }
  }
  // Committed appends no read observed: they still come after every element of the longest
  // read L in the version order (L was the list at some instant and did not hold them). So
  // writer(last of L) -ww-> their writer, and every read as long as L -rw-> their writer
  // (shorter reads reach them through the ww chain). This catches e.g. write skew between
  // two transactions whose appends nobody read.
  for (const [key, w] of writers) {
    const order = orders.get(key);
    if (order === undefined) continue; // no read of the key: nothing to relate to
    const seen = seenElems.get(key)!;
    const lastWriter = order.length > 0 ? writerOf(key, order[order.length - 1]) : undefined;
    const fullReads = (readsByKey.get(key) ?? []).filter((r) => r.external && r.compatible && r.elems.length === order.length);
    let budget = inferred_edges_per_key_max;
    for (const [elem, writer] of w) {
      if (seen.has(elem) || txns[writer.txn].node < 0) continue;
      if (lastWriter !== undefined) {
        addEdge(
          lastWriter.txn,
          writer.txn,
          WW,
          () =>
            `${name(writer.txn)} appended ${elem} to ${JSON.stringify(key)}, never read, so after ${order.at(-1)} ` +
            `(${name(lastWriter.txn)}), the last element any read saw`,
        );
      }
      for (const r of fullReads) {
        if (--budget < 0) break;
        addEdge(
          r.txn,
          writer.txn,
          RW,
          () => `${name(r.txn)} read ${JSON.stringify(key)} = ${showList(r.elems)}, which misses ${elem}, appended by ${name(writer.txn)}`,
        );
      }
    }
  }
  if (options.realtime !== false) addRealtimeEdges(txns, nodes, graph, reasons);

  findCycles(graph, nodes, txns, reasons, options.realtime !== false, visits_max, report);

  const omitted: Record<string, number> = {};
  let anyOmitted = false;
  for (const [type, c] of counts) {
    if (c > per_type_max) {
      omitted[type] = c - per_type_max;
      anyOmitted = true;
    }
  }
  return anyOmitted ? { ok: counts.size === 0, anomalies, omitted } : { ok: counts.size === 0, anomalies };
}

/**
 * Realtime edges, transitively reduced (Elle's construction). Sweep events in time order
 * keeping the frontier: completed transactions with no completed realtime successor yet.
 * An invocation gets an edge from every frontier member; a completion removes from the
 * frontier the members its own invocation saw (they now reach later transactions through
 * it) and joins the frontier. Every pair a.complete < b.invoke is then connected by a path,
 * and the edge count is about (transactions x concurrency), not n^2.
 */
function addRealtimeEdges(txns: Txn[], nodes: number[], graph: TypedGraph, reasons: Map<string, string>): void {
  const events: Array<{ time: number; invoke: boolean; node: number }> = [];
  nodes.forEach((ti, node) => {
    const op = txns[ti].op;
    events.push({ time: op.invokeMs, invoke: true, node });
    // An unknown transaction may commit at any later time: it completes at +infinity.
    if (op.status === 'ok' && op.completeMs !== null) events.push({ time: op.completeMs, invoke: false, node });
  });
  // Invocations before completions at the same instant: equal times are concurrent.
  events.sort((a, b) => a.time - b.time || (a.invoke === b.invoke ? a.node - b.node : a.invoke ? -1 : 1));
  const frontier = new Set<number>();
  const seenAtInvoke = new Map<number, number[]>();
  for (const e of events) {
    if (e.invoke) {
      const preds = [...frontier];
      seenAtInvoke.set(e.node, preds);
      for (const p of preds) {
        if (graph.add(p, e.node, RT)) {
          const a = txns[nodes[p]].op;
          const b = txns[nodes[e.node]].op;
          reasons.set(`${p},${e.node},${RT}`, `${a.id} completed at ${a.completeMs} before ${b.id} was invoked at ${b.invokeMs}`);
        }
      }
    } else {
      for (const p of seenAtInvoke.get(e.node) ?? []) frontier.delete(p);
      frontier.add(e.node);
    }
  }
}

type Report = (type: string, txns: string[], explanation: string) => void;

/** Preferred type when an edge pair carries several allowed types: fewest rw, no realtime if possible. */
function pickType(mask: number): number {
  for (const t of [WW, WR, RT, RW]) if (mask & t) return t;
  return 0;
}

function findCycles(
  graph: TypedGraph,
  nodes: number[],
  txns: Txn[],
  reasons: Map<string, string>,
  realtime: boolean,
  visits_max: number,
  report: Report,
): void {
  const describe = (type: string, cycle: number[], closing: number, allowed: number, note = ''): void => {
    // cycle = [v, ..., u]: a path v ~> u plus the closing edge u -> v of type `closing`.
    const steps: string[] = [];
    const names = cycle.map((x) => txns[nodes[x]].op.id);
    for (let i = 0; i < cycle.length; i++) {
      const a = cycle[i];
      const b = cycle[(i + 1) % cycle.length];
      const t = i === cycle.length - 1 ? closing : pickType(graph.mask(a, b) & allowed);
      steps.push(`${names[i]} -${edge_type_names[t]}-> ${names[(i + 1) % cycle.length]}: ${reasons.get(`${a},${b},${t}`) ?? ''}`);
    }
    report(type, names, `${type} cycle ${names.join(' -> ')} -> ${names[0]}${note}. ${steps.join('; ')}`);
  };

  /** In component c, a cycle whose closing edge has type `required` and whose path uses `pathAllowed`. */
  const cycleThrough = (
    comp: Int32Array,
    c: number,
    members: number[],
    required: number,
    pathAllowed: number,
    budget: { left: number },
  ): { cycle: number[]; closing: number } | null | 'spent' => {
    for (const u of members) {
      for (const [v, mask] of graph.successors(u)) {
        if ((mask & required) === 0 || comp[v] !== c) continue;
        const p = graph.path(v, u, pathAllowed, comp, c, budget);
        if (p !== null) return { cycle: p, closing: required };
        if (budget.left < 0) return 'spent';
      }
    }
    return null;
  };
  const unlimited = (): { left: number } => ({ left: Number.MAX_SAFE_INTEGER });

  // G0: cycles of ww edges.
  {
    const { components, comp } = graph.sccs(WW);
    components.forEach((members, c) => {
      const found = cycleThrough(comp, c, members, WW, WW, unlimited());
      if (found && found !== 'spent') describe('G0', found.cycle, found.closing, WW);
    });
  }
  // G1c: cycles of ww/wr edges with at least one wr.
  {
    const { components, comp } = graph.sccs(WW | WR);
    components.forEach((members, c) => {
      const found = cycleThrough(comp, c, members, WR, WW | WR, unlimited());
      if (found && found !== 'spent') describe('G1c', found.cycle, found.closing, WW | WR);
    });
  }
  // G-single (one rw edge closed by a ww/wr path), else G2.
  const base = graph.sccs(WW | WR | RW);
  base.components.forEach((members, c) => {
    const budget = { left: visits_max };
    const single = cycleThrough(base.comp, c, members, RW, WW | WR, budget);
    if (single && single !== 'spent') {
      describe('G-single', single.cycle, single.closing, WW | WR | RW);
      return;
    }
    const any = cycleThrough(base.comp, c, members, RW, WW | WR | RW, unlimited());
    const note = single === 'spent' ? ' (G-single search gave up: cycle_search_edge_visits_max)' : '';
    if (any && any !== 'spent') describe('G2', any.cycle, any.closing, WW | WR | RW, note);
  });
  if (!realtime) return;

  // Realtime variants, only where no cycle exists without realtime edges: a component of
  // the full graph holding any node of a non-realtime cycle is already explained.
  const full = graph.sccs(WW | WR | RW | RT);
  const tainted = new Uint8Array(full.components.length);
  for (let v = 0; v < graph.size; v++) if (base.comp[v] >= 0 && full.comp[v] >= 0) tainted[full.comp[v]] = 1;
  const clean = (members: number[]): boolean => !tainted[full.comp[members[0]]];
  {
    const { components, comp } = graph.sccs(WW | RT);
    components.forEach((members, c) => {
      if (!clean(members)) return;
      const found = cycleThrough(comp, c, members, RT, WW | RT, unlimited());
      if (found && found !== 'spent') describe('G0-realtime', found.cycle, found.closing, WW | RT);
    });
  }
  {
    const { components, comp } = graph.sccs(WW | WR | RT);
    components.forEach((members, c) => {
      if (!clean(members)) return;
      const found = cycleThrough(comp, c, members, WR, WW | WR | RT, unlimited());
      if (found && found !== 'spent') describe('G1c-realtime', found.cycle, found.closing, WW | WR | RT);
    });
  }
  full.components.forEach((members, c) => {
    if (!clean(members)) return;
    const budget = { left: visits_max };
    const single = cycleThrough(full.comp, c, members, RW, WW | WR | RT, budget);
    if (single && single !== 'spent') {
      describe('G-single-realtime', single.cycle, single.closing, WW | WR | RW | RT);
      return;
    }
    const any = cycleThrough(full.comp, c, members, RW, WW | WR | RW | RT, unlimited());
    const note = single === 'spent' ? ' (G-single search gave up: cycle_search_edge_visits_max)' : '';
    if (any && any !== 'spent') describe('G2-realtime', any.cycle, any.closing, WW | WR | RW | RT, note);
  });
}
