/**
 * A peer as a runtime runs it (browser worker, Node): the driver, plus how it finds its ring
 * and carries WebRTC signaling. Shared by worker/peer-worker.ts and the Node peer.
 *
 * Bootstrap (DESIGN.md 6): the signaling server is used to reach the ring, nothing more.
 * 1. Identity: the stored one (a restart), else a new id placed in a large gap between the
 *    peers the server names (placeNewPeer). Learning them needs a room member id, so a new peer first
 *    joins the room briefly under a throwaway id (a "scout"), then under its real id.
 * 2. The real join returns up to 8 peers of the room: none means there is no ring, and this
 *    peer creates one; otherwise it joins through them.
 * 3. A joining peer probes the peers it knows (the failure detector's ping; members answer
 *    member = true) and joins through members: the list may also name joiners, whose ring
 *    routing holds a join until they are in, and scouts. A peer still joining after
 *    stuck_ms asks the server for fresh peers. When every listed peer answers and none is a
 *    member (tabs that opened at the same moment, or a whole ring restarting: each joins
 *    another), the one with the smallest id creates the ring and the others join it. A silent peer may be a
 *    member we cannot reach, so silence never lets anyone create a ring: two rings would
 *    never merge.
 *
 * Signal carriers: a peer that is not in the ring signals through the server (the overlay
 * cannot carry its signals). A ring member signals through the overlay ({op: 'signal'},
 * delivered only to the peer with exactly that id), and while the server is reachable also
 * through the server: the target may be a joiner, which the overlay cannot reach yet (the
 * peer that accepts a join must connect to the joiner to answer it). The receiver drops the
 * second copy. Server copies of members are rate-limited (server_copies_per_second_max), so a
 * member opening many connections stays within the server's per-socket limits; the overlay
 * copy is the one that counts. When the server is gone, everything goes through the
 * overlay: a running ring keeps opening connections.
 */
import type { NetworkAdapter } from '../adapters/network.ts';
import type { StorageAdapter } from '../adapters/storage.ts';
import { isJson } from '../core/json.ts';
import { randomId } from '../core/id.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerConfig } from '../peer/config.ts';
import type { ClientOp, ClientReply, WatchEvent } from '../peer/io.ts';
import { chooseJoinId } from '../replication/replicas.ts';
import { ID_SPACE, addId, dist } from '../core/id.ts';
import { SignalingClient, SignalingError, type SignalingState, type WebSocketConstructor } from '../../signaling/client.ts';
import { Driver, storedIdentity, type DriverLimits, type DriverStatus, type StorageFailure } from './driver.ts';

export interface BootstrapLimits {
  /** Joining longer than this (ms): ask the server for fresh peers, and elect a creator when no ring is in sight. */
  stuck_ms: number;
  /** While joining, how often (ms) the known peers are probed for members. */
  refresh_interval_ms: number;
  /** How long (ms) a probed peer has to answer. */
  probe_timeout_ms: number;
  /** How long (ms) start() waits for the signaling server (the first attempt and reconnects). */
  signaling_wait_ms: number;
  /** One attempt (ms) to open a socket to the server and be joined. */
  signaling_connect_timeout_ms: number;
  /** Longest reconnect backoff (ms): a server that restarts must see the ring's members again soon. */
  signaling_backoff_max_ms: number;
  /** Remembered "last signal came through the server" entries. */
  carriers_max: number;
  /** Copies of a member's signals sent through the server, per second (the server allows 20 per socket). */
  server_copies_per_second_max: number;
  /** Signals remembered to drop the second copy (one came through the server, one through the ring). */
  seen_signals_max: number;
  /** How long (ms) a signal is remembered for that. */
  seen_signal_ttl_ms: number;
}

export const DEFAULT_BOOTSTRAP_LIMITS: BootstrapLimits = {
  stuck_ms: 3_000,
  refresh_interval_ms: 2_000,
  probe_timeout_ms: 1_500,
  signaling_wait_ms: 15_000,
  signaling_connect_timeout_ms: 5_000,
  signaling_backoff_max_ms: 5_000,
  carriers_max: 1_024,
  server_copies_per_second_max: 10,
  seen_signals_max: 1_024,
  seen_signal_ttl_ms: 60_000,
};

export interface RuntimePeerOptions {
  room: string;
  /** ws:// or wss:// address of the bootstrap server. */
  signaling: string;
  /** WebSocket implementation (the global one unless given; Node 20 has none: pass ws's). */
  WebSocket?: WebSocketConstructor;
  storage: StorageAdapter;
  /** The transport for this peer once its id is known. */
  network: (self: PeerId) => NetworkAdapter;
  config?: Partial<PeerConfig>;
  driverLimits?: Partial<DriverLimits>;
  bootstrap?: Partial<BootstrapLimits>;
  random?: () => number;
}

export interface RuntimeStatus extends DriverStatus {
  room: string;
  restored: boolean;
  signaling: SignalingState;
  bootstrap: RuntimePeer['counters'];
}

export class RuntimePeer {
  readonly driver: Driver;
  readonly room: string;
  private readonly opts: RuntimePeerOptions;
  private readonly limits: BootstrapLimits;
  private readonly signaling: SignalingClient;
  /** Peers whose last signal reached us through the server. */
  private readonly viaServer = new Set<PeerId>();
  private readonly signalListeners = new Set<(from: PeerId, data: Json) => void>();
  /** Recent incoming signals (from + JSON) -> when seen: the second copy is dropped. */
  private readonly seen = new Map<string, number>();
  /** Token bucket for server copies of members' signals. */
  private copyTokens = 0;
  private copyRefillAt = 0;
  private stuckTimer: ReturnType<typeof setTimeout> | undefined;
  private startedAt = 0;
  /** Why the signaling client last failed (for error messages and status). */
  private lastSignalingError: string | null = null;
  /** The room's peers as last heard from the server. */
  private known: PeerId[] = [];
  private started = false;
  private closed = false;
  readonly counters = {
    signals_out_server: 0,
    signals_out_overlay: 0,
    signals_in_server: 0,
    signals_in_overlay: 0,
    signals_dropped: 0,
    signals_refused: 0,
    signals_duplicate: 0,
    stuck_rounds: 0,
    rings_created: 0,
  };

  private constructor(driver: Driver, opts: RuntimePeerOptions) {
    this.driver = driver;
    this.opts = opts;
    this.room = opts.room;
    this.limits = { ...DEFAULT_BOOTSTRAP_LIMITS, ...opts.bootstrap };
    this.signaling = new SignalingClient({
      url: opts.signaling,
      WebSocket: opts.WebSocket,
      connectTimeoutMs: this.limits.signaling_connect_timeout_ms,
      backoffMaxMs: this.limits.signaling_backoff_max_ms,
      random: opts.random,
    });
    this.signaling.onSignal((from, data) => {
      this.counters.signals_in_server++;
      this.rememberServer(from);
      this.receiveSignal(from, data);
    });
    this.signaling.onJoined((peers) => this.driver.addJoinContacts(peers));
    this.signaling.onError((err) => {
      this.lastSignalingError = `${err.code}: ${err.message}`;
      // The server could not deliver to that peer: try the overlay next time.
      if (err.peer !== undefined) {
        this.counters.signals_refused++;
        this.viaServer.delete(err.peer);
      }
    });
    this.driver.onSignal((from, data) => {
      this.counters.signals_in_overlay++;
      this.viaServer.delete(from);
      this.receiveSignal(from, data);
    });
  }

  /** Loads storage and settles the identity (asking the server only for a new peer). */
  static async open(opts: RuntimePeerOptions): Promise<RuntimePeer> {
    const limits = { ...DEFAULT_BOOTSTRAP_LIMITS, ...opts.bootstrap };
    const random = opts.random ?? Math.random;
    const records = await opts.storage.loadAll();
    let id = storedIdentity(records);
    if (id === null) {
      const known = await scout(opts, limits, random);
      id = placeNewPeer(known, random);
    }
    const driver = new Driver({
      storage: opts.storage,
      records,
      id,
      network: opts.network(id),
      config: opts.config,
      limits: opts.driverLimits,
      random,
    });
    return new RuntimePeer(driver, opts);
  }

  get id(): PeerId {
    return this.driver.id;
  }

  /**
   * Joins the room on the server and starts the peer: it creates the ring when the room is
   * empty, else joins. Resolves once started (not yet joined: see waitJoined).
   */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    const peers = await this.joinServer();
    this.startedAt = Date.now();
    if (peers.length === 0) this.counters.rings_created++;
    this.known = peers.filter((p) => p !== this.id);
    this.driver.start(peers);
    this.scheduleLookAround(0);
  }

  /** Resolves when the peer is in the ring; rejects after timeoutMs with what it is doing. */
  async waitJoined(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.driver.ringStatus !== 'in') {
      if (this.closed) throw new Error('peer closed while joining');
      if (Date.now() > end) {
        const s = this.driver.snapshot();
        throw new Error(
          `not in the ring of room "${this.room}" after ${timeoutMs} ms: ring status ${s.ring}, signaling ${this.signaling.currentState}, ` +
            `connected to [${s.connected.join(', ')}], join attempts ${this.driver.peer.ring.joinAttempts}, stuck rounds ${this.counters.stuck_rounds}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  request(op: ClientOp): Promise<ClientReply> {
    return this.driver.request(op);
  }

  onEvent(cb: (e: WatchEvent) => void): () => void {
    return this.driver.onEvent(cb);
  }

  onStorageFailure(cb: (f: StorageFailure | null) => void): () => void {
    return this.driver.onStorageFailure(cb);
  }

  /** Signaling data for the local connection manager (from the server or the overlay). */
  onSignal(cb: (from: PeerId, data: Json) => void): () => void {
    this.signalListeners.add(cb);
    return () => this.signalListeners.delete(cb);
  }

  /** Signaling data from the local connection manager, for peer `to`. Best effort. */
  sendSignal(to: PeerId, raw: unknown): void {
    if (this.closed) return;
    const data = asJson(raw);
    if (data === undefined) {
      this.counters.signals_dropped++;
      return;
    }
    if (this.driver.ringStatus !== 'in') {
      if (!this.viaSignaling(to, data)) this.counters.signals_dropped++;
      return;
    }
    // A peer that reached us through the server is likely a joiner: the server copy matters
    // most, so it is not rate-limited.
    if (this.viaServer.has(to) || this.takeCopyToken()) this.viaSignaling(to, data);
    this.viaOverlay(to, data);
  }

  async status(): Promise<RuntimeStatus> {
    const s = await this.driver.status();
    return { ...s, room: this.room, restored: this.driver.restored, signaling: this.signaling.currentState, bootstrap: { ...this.counters } };
  }

  /** Graceful leave (hand over data), then close. */
  async leave(): Promise<void> {
    if (this.closed) return;
    clearTimeout(this.stuckTimer);
    await this.driver.leave();
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stuckTimer);
    this.signaling.close();
    await this.driver.close();
  }

  // ------------------------------------------------------------------ internals

  private async joinServer(): Promise<PeerId[]> {
    const first = this.signaling.join(this.room, this.id);
    try {
      return await first;
    } catch (e) {
      if (!(e instanceof SignalingError) || !retryable(e)) throw e;
      this.lastSignalingError = `${e.code}: ${e.message}`;
    }
    // The client keeps reconnecting in the background: wait for a later join, bounded.
    return new Promise<PeerId[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new SignalingError('unreachable', `signaling server ${this.opts.signaling} not reachable within ${this.limits.signaling_wait_ms} ms (last: ${this.lastSignalingError ?? 'no answer'})`));
      }, this.limits.signaling_wait_ms);
      const off = this.signaling.onJoined((peers) => {
        clearTimeout(timer);
        off();
        resolve(peers);
      });
    });
  }

  private scheduleLookAround(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.stuckTimer);
    this.stuckTimer = setTimeout(() => void this.lookAround(), delayMs);
  }

  /**
   * While joining: probe the peers we know (at once, then every refresh_interval_ms) and
   * join through those that are members; the server's list may name joiners and scouts
   * too, which cannot answer a join. Once stuck (stuck_ms), refresh the list from the
   * server and, if no ring is in sight, elect a creator (see the file comment).
   */
  private async lookAround(): Promise<void> {
    if (this.closed || this.driver.ringStatus !== 'joining') return;
    const stuck = Date.now() - this.startedAt >= this.limits.stuck_ms;
    try {
      let peers = this.known;
      if (stuck) {
        this.counters.stuck_rounds++;
        peers = (await this.signaling.peers()).filter((p) => p !== this.id);
        this.known = peers;
        if (this.closed || this.driver.ringStatus !== 'joining') return;
        if (peers.length === 0) {
          // Everyone we knew is gone from the room and nobody else is there.
          this.counters.rings_created++;
          this.driver.createRingInstead();
          return;
        }
      }
      const answers = await this.driver.probeMembership(peers, this.limits.probe_timeout_ms);
      if (this.closed || this.driver.ringStatus !== 'joining') return;
      const members = peers.filter((p) => answers.get(p) === 'member');
      if (members.length > 0) this.driver.joinVia(members);
      else if (stuck && peers.every((p) => answers.get(p) === 'not-member') && peers.every((p) => this.id < p)) {
        this.counters.rings_created++;
        this.driver.createRingInstead();
        return;
      } else if (stuck) this.driver.addJoinContacts(peers);
    } catch {
      // Server unreachable right now: try again next round.
    }
    this.scheduleLookAround(this.limits.refresh_interval_ms);
  }

  private viaOverlay(to: PeerId, data: Json): void {
    this.counters.signals_out_overlay++;
    void this.driver.request({ op: 'signal', to, data }).then((r) => {
      if (!r.ok) this.counters.signals_dropped++;
    });
  }

  private viaSignaling(to: PeerId, data: Json): boolean {
    try {
      if (!this.signaling.signal(to, data)) return false;
    } catch {
      return false; // refused before sending (too large for the server): the overlay may take it
    }
    this.counters.signals_out_server++;
    return true;
  }

  private rememberServer(peer: PeerId): void {
    this.viaServer.delete(peer);
    this.viaServer.add(peer);
    if (this.viaServer.size > this.limits.carriers_max) this.viaServer.delete(this.viaServer.values().next().value as PeerId);
  }

  private takeCopyToken(): boolean {
    const now = Date.now();
    const rate = this.limits.server_copies_per_second_max;
    this.copyTokens = Math.min(rate, this.copyTokens + ((now - this.copyRefillAt) / 1000) * rate);
    this.copyRefillAt = now;
    if (this.copyTokens < 1) return false;
    this.copyTokens--;
    return true;
  }

  /** Passes a signal on once: the copy that arrives second (other carrier) is dropped. */
  private receiveSignal(from: PeerId, data: Json): void {
    const key = `${from}:${JSON.stringify(data)}`;
    const now = Date.now();
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.limits.seen_signal_ttl_ms) {
      this.counters.signals_duplicate++;
      return;
    }
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.limits.seen_signals_max) this.seen.delete(this.seen.keys().next().value as string);
    this.emitSignal(from, data);
  }

  private emitSignal(from: PeerId, data: Json): void {
    for (const l of this.signalListeners) {
      try {
        l(from, data);
      } catch (e) {
        setTimeout(() => {
          throw e;
        }, 0);
      }
    }
  }
}

/**
 * An id for a new peer: the middle of a large gap between the known peers (balanced ranges
 * spread each key's r replicas over r peers). chooseJoinId always takes the largest gap, so
 * tabs that open at the same moment with the same list land next to each other; here a gap
 * is drawn among those at least 3/4 of the largest (the near-equal ones of a balanced ring,
 * never one of half the size), and the point within it varies by up to 1/16 of the gap.
 */
export function placeNewPeer(known: readonly PeerId[], random: () => number): PeerId {
  const ids = [...new Set(known)].sort((a, b) => a - b);
  if (ids.length === 0) return chooseJoinId(ids, random);
  // One known peer: its opposite, varied by at most 1/2048 of the circle. (The exact opposite
  // gave every tab opened at once beside a ring of one the same id, and the server refused
  // all but one; a wide variation unbalances the ring, and a peer whose range exceeds a
  // quarter holds two replicas of some keys.)
  const gaps = ids.map((lo, i) => ({ lo, size: ids.length === 1 ? ID_SPACE : dist(lo, ids[(i + 1) % ids.length]!) }));
  const largest = Math.max(...gaps.map((g) => g.size));
  const wide = gaps.filter((g) => g.size >= 0.75 * largest);
  const g = wide[Math.floor(random() * wide.length)]!;
  const spread = ids.length === 1 ? g.size / 1024 : g.size / 8;
  const offset = Math.floor(g.size / 2 + (random() - 0.5) * spread);
  return addId(g.lo, Math.min(g.size - 1, Math.max(1, offset)) % ID_SPACE);
}

/**
 * Signaling data as JSON: what JSON.stringify would send (an envelope may carry undefined
 * fields, e.g. a destination nonce not known yet); undefined when it is not serializable.
 */
function asJson(data: unknown): Json | undefined {
  if (isJson(data)) return data;
  try {
    const text = JSON.stringify(data);
    if (text === undefined) return undefined;
    const parsed: unknown = JSON.parse(text);
    return isJson(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Failures a later attempt may fix (the server is down or restarting). */
function retryable(e: SignalingError): boolean {
  // duplicate-peer: our id is still held by the socket of our previous life (a tab that
  // reloads comes back before the server noticed the old page is gone); it goes away.
  return e.code === 'unreachable' || e.code === 'timeout' || e.code === 'disconnected' || e.code === 'server-full' || e.code === 'rate-limited' || e.code === 'duplicate-peer';
}

/**
 * The peers of the room, seen under a throwaway id, so that a new peer can place itself
 * between them. The scout leaves at once; peers that saw it in a list meanwhile find it
 * silent and move on.
 */
async function scout(opts: RuntimePeerOptions, limits: BootstrapLimits, random: () => number): Promise<PeerId[]> {
  const deadline = Date.now() + limits.signaling_wait_ms;
  for (let attempt = 0; ; attempt++) {
    const client = new SignalingClient({ url: opts.signaling, WebSocket: opts.WebSocket, reconnect: false, connectTimeoutMs: limits.signaling_connect_timeout_ms });
    try {
      return await client.join(opts.room, randomId(random));
    } catch (e) {
      if (!(e instanceof SignalingError) || !retryable(e) || Date.now() + 500 * 2 ** attempt > deadline) {
        throw new SignalingError(e instanceof SignalingError ? e.code : 'unreachable', `cannot find the ring of room "${opts.room}": ${e instanceof Error ? e.message : String(e)}`);
      }
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, Math.min(4_000, 500 * 2 ** attempt)));
  }
}
