/**
 * What a web page imports to use tabring:
 *
 *   import { connect } from 'tabring';
 *   const db = await connect({ room: 'my-app', signaling: 'ws://127.0.0.1:8787' });
 *   await db.write('greeting', 'hello');
 *   console.log(await db.read('greeting'), await db.status());
 *
 * connect() starts this tab's peer in a Web Worker (worker/peer-worker.ts: protocol,
 * IndexedDB, data channels), negotiates WebRTC connections on the page (ConnectionManager:
 * RTCPeerConnection exists only here) and hands their data channels to the worker. It
 * resolves once the peer is in the ring, with the key/value API (Db) plus status(),
 * request() (raw protocol operations, for consoles), leave() and close().
 *
 * Signals for new connections go through the worker, which sends them through the
 * signaling server while joining and through the ring afterwards (runtime-peer.ts).
 */
import * as Comlink from 'comlink';
import { Db, type DbOptions, type PeerLink } from '../api/db.ts';
import { LatencyWindow, type LatencyReport } from '../api/latency.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerConfig } from '../peer/config.ts';
import type { ClientOp, ClientReply, WatchEvent } from '../peer/io.ts';
import type { StorageFailure } from '../runtime/driver.ts';
import type { BootstrapLimits } from '../runtime/runtime-peer.ts';
import type { PartitionRequest, PeerWorkerApi, WorkerStatus } from '../../worker/peer-worker.ts';
import type { PartitionCut } from '../../worker/channel-transport.ts';
import { ConnectionManager, type ConnectionInfo } from './connections.ts';
import { acquireSlot, type Slot } from './slots.ts';

export interface ConnectOptions {
  /** Name of the ring: every tab that connects to the same room joins the same ring. 1-64 of [A-Za-z0-9._-]. */
  room: string;
  /** Bootstrap server, e.g. 'ws://127.0.0.1:8787' (`npm run signaling`). */
  signaling: string;
  /** ICE servers for WebRTC; default none (same machine or LAN). */
  iceServers?: RTCIceServer[];
  /** 'indexeddb' (default): data and identity survive reloads and restarts. 'memory': gone with the tab. */
  storage?: 'indexeddb' | 'memory';
  /** How long connect() waits for the peer to be in the ring (ms, default 30 000). */
  joinTimeoutMs?: number;
  /** Options of the key/value API (transaction retries). */
  db?: DbOptions;
  /** Protocol tunables (advanced; every peer of a ring should use the same). */
  config?: Partial<PeerConfig>;
  bootstrap?: Partial<BootstrapLimits>;
  /** Builds the worker (a bundler that needs its own worker URL, or a test build with hooks). */
  worker?: () => Worker;
  /**
   * Called with the client as soon as the peer has its identity and is joining, before
   * connect() resolves: status() works (to show progress); operations fail with
   * NotJoinedError until the peer is in the ring.
   */
  onJoining?: (client: TabringClient) => void;
}

export interface TabringStatus extends WorkerStatus {
  /** This tab's peer id. */
  peerId: PeerId;
  /** Storage slot of this tab (its database is `dbName`). */
  slot: number | null;
  /** Bytes of stored records, null when unknown. */
  storageBytes: number | null;
  /** WebRTC connections as the page sees them (negotiation state). */
  connections: ConnectionInfo[];
  /** p50/p99 of this tab's reads and commits over the last minute, as the page saw them. */
  latency: LatencyReport;
}

const join_timeout_ms_default = 30_000;
const ROOM_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The API of the store for this tab, plus the tab's peer. */
export class TabringClient extends Db {
  private closed = false;

  /** @internal use connect() */
  constructor(
    private readonly workerLink: WorkerLink,
    private readonly api: Comlink.Remote<PeerWorkerApi>,
    private readonly worker: Worker,
    private readonly manager: ConnectionManager,
    private readonly slot: Slot | null,
    readonly peerId: PeerId,
    readonly room: string,
    options: DbOptions | undefined,
  ) {
    super(workerLink, options);
    globalThis.addEventListener?.('pagehide', this.onPagehide);
  }

  /**
   * TEST-ONLY, not part of tabring's API: hooks for end-to-end tests. `partition` emulates a
   * network cut at this tab's transport (messages, heartbeats and connection signals to/from
   * the given peers are dropped; see worker/channel-transport.ts); `heal` lifts it.
   */
  readonly testing: {
    partition(request: PartitionRequest): Promise<PartitionCut>;
    heal(): Promise<PartitionCut>;
  } = {
    partition: (request) => this.api.testing.partition(request),
    heal: () => this.api.testing.heal(),
  };

  /** The key/value API (this object itself; for code written against `client.db`). */
  get db(): Db {
    return this;
  }

  /** Peer id, ring status and size, connections, storage use and failures. */
  async status(): Promise<TabringStatus> {
    const s = await this.api.status();
    return { ...s, peerId: this.peerId, slot: this.slot?.slot ?? null, storageBytes: s.storage?.bytes ?? null, connections: this.manager.connections(), latency: this.workerLink.latency.report() };
  }

  /** A raw protocol operation ({op: 'status'}, {op: 'lookup', target}, ...), for consoles. */
  request(op: ClientOp): Promise<ClientReply> {
    return this.workerLink.request(op);
  }

  /** Called when this tab's storage fails (with why) and when it recovers (with null). */
  onStorageFailure(cb: (f: StorageFailure | null) => void): void {
    void this.api.onStorageFailure(Comlink.proxy(cb));
  }

  /** Leave the ring gracefully (hand this tab's data to the others), then close. */
  async leave(): Promise<void> {
    if (this.closed) return;
    await this.api.leave().catch(() => {});
    await this.close();
  }

  /** Close connections and stop the peer (the others see it as a departure). Data stays stored. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    globalThis.removeEventListener?.('pagehide', this.onPagehide);
    this.manager.dispose();
    await Promise.race([this.api.close().catch(() => {}), new Promise((r) => setTimeout(r, 2_000))]);
    this.workerLink.fail('client closed');
    this.api[Comlink.releaseProxy]();
    this.worker.terminate();
    this.slot?.release();
  }

  private readonly onPagehide = (): void => {
    // The page is going (closed, reloaded, navigated away): close connections and the
    // worker's socket to the server now, so that the others and the server see it at once
    // (a reloaded tab comes back under the same id a moment later).
    this.manager.close();
    void this.close();
  };
}

/** PeerLink over comlink; requests in flight fail with 'stopped' when the worker dies. */
class WorkerLink implements PeerLink {
  private readonly pending = new Set<(r: ClientReply) => void>();
  private readonly listeners = new Set<(e: WatchEvent) => void>();
  private dead: string | null = null;
  /** Latencies of reads and commits (successful or not: an abort took that long too). */
  readonly latency = new LatencyWindow(() => performance.now());

  constructor(private readonly api: Comlink.Remote<PeerWorkerApi>) {}

  request(op: ClientOp): Promise<ClientReply> {
    if (this.dead !== null) return Promise.resolve({ reqId: 0, ok: false, code: 'stopped', message: this.dead });
    // Pages may pass anything (the worker validates and answers 'invalid'): never assume a shape here.
    const name = typeof op === 'object' && op !== null ? (op as { op?: unknown }).op : undefined;
    const kind = name === 'read' || name === 'tx_read' ? 'read' : name === 'tx_commit' ? 'commit' : null;
    const t0 = kind === null ? 0 : performance.now();
    return new Promise((resolve) => {
      const settle = (r: ClientReply) => {
        if (!this.pending.delete(settle)) return;
        if (kind !== null && (r.ok || r.code !== 'stopped')) this.latency.add(kind, performance.now() - t0);
        resolve(r);
      };
      this.pending.add(settle);
      this.api.request(op).then(settle, (e: unknown) => settle({ reqId: 0, ok: false, code: 'invalid', message: String(e) }));
    });
  }

  onEvent(cb: (e: WatchEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  emit(e: WatchEvent): void {
    for (const l of this.listeners) l(e);
  }

  fail(why: string): void {
    this.dead ??= why;
    for (const settle of [...this.pending]) settle({ reqId: 0, ok: false, code: 'stopped', message: why });
  }
}

export async function connect(options: ConnectOptions): Promise<TabringClient> {
  if (typeof options !== 'object' || options === null) throw new TypeError('connect() needs { room, signaling }');
  const { room, signaling } = options;
  if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) throw new TypeError('room must be 1-64 characters of [A-Za-z0-9._-]');
  if (typeof signaling !== 'string' || !/^wss?:\/\//.test(signaling)) throw new TypeError('signaling must be a ws:// or wss:// URL');
  const storage = options.storage ?? 'indexeddb';
  const slot = storage === 'indexeddb' ? await acquireSlot(room) : null;
  const worker = options.worker?.() ?? new Worker(new URL('../../worker/peer-worker.ts', import.meta.url), { type: 'module', name: `tabring-${room}` });
  const api = Comlink.wrap<PeerWorkerApi>(worker);
  const link = new WorkerLink(api);
  let manager: ConnectionManager | null = null;
  let workerError: string | null = null;
  const onError = (e: ErrorEvent) => {
    workerError = `tabring worker failed: ${e.message || 'error'}`;
    link.fail(workerError);
  };
  worker.addEventListener('error', onError);
  const fail = (e: unknown): never => {
    manager?.dispose();
    worker.terminate();
    slot?.release();
    if (workerError !== null && !(e instanceof Error && e.message.includes(workerError))) throw new Error(`${workerError}; ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  };
  try {
    const dbName = slot?.dbName ?? `tabring-${room}-memory`;
    const { id } = await api.open({ room, signaling, storage, dbName, config: options.config, bootstrap: options.bootstrap });
    const mgr = new ConnectionManager({
      self: id,
      worker,
      iceServers: options.iceServers ?? [],
      sendSignal: (to, data) => void api.sendSignal(to, data).catch(() => {}),
    });
    manager = mgr;
    await api.onSignal(Comlink.proxy((from: PeerId, data: unknown) => mgr.receiveSignal(from, data)));
    await api.onEvent(Comlink.proxy((e: WatchEvent) => link.emit(e)));
    await api.start();
    const client = new TabringClient(link, api, worker, mgr, slot, id, room, options.db);
    try {
      options.onJoining?.(client);
      await api.waitJoined(options.joinTimeoutMs ?? join_timeout_ms_default);
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  } catch (e) {
    return fail(e);
  }
}
