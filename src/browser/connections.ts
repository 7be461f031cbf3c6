/**
 * Page side of the browser transport: negotiates WebRTC connections on the main thread
 * (RTCPeerConnection does not exist in workers) and hands the data path to the worker.
 *
 * For each remote peer: one simple-peer instance (its prebuilt bundle: the package source
 * needs Node globals), and on the same RTCPeerConnection a negotiated data channel with a
 * fixed id that both sides create. That channel is moved into the worker in the task that
 * created it, before any send (later Chromium refuses: "no longer transferable"). If the
 * move fails, the page keeps the channel and relays frames (worker/channel-transport.ts).
 *
 * Who initiates: the smaller peer id. The larger one, asked to connect, sends a 'request'
 * and waits for the offer; so both sides connecting at once (glare) yields one connection.
 *
 * Signals travel through an injected sendSignal (bootstrap server or the overlay: the
 * caller decides) wrapped in an envelope naming the connection attempts on both ends
 * (`src`, `dst` nonces), so signals for a dead attempt or from a restarted peer are told
 * apart. Malformed signals are dropped and counted, never thrown.
 */
import * as simplePeerBundle from 'simple-peer/simplepeer.min.js';
import type { SimplePeerConstructor, SimplePeerInstance } from 'simple-peer/simplepeer.min.js';
import type { PeerId } from '../core/types.ts';
import type { PageToWorker } from '../../worker/channel-transport.ts';

/** The page end of the worker link: a Worker, or a MessagePort to it. */
export interface WorkerPort {
  postMessage(message: PageToWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

export interface ConnectionManagerOptions {
  self: PeerId;
  worker: WorkerPort;
  sendSignal(to: PeerId, data: unknown): void;
  /** Default []: simple-peer's default names public STUN servers, unreachable here. */
  iceServers?: RTCIceServer[];
  /** A connection not open after this long is given up and reported down to the worker. */
  connect_timeout_ms?: number;
  /** false: never move channels, always relay through the page (for measuring, or browsers that cannot move them). */
  transfer_channels?: boolean;
  /** SCTP stream id of the negotiated channel; must be the same on every peer. */
  channel_id?: number;
  /** Connections kept at once; more are refused. About 300 KB each (PLATFORM.md). */
  connections_max?: number;
  /** Relay mode: above this many bytes buffered in the page's channel, frames wait on the page. */
  relay_buffered_bytes_high?: number;
  /** Relay mode: frames waiting on the page beyond this (bytes, UTF-16 x 2) close the connection. */
  relay_backlog_bytes_max?: number;
  /** Close every connection on pagehide (default true). */
  close_on_pagehide?: boolean;
  /** For tests: another simple-peer constructor. */
  SimplePeer?: SimplePeerConstructor;
}

export interface ConnectionStats {
  connections_started: number;
  connections_opened: number;
  connections_refused: number;
  connect_timeouts: number;
  connection_errors: number;
  transfers_failed: number;
  signals_sent: number;
  signals_received: number;
  signals_malformed: number;
  signals_stale: number;
  relay_frames_dropped: number;
}

export interface ConnectionInfo {
  peer: PeerId;
  conn: number;
  initiator: boolean;
  open: boolean;
  relay: boolean;
}

/** What sendSignal carries. `src`: the sender's attempt; `dst`: the receiver's attempt, once known. */
export type SignalEnvelope =
  | { tr: 1; type: 'request'; src: string }
  | { tr: 1; type: 'signal'; src: string; dst?: string; data: SdpSignal | CandidateSignal };

type SdpSignal = { type: 'offer' | 'answer'; sdp: string };
type CandidateSignal = {
  type: 'candidate';
  candidate: { candidate: string; sdpMLineIndex: number | null; sdpMid: string | null };
};

/**
 * The bundle is UMD. Where the bundler wraps it as CommonJS (Vite's dependency optimizer,
 * Node) it has a default export; where it is served as is (a Vite config that does not
 * pre-bundle it, e.g. optimizeDeps.noDiscovery) it runs as a plain script and sets
 * globalThis.SimplePeer instead.
 */
function bundledSimplePeer(): SimplePeerConstructor {
  const found =
    (simplePeerBundle as { default?: SimplePeerConstructor }).default ??
    (globalThis as { SimplePeer?: SimplePeerConstructor }).SimplePeer;
  if (found === undefined) throw new Error('simple-peer bundle did not load');
  return found;
}

const SDP_CHARS_MAX = 64 * 1024;
const CANDIDATE_CHARS_MAX = 1024;
const NONCE_CHARS_MAX = 32;
const PEER_ID_LIMIT = 2 ** 52;

interface Conn {
  readonly peer: PeerId;
  readonly conn: number;
  readonly sp: SimplePeerInstance;
  readonly nonce: string;
  remote: string | undefined;
  readonly initiator: boolean;
  open: boolean;
  /** Only in relay mode: the channel the page kept. */
  channel: RTCDataChannel | null;
  backlog: string[];
  backlogBytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ConnectionManager {
  readonly self: PeerId;
  private readonly worker: WorkerPort;
  private readonly sendSignalFn: (to: PeerId, data: unknown) => void;
  private readonly iceServers: RTCIceServer[];
  private readonly connectTimeoutMs: number;
  private readonly transferChannels: boolean;
  private readonly channelId: number;
  private readonly connectionsMax: number;
  private readonly relayHigh: number;
  private readonly relayBacklogMax: number;
  private readonly Peer: SimplePeerConstructor;
  private readonly conns = new Map<PeerId, Conn>();
  private nextConn = 1;
  private readonly counters: ConnectionStats = {
    connections_started: 0,
    connections_opened: 0,
    connections_refused: 0,
    connect_timeouts: 0,
    connection_errors: 0,
    transfers_failed: 0,
    signals_sent: 0,
    signals_received: 0,
    signals_malformed: 0,
    signals_stale: 0,
    relay_frames_dropped: 0,
  };
  private readonly onWorkerMessage = (event: MessageEvent): void => this.handleWorkerMessage(event.data);
  private readonly onPagehide = (): void => this.close();

  constructor(options: ConnectionManagerOptions) {
    if (!isPeerId(options.self)) throw new Error(`bad peer id ${options.self}`);
    this.self = options.self;
    this.worker = options.worker;
    this.sendSignalFn = options.sendSignal;
    this.iceServers = options.iceServers ?? [];
    this.connectTimeoutMs = options.connect_timeout_ms ?? 10_000;
    this.transferChannels = options.transfer_channels ?? true;
    this.channelId = options.channel_id ?? 1;
    this.connectionsMax = options.connections_max ?? 256;
    this.relayHigh = options.relay_buffered_bytes_high ?? 4 * 1024 * 1024;
    this.relayBacklogMax = options.relay_backlog_bytes_max ?? 64 * 1024 * 1024;
    this.Peer = options.SimplePeer ?? bundledSimplePeer();
    this.worker.addEventListener('message', this.onWorkerMessage);
    (this.worker as { start?: () => void }).start?.(); // a MessagePort must be started
    if (options.close_on_pagehide !== false && typeof globalThis.addEventListener === 'function') {
      globalThis.addEventListener('pagehide', this.onPagehide);
    }
  }

  /** Opens a connection to `peer` unless one exists or is being made. */
  connect(peer: PeerId): void {
    if (!isPeerId(peer) || peer === this.self) return;
    // Made or being made. (An open one the worker lacks would be a race with its 'channel'
    // message in flight: the worker reports every link it drops with 'disconnect' first.)
    if (this.conns.has(peer)) return;
    if (this.conns.size >= this.connectionsMax) {
      this.counters.connections_refused++;
      this.worker.postMessage({ kind: 'link-down', peer, conn: 0, reason: 'too many connections' });
      return;
    }
    const c = this.create(peer, undefined);
    if (!c.initiator) this.signal(c, { tr: 1, type: 'request', src: c.nonce });
  }

  /** A signal from `from` (via server or overlay). Malformed or stale ones are dropped and counted. */
  receiveSignal(from: unknown, data: unknown): void {
    this.counters.signals_received++;
    const env = parseEnvelope(data);
    if (!isPeerId(from) || from === this.self || !env) {
      this.counters.signals_malformed++;
      return;
    }
    let c = this.conns.get(from);
    if (c && env.dst !== undefined && env.dst !== c.nonce) {
      this.counters.signals_stale++; // meant for an earlier attempt of ours
      return;
    }
    if (c && c.remote !== undefined && env.src !== c.remote) {
      // The other side started a new attempt (it restarted, or gave ours up).
      if (c.initiator && env.type === 'signal') {
        this.counters.signals_stale++;
        return;
      }
      this.drop(c, 'peer started a new connection');
      c = undefined;
    }
    const weInitiate = this.self < from;
    if (env.type === 'request') {
      if (!weInitiate) {
        this.counters.signals_malformed++; // the larger id never asks the smaller to wait
        return;
      }
      if (c) c.remote ??= env.src; // glare: our offer is already on its way
      else if (this.conns.size >= this.connectionsMax) this.counters.connections_refused++;
      else this.create(from, env.src);
      return;
    }
    if (!c) {
      if (weInitiate || env.data.type !== 'offer') {
        this.counters.signals_stale++;
        return;
      }
      if (this.conns.size >= this.connectionsMax) {
        this.counters.connections_refused++;
        return;
      }
      c = this.create(from, env.src);
    }
    c.remote ??= env.src;
    try {
      c.sp.signal(env.data);
    } catch {
      this.counters.signals_malformed++;
    }
  }

  /** Closes the connection to `peer`, or all of them. The worker hears link-down for each. */
  close(peer?: PeerId): void {
    if (peer === undefined) for (const c of [...this.conns.values()]) this.drop(c, 'closed');
    else {
      const c = this.conns.get(peer);
      if (c) this.drop(c, 'closed');
    }
  }

  /** Closes everything and stops listening to the worker and the page. */
  dispose(): void {
    this.close();
    this.worker.removeEventListener('message', this.onWorkerMessage);
    if (typeof globalThis.removeEventListener === 'function') globalThis.removeEventListener('pagehide', this.onPagehide);
  }

  connections(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({
      peer: c.peer,
      conn: c.conn,
      initiator: c.initiator,
      open: c.open,
      relay: c.channel !== null,
    }));
  }

  stats(): ConnectionStats {
    return { ...this.counters };
  }

  // ---- internals ----

  private create(peer: PeerId, remote: string | undefined): Conn {
    const initiator = this.self < peer;
    const sp = new this.Peer({ initiator, trickle: true, config: { iceServers: this.iceServers } });
    // Same task as the connection: the channel is still transferable.
    const channel = sp._pc.createDataChannel('tabring', { negotiated: true, id: this.channelId, ordered: true });
    const c: Conn = {
      peer,
      conn: this.nextConn++,
      sp,
      nonce: makeNonce(),
      remote,
      initiator,
      open: false,
      channel: null,
      backlog: [],
      backlogBytes: 0,
      timer: undefined,
    };
    this.conns.set(peer, c);
    this.counters.connections_started++;
    let moved = false;
    if (this.transferChannels) {
      try {
        this.worker.postMessage({ kind: 'channel', peer, conn: c.conn, channel }, [channel]);
        moved = true;
      } catch {
        this.counters.transfers_failed++;
      }
    }
    if (!moved) this.keepForRelay(c, channel);
    const current = (): boolean => this.conns.get(peer) === c;
    sp.on('signal', (data) => {
      if (current()) this.signal(c, { tr: 1, type: 'signal', src: c.nonce, dst: c.remote, data: data as SdpSignal });
    });
    sp.on('connect', () => {
      if (!current()) return;
      c.open = true;
      clearTimeout(c.timer);
      this.counters.connections_opened++;
    });
    sp.on('close', () => {
      if (current()) this.drop(c, 'connection closed');
    });
    sp.on('error', (err) => {
      this.counters.connection_errors++;
      if (current()) this.drop(c, `connection error ${err.code ?? err.message}`);
    });
    c.timer = setTimeout(() => {
      if (!current() || c.open) return;
      this.counters.connect_timeouts++;
      this.drop(c, `not connected after ${this.connectTimeoutMs} ms`);
    }, this.connectTimeoutMs);
    return c;
  }

  /** The channel stays on the page; frames cross to the worker by postMessage. */
  private keepForRelay(c: Conn, channel: RTCDataChannel): void {
    c.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = Math.floor(this.relayHigh / 4);
    const current = (): boolean => this.conns.get(c.peer) === c && c.channel === channel;
    channel.onopen = () => {
      if (current()) this.worker.postMessage({ kind: 'relay-open', peer: c.peer, conn: c.conn });
    };
    channel.onmessage = (event: MessageEvent) => {
      if (current()) this.worker.postMessage({ kind: 'relay-data', peer: c.peer, frame: event.data });
    };
    channel.onclose = () => {
      if (current()) this.drop(c, 'channel closed');
    };
    channel.onbufferedamountlow = () => {
      if (current()) this.drainRelay(c);
    };
  }

  private relaySend(peer: PeerId, frame: unknown): void {
    const c = this.conns.get(peer);
    const ch = c?.channel;
    if (!c || !ch || ch.readyState !== 'open' || typeof frame !== 'string') {
      this.counters.relay_frames_dropped++;
      return;
    }
    if (c.backlog.length > 0 || ch.bufferedAmount > this.relayHigh) {
      c.backlog.push(frame);
      c.backlogBytes += frame.length * 2;
      if (c.backlogBytes > this.relayBacklogMax) this.drop(c, `relay backlog over ${this.relayBacklogMax} bytes`);
      return;
    }
    try {
      ch.send(frame);
    } catch (err) {
      this.drop(c, `relay send failed: ${String(err)}`);
    }
  }

  private drainRelay(c: Conn): void {
    const ch = c.channel!;
    let i = 0;
    try {
      while (i < c.backlog.length && ch.bufferedAmount <= this.relayHigh) {
        const frame = c.backlog[i++]!;
        c.backlogBytes -= frame.length * 2;
        ch.send(frame);
      }
    } catch (err) {
      this.drop(c, `relay send failed: ${String(err)}`);
      return;
    }
    c.backlog.splice(0, i);
  }

  /** Ends a connection and tells the worker (unless it asked for this). */
  private drop(c: Conn, reason: string, tellWorker = true): void {
    if (this.conns.get(c.peer) !== c) return;
    this.conns.delete(c.peer);
    clearTimeout(c.timer);
    if (c.channel) {
      c.channel.onopen = c.channel.onmessage = c.channel.onclose = c.channel.onbufferedamountlow = null;
      c.channel.close();
      c.channel = null;
    }
    c.backlog = [];
    c.sp.destroy();
    if (tellWorker) this.worker.postMessage({ kind: 'link-down', peer: c.peer, conn: c.conn, reason });
  }

  private signal(c: Conn, env: SignalEnvelope): void {
    this.counters.signals_sent++;
    try {
      this.sendSignalFn(c.peer, env);
    } catch {
      // The carrier failed; the connect timeout will report it.
    }
  }

  private handleWorkerMessage(msg: unknown): void {
    // The worker port is shared (comlink uses it too): ignore what is not ours.
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as Partial<Record<string, unknown>>;
    switch (m['kind']) {
      case 'connect':
        if (isPeerId(m['peer'])) this.connect(m['peer']);
        return;
      case 'relay-send':
        if (isPeerId(m['peer'])) this.relaySend(m['peer'], m['frame']);
        return;
      case 'disconnect': {
        const reason = `worker: ${String(m['reason'])}`;
        if (m['peer'] === null) {
          for (const c of [...this.conns.values()]) this.drop(c, reason, false);
          return;
        }
        const c = isPeerId(m['peer']) ? this.conns.get(m['peer']) : undefined;
        // A disconnect for an older connection must not close a newer one.
        if (c && (m['conn'] == null || m['conn'] === c.conn)) this.drop(c, reason, false);
        return;
      }
    }
  }
}

// ---- validation ----

function parseEnvelope(data: unknown): (SignalEnvelope & { dst?: string }) | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Partial<Record<string, unknown>>;
  if (d['tr'] !== 1 || !isNonce(d['src'])) return null;
  if (d['type'] === 'request') return { tr: 1, type: 'request', src: d['src'] };
  if (d['type'] !== 'signal') return null;
  const dst = d['dst'];
  if (dst !== undefined && !isNonce(dst)) return null;
  const inner = parseSignal(d['data']);
  if (!inner) return null;
  return dst === undefined ? { tr: 1, type: 'signal', src: d['src'], data: inner } : { tr: 1, type: 'signal', src: d['src'], dst, data: inner };
}

/** Copies only the fields simple-peer needs, so nothing unexpected reaches it. */
function parseSignal(data: unknown): SdpSignal | CandidateSignal | null {
  if (typeof data !== 'object' || data === null) return null;
  const d = data as Partial<Record<string, unknown>>;
  if (d['type'] === 'offer' || d['type'] === 'answer') {
    const sdp = d['sdp'];
    if (typeof sdp !== 'string' || sdp.length === 0 || sdp.length > SDP_CHARS_MAX) return null;
    return { type: d['type'], sdp };
  }
  if (d['type'] !== 'candidate') return null;
  const c = d['candidate'];
  if (typeof c !== 'object' || c === null) return null;
  const cand = c as Partial<Record<string, unknown>>;
  const text = cand['candidate'];
  const index = cand['sdpMLineIndex'] ?? null;
  const mid = cand['sdpMid'] ?? null;
  if (typeof text !== 'string' || text.length > CANDIDATE_CHARS_MAX) return null;
  if (index !== null && !(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < 1024)) return null;
  if (mid !== null && !(typeof mid === 'string' && mid.length <= 64)) return null;
  return { type: 'candidate', candidate: { candidate: text, sdpMLineIndex: index, sdpMid: mid } };
}

function isNonce(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= NONCE_CHARS_MAX && /^[0-9a-f]+$/.test(s);
}

function isPeerId(p: unknown): p is PeerId {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < PEER_ID_LIMIT;
}

function makeNonce(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
