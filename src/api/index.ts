/** The key/value API applications import. */
export { Db, type DbOptions, type PeerLink, type Tx } from './db.ts';
export {
  AbortedError,
  CommitUnknownError,
  InvalidError,
  KeyChangedError,
  LimitError,
  NotFoundError,
  NotJoinedError,
  TabringError,
  UnavailableError,
  WrongTypeError,
} from './errors.ts';
export { limits } from './validate.ts';
export type { Json } from '../core/types.ts';
export type { ReplicaAuthority, ReplicaSlot, ReplicasReport } from '../replication/replica-probe.ts';
