/** History checkers for the seeded simulator and the browser end-to-end tests. */
export type { Json, MicroOp, OpStatus, RegisterOp, TxnOp } from './history.ts';
export { canonicalJson, jsonEqual } from './json.ts';
export {
  checkLinearizable,
  checkKeyLinearizable,
  describeRegisterOp,
  search_steps_max_default,
  type LinearizabilityOptions,
  type LinearizabilityResult,
} from './linearizable.ts';
export {
  checkListAppend,
  anomalies_per_type_max_default,
  cycle_search_edge_visits_max_default,
  type ListAppendAnomaly,
  type ListAppendOptions,
  type ListAppendResult,
} from './list-append.ts';
export {
  checkBank,
  bank_anomalies_per_type_max_default,
  type BankAnomaly,
  type BankAnomalyType,
  type BankHistory,
  type BankOptions,
  type BankRead,
  type BankResult,
} from './bank.ts';
export {
  checkLostAppends,
  checkLostRegisterWrites,
  type LostWritesAnomaly,
  type LostWritesAnomalyType,
  type LostWritesResult,
} from './lost-writes.ts';
