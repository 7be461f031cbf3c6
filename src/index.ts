/**
 * tabring: a transactional key/value store in which every browser tab is a peer.
 *
 *   import { connect } from 'tabring';
 *   const db = await connect({ room: 'my-app', signaling: 'ws://127.0.0.1:8787' });
 *   await db.transact(async (tx) => tx.write('n', ((await tx.get('n')) as number ?? 0) + 1));
 *
 * connect() returns the key/value API (Db) of this tab's peer; see src/api for the
 * operations and their errors.
 */
export { connect, TabringClient, type ConnectOptions, type TabringStatus } from './browser/connect.ts';
export * from './api/index.ts';
export type { ClientOp, ClientReply, WatchEvent } from './peer/io.ts';
export type { PeerId } from './core/types.ts';
export type { StorageFailure } from './runtime/driver.ts';
