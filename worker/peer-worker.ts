/// <reference lib="webworker" />
/**
 * The Web Worker that hosts one peer of a browser tab: a RuntimePeer (driver, bootstrap,
 * signal carriers) over IndexedDbStorage and ChannelTransport, its API exposed to the page
 * through comlink (src/browser/connect.ts is the page side; applications never import this).
 *
 * The worker's global port is shared by three parties that ignore each other's messages:
 * comlink (its own message ids), the transport ({kind: 'channel' | 'relay-*' | 'link-down'}
 * from the page's ConnectionManager) and nothing else.
 *
 * `testing` holds test-only hooks (a network partition at the transport); connect.ts
 * forwards them as TabringClient.testing, documented as test-only.
 *
 * Order of calls: open() settles the identity (storage, then the signaling server for a new
 * peer) and returns the id, so the page can build its ConnectionManager for that id; then
 * onSignal/onEvent subscriptions; then start().
 */
import * as Comlink from 'comlink';
import { MemoryStorage } from '../src/adapters/memory-storage.ts';
import type { StorageAdapter } from '../src/adapters/storage.ts';
import type { Json, PeerId } from '../src/core/types.ts';
import type { PeerConfig } from '../src/peer/config.ts';
import type { ClientOp, ClientReply, WatchEvent } from '../src/peer/io.ts';
import type { StorageFailure } from '../src/runtime/driver.ts';
import { RuntimePeer, type BootstrapLimits, type RuntimeStatus } from '../src/runtime/runtime-peer.ts';
import { ChannelTransport, type ChannelTransportOptions, type ChannelTransportStats, type PartitionCut } from './channel-transport.ts';
import { IndexedDbStorage } from './indexeddb-storage.ts';
import { CountingNetwork, type LinkCounts } from './link-counters.ts';

export interface WorkerOpenOptions {
  room: string;
  signaling: string;
  /** 'indexeddb': durable, database `dbName`; 'memory': gone when the tab closes. */
  storage: 'indexeddb' | 'memory';
  dbName: string;
  config?: Partial<PeerConfig>;
  bootstrap?: Partial<BootstrapLimits>;
  transport?: Omit<ChannelTransportOptions, 'self' | 'port'>;
}

export interface WorkerStatus extends RuntimeStatus {
  dbName: string;
  transport: ChannelTransportStats | null;
  /** Messages and bytes in and out per peer (console: connections). */
  links: LinkCounts[];
}

/** What the page calls (through comlink: every method returns a promise there). */
export interface PeerWorkerApi {
  open(options: WorkerOpenOptions): Promise<{ id: PeerId; restored: boolean }>;
  start(): Promise<void>;
  waitJoined(timeoutMs: number): Promise<void>;
  request(op: ClientOp): Promise<ClientReply>;
  onEvent(cb: (e: WatchEvent) => void): void;
  onSignal(cb: (from: PeerId, data: Json) => void): void;
  onStorageFailure(cb: (f: StorageFailure | null) => void): void;
  sendSignal(to: PeerId, data: unknown): void;
  status(): Promise<WorkerStatus>;
  leave(): Promise<void>;
  close(): Promise<void>;
  /** TEST-ONLY hooks (not part of tabring's API; applications must never call them). */
  testing: PeerWorkerTesting & Comlink.ProxyMarked;
}

/** What a test tells a tab's transport; `direction` 'both' (default) drops both ways. */
export interface PartitionRequest {
  drop: PeerId[];
  direction?: 'both' | 'in' | 'out';
}

/**
 * TEST-ONLY: a network partition emulated at this tab's transport (worker/channel-transport.ts,
 * file comment): messages and heartbeats to/from the dropped peers vanish, and signals for
 * new connections to/from them are dropped whichever way they come (signaling server or
 * overlay), so no connection can be made across the cut. Symmetric when both tabs drop each
 * other. Each call replaces the previous cut; heal() lifts it. Both return the cut now in force.
 */
export interface PeerWorkerTesting {
  partition(request: PartitionRequest): Promise<PartitionCut>;
  heal(): Promise<PartitionCut>;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;

function createApi(): PeerWorkerApi {
  let peer: RuntimePeer | null = null;
  let transport: ChannelTransport | null = null;
  let counting: CountingNetwork | null = null;
  let opening = false;
  let dbName = '';
  const need = (): RuntimePeer => {
    if (peer === null) throw new Error('the peer is not open: call open() first');
    return peer;
  };
  return {
    async open(options) {
      if (opening || peer !== null) throw new Error('open() was called already');
      opening = true;
      dbName = options.dbName;
      const storage: StorageAdapter =
        options.storage === 'memory' ? new MemoryStorage(options.dbName) : await IndexedDbStorage.open(options.dbName);
      try {
        peer = await RuntimePeer.open({
          room: options.room,
          signaling: options.signaling,
          storage,
          network: (id) => (counting = new CountingNetwork((transport = new ChannelTransport({ ...options.transport, self: id, port: scope })))),
          config: options.config,
          bootstrap: options.bootstrap,
        });
      } catch (e) {
        await storage.close().catch(() => {});
        opening = false;
        throw e;
      }
      return { id: peer.id, restored: peer.driver.restored };
    },
    start: () => need().start(),
    waitJoined: (timeoutMs) => need().waitJoined(timeoutMs),
    async request(op) {
      if (peer === null) return { reqId: 0, ok: false, code: 'not_joined', message: 'the peer is not open yet' };
      return peer.request(op);
    },
    onEvent(cb) {
      need().onEvent((e) => void cb(e));
    },
    onSignal(cb) {
      need().onSignal((from, data) => {
        if (transport && !transport.allowsSignal(from, 'in')) return; // test partition
        void cb(from, data);
      });
    },
    onStorageFailure(cb) {
      need().onStorageFailure((f) => void cb(f));
    },
    sendSignal(to, data) {
      if (transport && !transport.allowsSignal(to, 'out')) return; // test partition
      peer?.sendSignal(to, data);
    },
    async status() {
      const s = await need().status();
      return { ...s, dbName, transport: transport?.stats() ?? null, links: counting?.links() ?? [] };
    },
    async leave() {
      await peer?.leave();
    },
    async close() {
      await peer?.close();
    },
    // Marked as a proxy so that comlink's types show its methods (calls go by path anyway).
    testing: Comlink.proxy({
      async partition({ drop, direction = 'both' }) {
        if (transport === null) throw new Error('the peer is not open: call open() first');
        const ids = Array.isArray(drop) ? drop : [];
        return transport.setPartition({ in: direction === 'out' ? [] : ids, out: direction === 'in' ? [] : ids });
      },
      async heal() {
        if (transport === null) throw new Error('the peer is not open: call open() first');
        return transport.heal();
      },
    }),
  };
}

Comlink.expose(createApi(), scope);
