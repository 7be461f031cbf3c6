/**
 * Client of the bootstrap signaling server, for browsers and Node alike: it only needs a
 * WebSocket constructor (the global one in browsers; in Node 20, which has none, pass
 * `ws`'s). The ring must be able to live without the server, so every failure surfaces
 * as a rejected promise or an error event with a code, never as a hang or a throw from
 * a callback, and the client keeps reconnecting with backoff in the background.
 *
 *   const client = new SignalingClient({ url, WebSocket });
 *   client.onSignal((from, data) => ...);
 *   const peers = await client.join('my-app', myId);   // rejects: 'unreachable' | 'timeout' | 'room-full' | ...
 *   client.signal(peers[0], offer);
 *
 * join() settles once, with the outcome of the first attempt. Whatever that outcome, the
 * client keeps trying (unless `reconnect: false`, a permanent refusal, or close()), and
 * every later successful (re)join is reported through onJoined with a fresh peer list.
 * Calling join() again with the same room and id retries at once instead of waiting out
 * the backoff.
 */
import type { Json, PeerId } from '../src/core/types.ts';
import { checkSignalData, CloseCode, isPeerId, isRoomName, parseServerMessage, type ClientMessage, type ErrorCode } from './protocol.ts';

/** A method-typed handler, so both the DOM and `ws` event shapes are accepted (parameter bivariance). */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

/** The part of the WebSocket API this client uses; the DOM WebSocket and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ readonly data: unknown }> | null;
  onclose: Handler<{ readonly code: number; readonly reason: string }> | null;
  onerror: Handler<unknown> | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type SignalingErrorCode =
  | 'unreachable' // could not open the socket (nothing listening, DNS, refused, closed before joining)
  | 'timeout' // no `joined` within connectTimeoutMs, no reply to peers(), or the server went silent
  | 'disconnected' // an established connection dropped
  | 'not-connected' // peers() while not joined
  | 'closed' // close() was called
  | 'replaced' // another connection took over this peer id; the client stops
  | 'invalid-argument' // bad room, peer id or signal payload (caught before sending)
  | ErrorCode; // refused by the server (see protocol.ts)

export class SignalingError extends Error {
  /** A SignalingErrorCode, or a server code this version does not know. */
  readonly code: SignalingErrorCode | (string & {});
  /** The peer a failed signal was meant for, when the server names it. */
  readonly peer: PeerId | undefined;

  constructor(code: SignalingErrorCode | (string & {}), message: string, peer?: PeerId) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
    this.peer = peer;
  }
}

export type SignalingState = 'idle' | 'connecting' | 'joined' | 'reconnecting' | 'closed';

export interface SignalingClientOptions {
  /** ws:// or wss:// address of the server. */
  url: string;
  /** WebSocket implementation; defaults to globalThis.WebSocket (absent in Node 20: pass `ws`). */
  WebSocket?: WebSocketConstructor;
  /** Milliseconds for one attempt to open the socket and be joined. Default 5000. */
  connectTimeoutMs?: number;
  /** Milliseconds to wait for the reply to peers(). Default 5000. */
  requestTimeoutMs?: number;
  /** Milliseconds between pings; two intervals of silence mean the server is gone. Default 15000. */
  pingIntervalMs?: number;
  /** Keep reconnecting after failures and drops. Default true. */
  reconnect?: boolean;
  /** First reconnect delay in ms, doubled per failed attempt up to backoffMaxMs, with jitter. Defaults 500 and 15000. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Jitter source (tests can make it deterministic). Default Math.random. */
  random?: () => number;
}

/** Refusals that no retry can fix: the client stops instead of hammering the server. */
const PERMANENT_JOIN_ERRORS: ReadonlySet<string> = new Set(['invalid-message', 'already-joined', 'invalid-json']);

const OPEN = 1;

interface PendingPeers {
  resolve: (peers: PeerId[]) => void;
  reject: (err: SignalingError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** Timed out already; stays queued so a late reply is matched to it, not to the next call. */
  settled: boolean;
}

export class SignalingClient {
  private readonly url: string;
  private readonly WS: WebSocketConstructor;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly reconnect: boolean;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;

  private state: SignalingState = 'idle';
  private target: { room: string; peerId: PeerId } | null = null;
  private joinPromise: Promise<PeerId[]> | null = null;
  private joinWaiter: { resolve: (peers: PeerId[]) => void; reject: (err: SignalingError) => void } | null = null;
  private ws: WebSocketLike | null = null;
  /** The server's error frame received before being joined: the best explanation for a close that follows. */
  private refusal: SignalingError | null = null;
  private attempt = 0;
  private lastFrameAt = 0;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pendingPeers: PendingPeers[] = [];

  private readonly signalHandlers = new Set<(from: PeerId, data: Json) => void>();
  private readonly joinedHandlers = new Set<(peers: PeerId[]) => void>();
  private readonly errorHandlers = new Set<(err: SignalingError) => void>();
  private readonly stateHandlers = new Set<(state: SignalingState) => void>();

  constructor(options: SignalingClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) {
      throw new TypeError("no global WebSocket in this runtime: pass options.WebSocket (in Node: import { WebSocket } from 'ws')");
    }
    this.WS = WS;
    this.url = options.url;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
    this.pingIntervalMs = options.pingIntervalMs ?? 15_000;
    this.reconnect = options.reconnect ?? true;
    this.backoffInitialMs = options.backoffInitialMs ?? 500;
    this.backoffMaxMs = options.backoffMaxMs ?? 15_000;
    this.random = options.random ?? Math.random;
  }

  get currentState(): SignalingState {
    return this.state;
  }

  /** Joins `room` as `peerId`; resolves with up to 8 other peers, most recently seen first. */
  join(room: string, peerId: PeerId): Promise<PeerId[]> {
    if (!isRoomName(room)) return Promise.reject(new SignalingError('invalid-argument', 'room must be 1-64 characters of [A-Za-z0-9._-]'));
    if (!isPeerId(peerId)) return Promise.reject(new SignalingError('invalid-argument', 'peerId must be an integer in [0, 2^52)'));
    if (this.state === 'closed') return Promise.reject(new SignalingError('closed', 'signaling client is closed'));
    if (this.target !== null) {
      if (this.target.room !== room || this.target.peerId !== peerId) {
        return Promise.reject(new SignalingError('already-joined', `already joining ${this.target.room} as ${this.target.peerId}`));
      }
      // Same room and id again: the pending attempt, a fresh list if joined, or (while
      // waiting out a backoff) a new attempt right now, since the caller asked for one.
      if (this.joinWaiter !== null && this.joinPromise !== null) return this.joinPromise;
      if (this.state === 'joined') return this.peers();
    }
    this.target = { room, peerId };
    this.joinPromise = new Promise<PeerId[]>((resolve, reject) => {
      this.joinWaiter = { resolve, reject };
    });
    if (this.ws === null) {
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.connect();
    }
    return this.joinPromise;
  }

  /** Fresh list of peers of the room. Rejects with 'not-connected' unless joined. */
  peers(): Promise<PeerId[]> {
    if (this.state !== 'joined' || this.ws === null) {
      return Promise.reject(new SignalingError('not-connected', `not joined to ${this.url} (state ${this.state})`));
    }
    return new Promise<PeerId[]>((resolve, reject) => {
      const entry: PendingPeers = {
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => {
          entry.settled = true;
          reject(new SignalingError('timeout', `no reply to peers() within ${this.requestTimeoutMs} ms`));
        }, this.requestTimeoutMs),
      };
      this.pendingPeers.push(entry);
      this.send({ type: 'peers' });
    });
  }

  /**
   * Relays `data` to peer `to` through the server. Best effort: returns false when not
   * joined (nothing sent); a refusal by the server (unknown-peer, peer-busy, rate-limited)
   * arrives as an error event naming the peer. Throws 'invalid-argument' for a bad target
   * or payload, which is a bug in the caller rather than a network condition.
   */
  signal(to: PeerId, data: Json): boolean {
    if (!isPeerId(to)) throw new SignalingError('invalid-argument', 'signal target must be an integer in [0, 2^52)');
    const refused = checkSignalData(data);
    if (refused !== null) throw new SignalingError('invalid-argument', refused.reason);
    if (this.state !== 'joined' || this.ws === null) return false;
    return this.send({ type: 'signal', to, data });
  }

  onSignal(handler: (from: PeerId, data: Json) => void): () => void {
    return subscribe(this.signalHandlers, handler);
  }

  /** Every successful join and rejoin, with the peer list the server gave. */
  onJoined(handler: (peers: PeerId[]) => void): () => void {
    return subscribe(this.joinedHandlers, handler);
  }

  /** Connection failures, drops and server refusals. */
  onError(handler: (err: SignalingError) => void): () => void {
    return subscribe(this.errorHandlers, handler);
  }

  onState(handler: (state: SignalingState) => void): () => void {
    return subscribe(this.stateHandlers, handler);
  }

  /** Leaves for good: closes the socket, stops reconnecting, fails pending calls with 'closed'. */
  close(): void {
    if (this.state === 'closed') return;
    this.stop(new SignalingError('closed', 'signaling client closed'));
  }

  private setState(state: SignalingState): void {
    if (this.state === state) return;
    this.state = state;
    for (const h of this.stateHandlers) h(state);
  }

  private emitError(err: SignalingError): void {
    for (const h of this.errorHandlers) h(err);
  }

  private send(message: ClientMessage): boolean {
    const ws = this.ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  private connect(): void {
    if (this.state === 'closed' || this.target === null) return;
    this.reconnectTimer = null;
    this.refusal = null;
    if (this.state !== 'reconnecting') this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url);
    } catch (e) {
      // A malformed URL throws synchronously (SyntaxError in browsers).
      this.attemptFailed(new SignalingError('unreachable', `cannot open ${this.url}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      this.dropSocket(new SignalingError('timeout', `no join answer from ${this.url} within ${this.connectTimeoutMs} ms`));
    }, this.connectTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws || this.target === null) return;
      this.lastFrameAt = Date.now();
      this.send({ type: 'join', room: this.target.room, peerId: this.target.peerId });
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.onFrame(event.data);
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.onSocketClosed(event.code, event.reason);
    };
    // Error events carry no detail in browsers; the close event that follows is handled.
    ws.onerror = () => {};
  }

  private onFrame(data: unknown): void {
    this.lastFrameAt = Date.now();
    if (typeof data !== 'string') {
      this.emitError(new SignalingError('invalid-message', 'server sent a binary frame'));
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      this.emitError(new SignalingError(parsed.code, `bad frame from server: ${parsed.reason}`));
      return;
    }
    const m = parsed.value;
    switch (m.type) {
      case 'joined':
        return this.onJoinedFrame(m.peers);
      case 'peers': {
        const entry = this.pendingPeers.shift();
        if (entry !== undefined && !entry.settled) {
          clearTimeout(entry.timer);
          entry.resolve(m.peers);
        }
        return;
      }
      case 'signal':
        for (const h of this.signalHandlers) h(m.from, m.data);
        return;
      case 'pong':
        return;
      case 'error': {
        const err = new SignalingError(m.code, `signaling server: ${m.message}`, m.peer);
        if (m.re === 'peers') {
          const entry = this.pendingPeers.shift();
          if (entry !== undefined && !entry.settled) {
            clearTimeout(entry.timer);
            entry.reject(err);
          }
          return;
        }
        if (this.state !== 'joined') {
          this.refusal = err;
          if (m.re === 'join') {
            if (PERMANENT_JOIN_ERRORS.has(m.code)) return this.stop(err);
            return this.dropSocket(err);
          }
          return;
        }
        this.emitError(err);
        return;
      }
    }
  }

  private onJoinedFrame(peers: PeerId[]): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.attempt = 0;
    this.refusal = null;
    this.startPing();
    this.setState('joined');
    const waiter = this.joinWaiter;
    this.joinWaiter = null;
    waiter?.resolve(peers);
    for (const h of this.joinedHandlers) h(peers);
  }

  private startPing(): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      // Browsers hide WebSocket pings, and a vanished server (host down, network cut)
      // raises no close event for a long time: silence over two intervals means dead.
      if (Date.now() - this.lastFrameAt > 2 * this.pingIntervalMs) {
        this.dropSocket(new SignalingError('timeout', `no frame from ${this.url} for ${2 * this.pingIntervalMs} ms`));
        return;
      }
      this.send({ type: 'ping' });
    }, this.pingIntervalMs);
  }

  private onSocketClosed(code: number, reason: string): void {
    const wasJoined = this.state === 'joined';
    this.releaseSocket();
    const detail = `close code ${code}${reason ? `: ${reason}` : ''}`;
    if (code === CloseCode.replaced) {
      return this.stop(new SignalingError('replaced', `another connection took over this peer id (${detail})`));
    }
    const err =
      this.refusal ??
      (wasJoined
        ? new SignalingError('disconnected', `connection to ${this.url} lost (${detail})`)
        : new SignalingError('unreachable', `could not reach signaling server ${this.url} (${detail})`));
    this.attemptFailed(err);
  }

  /** Gives up on the current socket without waiting for its close event (which may never come). */
  private dropSocket(err: SignalingError): void {
    const ws = this.ws;
    this.releaseSocket();
    if (ws !== null) closeQuietly(ws);
    this.attemptFailed(err);
  }

  private releaseSocket(): void {
    this.ws = null;
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.connectTimer = null;
    this.pingTimer = null;
    const pending = this.pendingPeers;
    this.pendingPeers = [];
    for (const entry of pending) {
      clearTimeout(entry.timer);
      if (!entry.settled) entry.reject(new SignalingError('disconnected', 'connection to the signaling server lost'));
    }
  }

  private attemptFailed(err: SignalingError): void {
    if (this.state === 'closed') return;
    if (!this.reconnect) return this.stop(err);
    const waiter = this.joinWaiter;
    this.joinWaiter = null;
    const delay = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** this.attempt) * (0.5 + this.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 30);
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
    waiter?.reject(err);
    this.emitError(err);
  }

  private stop(err: SignalingError): void {
    const ws = this.ws;
    this.releaseSocket();
    if (ws !== null) closeQuietly(ws);
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.setState('closed');
    const waiter = this.joinWaiter;
    this.joinWaiter = null;
    waiter?.reject(err);
    if (err.code !== 'closed') this.emitError(err);
  }
}

function subscribe<H>(set: Set<H>, handler: H): () => void {
  set.add(handler);
  return () => {
    set.delete(handler);
  };
}

function closeQuietly(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  // Keep an error listener: Node's `ws` emits 'error' when a connecting socket is closed,
  // and an EventEmitter error without a listener would crash the process.
  ws.onerror = () => {};
  try {
    ws.close(1000, 'client closing');
  } catch {
    // Closing a socket that never opened may throw in some implementations; it is gone either way.
  }
}
