/**
 * Bootstrap signaling server (Node, `ws`). A joining peer learns a few peers of its room
 * and relays its first offer/answer through here; everything later goes through the
 * overlay, so the ring does not depend on this process staying up.
 *
 * Robustness model: one misbehaving socket must never hurt the others. Every message
 * costs a token (per-socket bucket) before it is even decoded; bad input gets an error
 * frame and the socket stays usable; a socket that keeps flooding is closed (1008);
 * frames above frame_bytes_max are refused by `ws` while arriving (1009); dead sockets
 * are found by heartbeat and terminated. See limits.ts for every bound.
 *
 * Duplicate peer ids: a join for an id already held in the room triggers a liveness probe
 * of the holder (a `ws` ping). If the holder answers (pong or any frame) within
 * duplicate_probe_ms the newcomer gets `duplicate-peer`; if it does not, or it closes,
 * the newcomer takes the id and the old socket is closed with 4001 `replaced`. This lets a
 * reloaded tab rejoin under its stored identity at once, even before the server has
 * noticed that the old page's socket is gone, while two live sockets can never steal an
 * id from each other (which would make them evict each other in a loop).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { PeerId } from '../src/core/types.ts';
import { resolveLimits, TokenBucket, type SignalingLimits } from './limits.ts';
import { CloseCode, parseClientMessage, type ClientMessageType, type ErrorCode, type ServerMessage } from './protocol.ts';
import { Rooms } from './rooms.ts';

export type LogFields = Record<string, string | number | boolean | undefined>;
/** One call per notable event; the default writes one JSON line to stderr. */
export type LogFn = (event: string, fields: LogFields) => void;

export interface SignalingServerOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Loopback by default: exposing the server is a deliberate choice. */
  host?: string;
  limits?: Partial<SignalingLimits>;
  log?: LogFn;
}

export interface SignalingStats {
  connections: number;
  rooms: number;
  peers: number;
  /** Frames received (all, including refused ones). */
  messages: number;
  /** Signals delivered to their target. */
  relayed: number;
  /** Error frames sent, by code. */
  errors: Partial<Record<ErrorCode, number>>;
  /** Sockets closed for flooding, for not reading, or for breaking the WebSocket protocol (frame above frame_bytes_max, bad UTF-8). */
  closedForAbuse: number;
}

export interface SignalingServer {
  port: number;
  url: string;
  limits: Readonly<SignalingLimits>;
  close(): Promise<void>;
  stats(): SignalingStats;
}

interface Probe {
  room: string;
  peerId: PeerId;
  holder: Conn;
  timer: ReturnType<typeof setTimeout>;
}

interface Conn {
  id: number;
  ws: WebSocket;
  addr: string;
  openedAt: number;
  /** Last frame of any kind (message or pong): liveness. */
  lastSeen: number;
  bucket: TokenBucket;
  violations: number;
  /** Whether the current rate-limit episode was logged (one line per episode, not per frame). */
  rateLogged: boolean;
  joined: { room: string; peerId: PeerId } | null;
  /** Set while this socket waits for the holder of its peer id to prove alive. */
  probe: Probe | null;
  /** Set on a holder being probed: the socket waiting for its id. */
  probedBy: Conn | null;
  /** Server-initiated close under way (terminate timer). */
  closing: ReturnType<typeof setTimeout> | null;
}

export function stderrLog(event: string, fields: LogFields): void {
  process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ev: event, ...fields })}\n`);
}

function rawByteLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

export function startSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const { port = 0, host = '127.0.0.1' } = options;
  const limits = resolveLimits(options.limits);
  const log = options.log ?? stderrLog;
  const now = (): number => performance.now();

  const rooms = new Rooms<Conn>(limits);
  const conns = new Set<Conn>();
  const stats = { messages: 0, relayed: 0, closedForAbuse: 0, errors: {} as Partial<Record<ErrorCode, number>> };
  let nextConnId = 1;
  let shuttingDown = false;

  // Plain HTTP requests get a hint instead of a hang; only upgrades are served.
  const http = createServer((_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
    res.end('tabring signaling server: connect with a WebSocket\n');
  });
  // perMessageDeflate off: compression would let a small frame expand into a large one.
  const wss = new WebSocketServer({ server: http, maxPayload: limits.frame_bytes_max, perMessageDeflate: false });

  function closeConn(conn: Conn, code: number, reason: string): void {
    if (conn.closing !== null) return;
    conn.ws.close(code, reason);
    // A dead or hostile peer may never answer the close frame; do not wait ws's 30 s.
    conn.closing = setTimeout(() => conn.ws.terminate(), limits.shutdown_grace_ms);
    conn.closing.unref();
  }

  /** Sends to the socket itself; a socket that does not read its own replies is closed. */
  function reply(conn: Conn, message: ServerMessage): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    if (conn.ws.bufferedAmount > limits.send_buffer_bytes_max) {
      stats.closedForAbuse++;
      log('slow-consumer', { conn: conn.id, buffered: conn.ws.bufferedAmount });
      closeConn(conn, CloseCode.slowConsumer, 'send buffer full: not reading');
      return;
    }
    conn.ws.send(JSON.stringify(message));
  }

  function fail(conn: Conn, code: ErrorCode, message: string, re?: ClientMessageType, peer?: PeerId, quiet = false): void {
    stats.errors[code] = (stats.errors[code] ?? 0) + 1;
    if (!quiet) log('refused', { conn: conn.id, code, re, reason: message.slice(0, 120) });
    const frame: ServerMessage = { type: 'error', code, message };
    if (re !== undefined) frame.re = re;
    if (peer !== undefined) frame.peer = peer;
    reply(conn, frame);
  }

  function admit(conn: Conn, room: string, peerId: PeerId): void {
    conn.joined = { room, peerId };
    log('join', { conn: conn.id, room, peer: peerId, size: rooms.size(room) });
    reply(conn, { type: 'joined', peers: rooms.peersFor(room, peerId) });
  }

  function endProbe(joiner: Conn): Probe | null {
    const probe = joiner.probe;
    if (probe === null) return null;
    clearTimeout(probe.timer);
    joiner.probe = null;
    if (probe.holder.probedBy === joiner) probe.holder.probedBy = null;
    return probe;
  }

  function join(conn: Conn, room: string, peerId: PeerId): void {
    if (conn.joined !== null) {
      if (conn.joined.room === room && conn.joined.peerId === peerId) {
        rooms.touch(room, peerId);
        reply(conn, { type: 'joined', peers: rooms.peersFor(room, peerId) });
      } else {
        fail(conn, 'already-joined', `this socket is already ${conn.joined.peerId} in room ${conn.joined.room}`, 'join');
      }
      return;
    }
    if (conn.probe !== null) {
      fail(conn, 'invalid-message', 'a join is already waiting for the duplicate-peer probe', 'join');
      return;
    }
    const result = rooms.join(room, peerId, conn);
    if (result.ok) return admit(conn, room, peerId);
    if (result.code !== 'duplicate-peer') {
      const why = result.code === 'room-full' ? `room has ${limits.room_peers_max} peers` : `server holds ${limits.rooms_max} rooms`;
      return fail(conn, result.code, why, 'join');
    }
    const holder = result.holder;
    if (holder.ws.readyState !== WebSocket.OPEN) return takeOver(conn, holder, room, peerId);
    if (holder.probedBy !== null) {
      return fail(conn, 'duplicate-peer', `peer ${peerId} is held by another socket and already being probed`, 'join', peerId);
    }
    const timer = setTimeout(() => {
      endProbe(conn);
      takeOver(conn, holder, room, peerId);
    }, limits.duplicate_probe_ms);
    timer.unref();
    conn.probe = { room, peerId, holder, timer };
    holder.probedBy = conn;
    log('duplicate-probe', { conn: conn.id, holder: holder.id, room, peer: peerId });
    holder.ws.ping();
  }

  /** The holder of `peerId` failed the probe (or is closing): `conn` takes the id. */
  function takeOver(conn: Conn, holder: Conn, room: string, peerId: PeerId): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    if (rooms.member(room, peerId) !== holder || !rooms.replace(room, peerId, conn)) {
      // The holder left meanwhile; join normally (limits apply again).
      return join(conn, room, peerId);
    }
    holder.joined = null;
    log('replaced', { conn: holder.id, by: conn.id, room, peer: peerId });
    closeConn(holder, CloseCode.replaced, 'replaced by a newer connection with the same peer id');
    admit(conn, room, peerId);
  }

  /** Any frame from `conn` proves it alive, which settles a probe against it. */
  function seen(conn: Conn, t: number): void {
    conn.lastSeen = t;
    const joiner = conn.probedBy;
    if (joiner !== null) {
      const probe = endProbe(joiner);
      if (probe !== null) {
        fail(joiner, 'duplicate-peer', `peer ${probe.peerId} is held by another live socket`, 'join', probe.peerId);
      }
    }
  }

  function onMessage(conn: Conn, data: RawData, isBinary: boolean): void {
    const t = now();
    stats.messages++;
    seen(conn, t);
    if (conn.closing !== null) return;
    // Rate limit first, before decoding anything: refusing must be cheaper than serving.
    if (!conn.bucket.take(t)) {
      conn.violations++;
      if (conn.violations > limits.rate_violations_max) {
        stats.closedForAbuse++;
        log('flood-close', { conn: conn.id, violations: conn.violations });
        closeConn(conn, CloseCode.policy, 'rate limit exceeded');
        return;
      }
      if (!conn.rateLogged) log('rate-limited', { conn: conn.id, violations: conn.violations });
      conn.rateLogged = true;
      fail(conn, 'rate-limited', `more than ${limits.messages_per_second_max} messages per second`, undefined, undefined, true);
      return;
    }
    conn.rateLogged = false;
    if (isBinary) return fail(conn, 'invalid-message', 'binary frames are not accepted: send JSON text');
    const bytes = rawByteLength(data);
    if (bytes > limits.message_bytes_max) {
      return fail(conn, 'oversized', `message is ${bytes} bytes, limit ${limits.message_bytes_max}`);
    }
    const parsed = parseClientMessage(rawToString(data), limits);
    if (!parsed.ok) return fail(conn, parsed.code, parsed.reason);
    const message = parsed.value;
    if (message.type === 'join') return join(conn, message.room, message.peerId);
    const me = conn.joined;
    // Any valid message (pings too) makes the sender "recently seen": peers that keep
    // talking are the likeliest to be alive when handed to a newcomer.
    if (me !== null) rooms.touch(me.room, me.peerId);
    if (message.type === 'ping') return reply(conn, { type: 'pong' });
    if (me === null) return fail(conn, 'not-joined', `join a room before sending ${message.type}`, message.type);
    if (message.type === 'peers') return reply(conn, { type: 'peers', peers: rooms.peersFor(me.room, me.peerId) });
    // signal
    const target = rooms.member(me.room, message.to);
    if (target === undefined || target.ws.readyState !== WebSocket.OPEN) {
      return fail(conn, 'unknown-peer', `peer ${message.to} is not in room ${me.room}`, 'signal', message.to, true);
    }
    // A target that does not read must not make the server buffer without bound, and a
    // sender must not be able to get it closed: drop the message and tell the sender.
    if (target.ws.bufferedAmount > limits.send_buffer_bytes_max) {
      return fail(conn, 'peer-busy', `peer ${message.to} is not reading`, 'signal', message.to);
    }
    target.ws.send(JSON.stringify({ type: 'signal', from: me.peerId, data: message.data } satisfies ServerMessage));
    stats.relayed++;
  }

  function onClose(conn: Conn, code: number, reason: string): void {
    conns.delete(conn);
    if (conn.closing !== null) clearTimeout(conn.closing);
    endProbe(conn);
    if (conn.joined !== null) {
      const { room, peerId } = conn.joined;
      conn.joined = null;
      if (rooms.leave(room, peerId, conn)) log('leave', { conn: conn.id, room, peer: peerId, size: rooms.size(room) });
    }
    log('close', { conn: conn.id, code, reason: reason.slice(0, 120) });
    // The socket being probed went away: whoever waited for its id can have it now.
    const joiner = conn.probedBy;
    conn.probedBy = null;
    if (joiner !== null) {
      const probe = endProbe(joiner);
      if (probe !== null) join(joiner, probe.room, probe.peerId);
    }
  }

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const addr = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (shuttingDown || conns.size >= limits.connections_max) {
      ws.on('error', () => {});
      stats.errors['server-full'] = (stats.errors['server-full'] ?? 0) + 1;
      log('server-full', { addr, connections: conns.size });
      ws.send(JSON.stringify({ type: 'error', code: 'server-full', message: 'too many connections' } satisfies ServerMessage));
      ws.close(CloseCode.tryAgainLater, 'server full');
      setTimeout(() => ws.terminate(), limits.shutdown_grace_ms).unref();
      return;
    }
    const t = now();
    const conn: Conn = {
      id: nextConnId++,
      ws,
      addr,
      openedAt: t,
      lastSeen: t,
      bucket: new TokenBucket(limits.messages_burst_max, limits.messages_per_second_max, t),
      violations: 0,
      rateLogged: false,
      joined: null,
      probe: null,
      probedBy: null,
      closing: null,
    };
    conns.add(conn);
    log('open', { conn: conn.id, addr, connections: conns.size });
    ws.on('message', (data: RawData, isBinary: boolean) => onMessage(conn, data, isBinary));
    ws.on('pong', () => seen(conn, now()));
    ws.on('close', (code: number, reason: Buffer) => onClose(conn, code, reason.toString('utf8')));
    // ws reports protocol violations here (frame above maxPayload, bad UTF-8) and then
    // closes the socket itself with the matching code.
    ws.on('error', (err: Error) => {
      if (err instanceof RangeError) stats.closedForAbuse++;
      log('socket-error', { conn: conn.id, error: err.message.slice(0, 120) });
    });
  });

  // Heartbeat: find dead sockets (a killed tab may leave a half-open TCP connection)
  // and sockets that never join, which would otherwise hold connection slots forever.
  const heartbeat = setInterval(() => {
    const t = now();
    for (const conn of conns) {
      if (conn.closing !== null) continue;
      if (t - conn.lastSeen > limits.idle_timeout_ms) {
        log('idle', { conn: conn.id, silentMs: Math.round(t - conn.lastSeen) });
        closeConn(conn, CloseCode.idle, 'idle timeout');
      } else if (conn.joined === null && conn.probe === null && t - conn.openedAt > limits.join_timeout_ms) {
        log('join-timeout', { conn: conn.id });
        closeConn(conn, CloseCode.joinTimeout, 'join timeout');
      } else if (conn.ws.readyState === WebSocket.OPEN) {
        conn.ws.ping();
      }
    }
  }, limits.heartbeat_interval_ms);
  heartbeat.unref();

  // ws re-emits the HTTP server's errors here; they are reported from the HTTP server's own
  // handlers below, but an 'error' event without a listener would crash the process.
  wss.on('error', () => {});

  return new Promise<SignalingServer>((resolve, reject) => {
    const onListenError = (err: Error): void => {
      clearInterval(heartbeat);
      reject(err);
    };
    http.once('error', onListenError);
    http.listen(port, host, () => {
      http.off('error', onListenError);
      http.on('error', (err: Error) => log('server-error', { error: err.message }));
      const actualPort = (http.address() as AddressInfo).port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      const url = `ws://${urlHost}:${actualPort}`;
      log('listening', { url });

      let closed: Promise<void> | null = null;
      const close = (): Promise<void> => {
        closed ??= (async () => {
          shuttingDown = true;
          clearInterval(heartbeat);
          for (const conn of conns) closeConn(conn, CloseCode.goingAway, 'server shutting down');
          // With an external HTTP server, ws calls back once every client is gone.
          await new Promise<void>((done) => wss.close(() => done()));
          await new Promise<void>((done) => {
            http.close(() => done());
            http.closeAllConnections();
          });
          log('closed', {});
        })();
        return closed;
      };

      resolve({
        port: actualPort,
        url,
        limits,
        close,
        stats: () => ({
          connections: conns.size,
          rooms: rooms.roomCount,
          peers: rooms.peerCount,
          messages: stats.messages,
          relayed: stats.relayed,
          errors: { ...stats.errors },
          closedForAbuse: stats.closedForAbuse,
        }),
      });
    });
  });
}
