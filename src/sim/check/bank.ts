/**
 * Bank invariant: money moves between accounts by transfers, so every consistent snapshot
 * of all accounts sums to the initial total. A read-all transaction that sees another
 * total observed a state no serial execution produces (a torn or partially applied
 * transfer, a lost or doubled update). Optionally no balance may go negative, when the
 * workload's transfers check funds first.
 *
 * Only ok reads are judged: a failed or unknown read promised nothing.
 */
import type { OpStatus } from './history.ts';

export interface BankRead {
  id: string;
  /** Balance per account as read. An account missing from the read holds 0 (never created). */
  balances: Record<string, number>;
  status: OpStatus;
}

export interface BankHistory {
  accounts: string[];
  /** Sum of all balances, constant under transfers. */
  total: number;
  reads: BankRead[];
}

export interface BankOptions {
  /** Default false: a negative balance is an anomaly. */
  negative_allowed?: boolean;
  /** Anomalies listed per type; the rest are counted in `omitted`. */
  anomalies_per_type_max?: number;
}

export type BankAnomalyType = 'wrong-total' | 'negative-balance' | 'unknown-account' | 'not-a-number';

export interface BankAnomaly {
  type: BankAnomalyType;
  reads: string[];
  explanation: string;
}

export interface BankResult {
  ok: boolean;
  anomalies: BankAnomaly[];
  omitted?: Partial<Record<BankAnomalyType, number>>;
}

export const bank_anomalies_per_type_max_default = 8;

export function checkBank(history: BankHistory, options: BankOptions = {}): BankResult {
  const per_type_max = options.anomalies_per_type_max ?? bank_anomalies_per_type_max_default;
  const known = new Set(history.accounts);
  const anomalies: BankAnomaly[] = [];
  const counts = new Map<BankAnomalyType, number>();
  const report = (type: BankAnomalyType, id: string, explanation: string): void => {
    const c = (counts.get(type) ?? 0) + 1;
    counts.set(type, c);
    if (c <= per_type_max) anomalies.push({ type, reads: [id], explanation });
  };

  for (const read of history.reads) {
    if (read.status !== 'ok') continue;
    let sum = 0;
    let numeric = true;
    for (const [account, balance] of Object.entries(read.balances)) {
      if (!known.has(account)) {
        report('unknown-account', read.id, `${read.id} read account ${JSON.stringify(account)}, which is not one of the accounts`);
      }
      if (typeof balance !== 'number' || !Number.isFinite(balance)) {
        numeric = false;
        report('not-a-number', read.id, `${read.id} read account ${JSON.stringify(account)} = ${String(balance)}`);
        continue;
      }
      if (balance < 0 && !options.negative_allowed) {
        report('negative-balance', read.id, `${read.id} read account ${JSON.stringify(account)} = ${balance} < 0`);
      }
      if (known.has(account)) sum += balance;
    }
    if (numeric && sum !== history.total) {
      const shown = history.accounts.map((a) => `${a}=${read.balances[a] ?? 0}`).join(', ');
      report('wrong-total', read.id, `${read.id} read a total of ${sum}, expected ${history.total} (${shown})`);
    }
  }

  const omitted: Partial<Record<BankAnomalyType, number>> = {};
  let anyOmitted = false;
  for (const [type, c] of counts) {
    if (c > per_type_max) {
      omitted[type] = c - per_type_max;
      anyOmitted = true;
    }
  }
  const ok = counts.size === 0;
  return anyOmitted ? { ok, anomalies, omitted } : { ok, anomalies };
}
