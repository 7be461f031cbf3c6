/**
 * "No acknowledged write is lost", judged on a final quiescent read of every key (taken
 * after faults healed and every operation finished).
 *
 * Appends (list-append workload): every element appended by an ok transaction must be in
 * the final list of its key. An element of a failed transaction there is reported too
 * (it must not have taken effect).
 *
 * Registers: the final value must be the effect of some mutation (write, delete, cas) that
 * can be the last one to take effect. Sound form: a mutation M is "superseded" when an ok
 * mutation M' of the same key was invoked after M completed; M' took effect after M, so M
 * cannot be last. The candidates are then: every ok mutation not superseded, every unknown
 * mutation (it completes at +infinity, so nothing supersedes it), and the initial null when
 * no ok mutation exists. If the store is linearizable, the last mutation to take effect is
 * a candidate (any M' invoked after it completed and acknowledged would come later), so a
 * final value outside the candidates proves an acknowledged write was lost or overwritten
 * by something older. Failed mutations are never candidates. This is weaker than the full
 * linearizability check but needs no search and scales to any history.
 */
import type { Json, RegisterOp, TxnOp } from './history.ts';
import { canonicalJson, showJson } from './json.ts';

export type LostWritesAnomalyType = 'lost-append' | 'failed-append-visible' | 'lost-write' | 'missing-final-read';

export interface LostWritesAnomaly {
  type: LostWritesAnomalyType;
  key: string;
  /** Transactions or processes involved, when there are some. */
  txns: string[];
  explanation: string;
}

export interface LostWritesResult {
  ok: boolean;
  anomalies: LostWritesAnomaly[];
}

/** Final list per key: null or a missing element means the key is absent (empty list). */
export function checkLostAppends(history: TxnOp[], finalLists: Record<string, Json[] | null>): LostWritesResult {
  const anomalies: LostWritesAnomaly[] = [];
  const finals = new Map<string, Set<string>>();
  const finalOf = (key: string): Set<string> | undefined => {
    if (!Object.hasOwn(finalLists, key)) return undefined;
    let s = finals.get(key);
    if (s === undefined) {
      s = new Set((finalLists[key] ?? []).map((e) => canonicalJson(e)));
      finals.set(key, s);
    }
    return s;
  };
  const missingReported = new Set<string>();
  for (const txn of history) {
    if (txn.status === 'unknown') continue;
    for (const mop of txn.ops) {
      if (mop[0] !== 'append') continue;
      const [, key, value] = mop;
      const final = finalOf(key);
      if (final === undefined) {
        if (txn.status === 'ok' && !missingReported.has(key)) {
          missingReported.add(key);
          anomalies.push({
            type: 'missing-final-read',
            key,
            txns: [txn.id],
            explanation: `no final read of ${JSON.stringify(key)}, which ${txn.id} appended to`,
          });
        }
        continue;
      }
      const elem = canonicalJson(value);
      if (txn.status === 'ok' && !final.has(elem)) {
        anomalies.push({
          type: 'lost-append',
          key,
          txns: [txn.id],
          explanation: `${txn.id} appended ${showJson(value)} to ${JSON.stringify(key)} and was acknowledged, but the final read does not contain it`,
        });
      } else if (txn.status === 'fail' && final.has(elem)) {
        anomalies.push({
          type: 'failed-append-visible',
          key,
          txns: [txn.id],
          explanation: `${txn.id} failed, but its append of ${showJson(value)} to ${JSON.stringify(key)} is in the final read`,
        });
      }
    }
  }
  return { ok: anomalies.length === 0, anomalies };
}

/** Final value per key: null means absent. Keys never mutated must be null (or missing). */
export function checkLostRegisterWrites(history: RegisterOp[], finalValues: Record<string, Json | null>): LostWritesResult {
  const anomalies: LostWritesAnomaly[] = [];
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of history) {
    if (op.kind === 'read' || op.status === 'fail') continue;
    let list = byKey.get(op.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  const keys = new Set<string>([...byKey.keys(), ...Object.keys(finalValues)]);
  for (const key of [...keys].sort()) {
    const mutations = byKey.get(key) ?? [];
    if (!Object.hasOwn(finalValues, key)) {
      if (mutations.some((m) => m.status === 'ok')) {
        anomalies.push({
          type: 'missing-final-read',
          key,
          txns: [],
          explanation: `no final read of ${JSON.stringify(key)}, which has acknowledged writes`,
        });
      }
      continue;
    }
    const final = canonicalJson(finalValues[key]);
    // Latest invocation of an acknowledged mutation: anything that completed before it is superseded.
    let latestOkInvoke = -Infinity;
    for (const m of mutations) if (m.status === 'ok') latestOkInvoke = Math.max(latestOkInvoke, m.invokeMs);
    const candidates = new Set<string>();
    if (latestOkInvoke === -Infinity) candidates.add('null');
    for (const m of mutations) {
      const superseded = m.status === 'ok' && m.completeMs !== null && m.completeMs < latestOkInvoke;
      if (superseded) continue;
      candidates.add(m.kind === 'delete' ? 'null' : canonicalJson(m.value));
    }
    if (!candidates.has(final)) {
      const shown = [...candidates].slice(0, 6).join(', ');
      anomalies.push({
        type: 'lost-write',
        key,
        txns: [],
        explanation:
          `final value of ${JSON.stringify(key)} is ${showJson(finalValues[key])}, but the only values that can be ` +
          `last are {${shown}${candidates.size > 6 ? ', ...' : ''}}: an acknowledged write was lost or undone`,
      });
    }
  }
  return { ok: anomalies.length === 0, anomalies };
}
