/**
 * History types shared by the checkers, the seeded simulator and the browser end-to-end
 * tests. A history is what clients observed, never what the system believes: a checker
 * must judge it without trusting the implementation.
 */
import type { Json } from '../../core/types.ts';

export type { Json };

/**
 * fail = definitely did not take effect; unknown = may or may not have (timeout, or a
 * "commit outcome unknown" answer). Treating unknown as fail would let lost commits hide,
 * treating it as ok would flag honest timeouts, so every checker keeps both possibilities.
 */
export type OpStatus = 'ok' | 'fail' | 'unknown';

/** Single-key register operations (read/write/cas/delete), for linearizability. */
export interface RegisterOp {
  process: number;
  key: string;
  kind: 'read' | 'write' | 'cas' | 'delete';
  /** write: value written; cas: new value. */
  value?: Json;
  /** cas: expected current value (null = absent). */
  expected?: Json;
  /** read: value read (null = not found). */
  output?: Json;
  invokeMs: number;
  /** null when unknown: treated as +infinity. */
  completeMs: number | null;
  status: OpStatus;
}

/** Transactions over lists (Elle list-append) — micro-ops. */
export type MicroOp = ['append', string, Json] | ['r', string, Json[] | null];

/**
 * For 'r' micro-ops the history records what the transaction observed (for ok
 * transactions; null = key absent, i.e. the empty list). For fail/unknown transactions
 * reads are ignored.
 */
export interface TxnOp {
  id: string;
  process: number;
  ops: MicroOp[];
  invokeMs: number;
  completeMs: number | null;
  status: OpStatus;
}
