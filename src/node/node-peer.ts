/**
 * An always-on tabring peer in Node.js: the same RuntimePeer (driver, bootstrap, signal
 * carriers) a browser tab runs, over
 * - FileStorage under a data directory (write, fsync, rename; torn tails cut at open), which
 *   also keeps the identity: a restart with the same directory is the same peer;
 * - WebRTC data channels from @roamhq/wrtc, negotiated by the browser's ConnectionManager
 *   and carried by the worker's ChannelTransport, joined in-process (local-port.ts), so
 *   tabs and Node peers connect both ways with one wire format and one signal envelope.
 *
 * Optionally it hosts the signaling server itself (`listen`): tabs can then use this peer
 * as their first contact instead of a separate server. Once in the ring, its signals go
 * through the overlay as well (runtime-peer.ts), so connections keep opening when the
 * server is gone.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WebSocket } from 'ws';
import { FileStorage } from '../adapters/file-storage.ts';
import { Db, type DbOptions } from '../api/db.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerConfig } from '../peer/config.ts';
import type { ClientOp, ClientReply } from '../peer/io.ts';
import { driverLink, type DriverLimits } from '../runtime/driver.ts';
import { RuntimePeer, type BootstrapLimits, type RuntimeStatus } from '../runtime/runtime-peer.ts';
import { ConnectionManager, type ConnectionInfo } from '../browser/connections.ts';
import { ChannelTransport, type ChannelTransportStats } from '../../worker/channel-transport.ts';
import { startSignalingServer, type SignalingServer } from '../../signaling/server.ts';
import type { WebSocketConstructor } from '../../signaling/client.ts';
import { localPortPair } from './local-port.ts';
import { nodeSimplePeer } from './webrtc.ts';

export interface NodePeerOptions {
  room: string;
  /** ws:// address of the signaling server; optional when `listen` is given (then its own). */
  signaling?: string;
  /** Directory for the peer's files (created if missing). */
  data: string;
  /** Host the signaling server in this process on this port (0: any free port). */
  listen?: { port: number; host?: string };
  /** How long start waits until the peer is in the ring (ms). */
  joinTimeoutMs?: number;
  config?: Partial<PeerConfig>;
  bootstrap?: Partial<BootstrapLimits>;
  driverLimits?: Partial<DriverLimits>;
  db?: DbOptions;
  /** ICE servers; default none (same machine or LAN), like the tabs. */
  iceServers?: RTCIceServer[];
}

export interface NodePeerStatus extends RuntimeStatus {
  data: string;
  /** The signaling server this process hosts, if any. */
  hosting: string | null;
  transport: ChannelTransportStats;
  connections: ConnectionInfo[];
}

const JOIN_TIMEOUT_MS_DEFAULT = 60_000;

/**
 * Creates the data directory and its missing parents, with an error that names it. Not
 * `mkdir(dir, { recursive: true })`: on some file systems (/proc, for one) that never returns.
 */
async function makeDataDir(dir: string, depth = 0): Promise<void> {
  const fail = (why: string): never => {
    throw new Error(`cannot use ${dir} as the data directory: ${why}`);
  };
  try {
    await mkdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      const st = await stat(dir).catch(() => null);
      if (st?.isDirectory()) return;
      fail('it exists and is not a directory');
    }
    if (code === 'ENOENT' && depth < 64 && dirname(dir) !== dir) {
      await makeDataDir(dirname(dir), depth + 1);
      try {
        await mkdir(dir);
        return;
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(dir).catch(() => null))?.isDirectory()) return;
        fail((e2 as Error).message);
      }
    }
    fail((e as Error).message);
  }
}

export class NodePeer {
  /** The key/value API, served by this peer. */
  readonly db: Db;
  private closed = false;

  private constructor(
    readonly runtime: RuntimePeer,
    private readonly transport: ChannelTransport,
    private readonly manager: ConnectionManager,
    private readonly closePorts: () => void,
    private readonly server: SignalingServer | null,
    readonly data: string,
    dbOptions: DbOptions | undefined,
  ) {
    this.db = new Db(driverLink(runtime.driver), dbOptions);
  }

  /** Opens storage, settles the identity, starts and waits until the peer is in the ring. */
  static async start(opts: NodePeerOptions): Promise<NodePeer> {
    await makeDataDir(opts.data);
    const server = opts.listen ? await startSignalingServer({ port: opts.listen.port, host: opts.listen.host ?? '127.0.0.1', log: () => {} }) : null;
    const signaling = opts.signaling ?? server?.url;
    if (signaling === undefined) throw new Error('a signaling URL is needed (or listen, to host one)');
    let storage: FileStorage | null = null;
    let runtime: RuntimePeer | null = null;
    const ports = localPortPair();
    try {
      storage = await FileStorage.open(opts.data);
      let transport: ChannelTransport | null = null;
      runtime = await RuntimePeer.open({
        room: opts.room,
        signaling,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        storage,
        network: (id) => (transport = new ChannelTransport({ self: id, port: ports.worker })),
        config: opts.config,
        bootstrap: opts.bootstrap,
        driverLimits: opts.driverLimits,
      });
      const rt = runtime;
      const manager = new ConnectionManager({
        self: rt.id,
        worker: ports.page,
        iceServers: opts.iceServers ?? [],
        sendSignal: (to, data) => rt.sendSignal(to, data),
        close_on_pagehide: false,
        SimplePeer: nodeSimplePeer(),
      });
      rt.onSignal((from, data) => manager.receiveSignal(from, data));
      const peer = new NodePeer(rt, transport!, manager, () => {
        ports.page.close();
        ports.worker.close();
      }, server, opts.data, opts.db);
      try {
        await rt.start();
        await rt.waitJoined(opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS_DEFAULT);
      } catch (e) {
        await peer.close();
        throw e;
      }
      return peer;
    } catch (e) {
      if (runtime === null) {
        await storage?.close().catch(() => {});
        await server?.close();
      }
      throw e;
    }
  }

  get id(): PeerId {
    return this.runtime.id;
  }

  /** The signaling URL this process hosts, or null. */
  get hosting(): string | null {
    return this.server?.url ?? null;
  }

  request(op: ClientOp): Promise<ClientReply> {
    return this.runtime.request(op);
  }

  async status(): Promise<NodePeerStatus> {
    const s = await this.runtime.status();
    return { ...s, data: this.data, hosting: this.hosting, transport: this.transport.stats(), connections: this.manager.connections() };
  }

  /** Graceful leave: hand our ranges to the successor, then close. */
  async leave(): Promise<void> {
    if (this.closed) return;
    await this.runtime.leave();
    await this.close();
  }

  /** Stops at once (the others see a departure); the data stays in the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runtime.close();
    this.manager.dispose();
    this.closePorts();
    await this.server?.close();
  }
}
