/**
 * The worker's NetworkAdapter: the data path over RTCDataChannels handed in by the page.
 *
 * RTCPeerConnection exists only on the page's main thread, so the page negotiates each
 * connection (src/browser/connections.ts) and moves a negotiated data channel into the
 * worker in the task that created it (PLATFORM.md: later it is no longer transferable).
 * When a channel could not be moved, the page keeps it and relays frames through
 * postMessage. The worker treats both kinds of link alike: frames go out and come in.
 *
 * Wire format, one data-channel message per frame (any peer runtime must speak it):
 *   'm' + text   the last (usually only) piece of a message
 *   'f' + text   a piece of a message, more follow ('f'... 'm'); pieces never split a
 *                surrogate pair, since the channel carries UTF-8
 *   'p'          heartbeat, sent on an idle link; any frame proves the link alive
 *   'b' + texts  several whole messages, separated by U+0000 (which JSON text never
 *                holds raw; a message that contains it is never batched)
 * Anything else (binary, empty, unknown tag, a message over MESSAGE_BYTES_MAX) is dropped
 * and counted. Pieces exist because Chromium's SCTP limit (262144 bytes) equals
 * MESSAGE_BYTES_MAX, leaving no room for a header, and because big frames delay small
 * ones behind them.
 *
 * Test-only partition switch (setPartition / heal; the worker exposes it as
 * `testing.partition` / `testing.heal`): a browser's network cannot be cut from outside, so
 * the cut sits here, on the data path. While peer P is cut:
 * - every message to P (out) and from P (in), heartbeats included, is dropped at the
 *   transport, silently and whole (never some pieces of a message: a real channel delivers
 *   all of it or breaks). Channels are not closed: the failure detector and the link's own
 *   silence timeout discover the cut by silence, as with a real network cut (the link then
 *   goes down as any silent link does, and the page closes its connection). Frames that
 *   were already waiting for the channel's buffer when the cut began still go out, as
 *   frames in flight would;
 * - no new link to an out-cut peer is started (messages to it are dropped, as they would
 *   vanish into a dead network);
 * - signals for new connections to or from P are dropped (allowsSignal; the worker applies
 *   it to both carriers, the signaling server and the overlay): a WebRTC connection cannot
 *   be negotiated across the cut, as ICE could not connect across a real one. The signaling
 *   server keeps running: after the heal it is how the two sides, each in its own ring,
 *   reach each other again (the overlay of one ring cannot route to the other).
 * heal() lifts the cut and drops links to formerly cut peers that never opened (their
 * negotiation lost its signals), so the next message starts a fresh connection.
 * A cut is one-way when only `in` or only `out` is given; cut both ends for a symmetric one.
 */
import type { PeerId } from '../src/core/types.ts';
import { MESSAGE_BYTES_MAX, NetworkError, type NetworkAdapter } from '../src/adapters/network.ts';
import { messageTooLarge } from '../src/adapters/memory-network.ts';

// ---- messages between the page and the worker (src/browser/connections.ts speaks them) ----

/** Page to worker. */
export type PageToWorker =
  /**
   * A negotiated channel for `peer`, moved here at creation; it opens (or closes) later.
   * `conn` numbers the page's connections, so that a late 'disconnect' cannot hit a newer one.
   */
  | { kind: 'channel'; peer: PeerId; conn: number; channel: RTCDataChannel }
  /** The page could not move the channel: it is open on the page, which relays frames. */
  | { kind: 'relay-open'; peer: PeerId; conn: number }
  /** A frame that arrived on a relayed channel. */
  | { kind: 'relay-data'; peer: PeerId; frame: unknown }
  /** Connection `conn` to `peer` failed to open or went down (also sent for moved channels). */
  | { kind: 'link-down'; peer: PeerId; conn: number; reason: string };

/** Worker to page. */
export type WorkerToPage =
  /** Please open a connection to `peer` (the worker queues messages meanwhile). */
  | { kind: 'connect'; peer: PeerId }
  /** Send this frame on the page's (relayed) channel to `peer`. */
  | { kind: 'relay-send'; peer: PeerId; frame: string }
  /** Close connection `conn` to `peer` (any when conn is null), or every connection when `peer` is null. */
  | { kind: 'disconnect'; peer: PeerId | null; conn: number | null; reason: string };

/** The worker side of the page link: the worker global scope, or a MessagePort. */
export interface PagePort {
  postMessage(message: WorkerToPage): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

export interface ChannelTransportOptions {
  self: PeerId;
  port: PagePort;
  /** Messages kept for a peer while its link opens; more are dropped and counted. */
  queued_messages_per_peer_max?: number;
  /** Bytes (UTF-16 units x 2, what the queue holds in memory) kept for a peer while its link opens. */
  queued_bytes_per_peer_max?: number;
  /** How long a link may take to open before queued messages are dropped; the page usually reports failure first. */
  link_wait_timeout_ms?: number;
  /** An idle open link sends a heartbeat this often. 0 disables heartbeats and silence detection. */
  heartbeat_interval_ms?: number;
  /** An open link that hears nothing this long is declared down (a killed tab sends no close for ~15 s). */
  link_silence_timeout_ms?: number;
  /** Above this many bytes buffered in a channel, frames wait in the worker. */
  channel_buffered_bytes_high?: number;
  /** Frames waiting in the worker beyond this (bytes, UTF-16 x 2) close the link: losing a frame silently would break ordering. */
  backlog_bytes_max?: number;
  /**
   * Frames held while the channel still has data the browser has not handed to SCTP are
   * sent within this many ms even if the channel never reports it drained.
   */
  coalesce_wait_max_ms?: number;
}

/** A network cut for tests (see the file comment). Peers in `in`: what they send us is dropped; in `out`: what we send them. */
export interface PartitionCut {
  in: PeerId[];
  out: PeerId[];
}

export interface ChannelTransportStats {
  messages_sent: number;
  messages_received: number;
  frames_sent: number;
  frames_received: number;
  dropped_queue_full: number;
  dropped_link_failed: number;
  dropped_unknown_peer: number;
  dropped_garbage: number;
  dropped_oversized: number;
  links_opened: number;
  links_down: number;
  links_silent: number;
  links_overflowed: number;
  relay_links: number;
  handler_errors: number;
  /** 'b' frames sent: several messages that waited for a busy channel, in one send. */
  batches_sent: number;
  /** send() calls on data channels (frames, batches and heartbeats; relayed links not counted). */
  channel_sends: number;
  /** Test partition: messages and heartbeats dropped on the way out / frames dropped on the way in; messages to out-cut peers without a link. */
  dropped_partition_out: number;
  dropped_partition_in: number;
  dropped_partition_messages: number;
}

/** Pieces of at most this many UTF-16 units: at most 48 KiB of UTF-8 per frame. */
export const FRAME_CHARS_MAX = 16 * 1024;
const TAG_LAST = 'm';
const TAG_PIECE = 'f';
const TAG_PING = 'p';
const TAG_BATCH = 'b';
const BATCH_SEPARATOR = '\u0000';
const PEER_ID_LIMIT = 2 ** 52;

interface Link {
  readonly peer: PeerId;
  /** The page's number for the connection under this link, once known. */
  conn: number | null;
  channel: RTCDataChannel | null;
  relay: boolean;
  open: boolean;
  /** Messages waiting for the link to open. */
  pending: string[];
  pendingBytes: number;
  waitTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Frames waiting for the channel's buffer to drain, and for each whether it is a whole
   * message (a 'm' frame that may join a batch) rather than a piece or a heartbeat.
   */
  backlog: string[];
  backlogWhole: boolean[];
  /** Fallback for a missed bufferedamountlow event: the backlog is drained by then anyway. */
  backlogTimer: ReturnType<typeof setTimeout> | undefined;
  /** Hold frames while the channel is busy (it fires bufferedamountlow). */
  coalesce: boolean;
  backlogBytes: number;
  /** Pieces of an incoming message; `discarding` skips the rest of an oversized one. */
  pieces: string[];
  pieceChars: number;
  discarding: boolean;
  lastHeard: number;
  lastSent: number;
}

export class ChannelTransport implements NetworkAdapter {
  readonly self: PeerId;
  private readonly port: PagePort;
  private readonly links = new Map<PeerId, Link>();
  private readonly messageHandlers: Array<(from: PeerId, data: string) => void> = [];
  private readonly linkDownHandlers: Array<(peer: PeerId) => void> = [];
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private loopback: string[] = [];
  private readonly queuedMessagesMax: number;
  private readonly queuedBytesMax: number;
  private readonly linkWaitMs: number;
  private readonly heartbeatMs: number;
  private readonly silenceMs: number;
  private readonly bufferedHigh: number;
  private readonly backlogMax: number;
  private readonly coalesceWaitMs: number;
  private readonly counters: ChannelTransportStats = {
    messages_sent: 0,
    messages_received: 0,
    frames_sent: 0,
    frames_received: 0,
    dropped_queue_full: 0,
    dropped_link_failed: 0,
    dropped_unknown_peer: 0,
    dropped_garbage: 0,
    dropped_oversized: 0,
    links_opened: 0,
    links_down: 0,
    links_silent: 0,
    links_overflowed: 0,
    relay_links: 0,
    handler_errors: 0,
    batches_sent: 0,
    channel_sends: 0,
    dropped_partition_out: 0,
    dropped_partition_in: 0,
    dropped_partition_messages: 0,
  };
  /** Test partition: peers whose frames to us / from us are dropped. */
  private cutIn = new Set<PeerId>();
  private cutOut = new Set<PeerId>();
  private readonly onPortMessage = (event: MessageEvent): void => this.handlePageMessage(event.data);

  constructor(options: ChannelTransportOptions) {
    if (!isPeerId(options.self)) throw new Error(`bad peer id ${options.self}`);
    this.self = options.self;
    this.port = options.port;
    this.queuedMessagesMax = options.queued_messages_per_peer_max ?? 512;
    this.queuedBytesMax = options.queued_bytes_per_peer_max ?? 8 * 1024 * 1024;
    this.linkWaitMs = options.link_wait_timeout_ms ?? 15_000;
    this.heartbeatMs = options.heartbeat_interval_ms ?? 1_000;
    this.silenceMs = options.link_silence_timeout_ms ?? 5_000;
    this.bufferedHigh = options.channel_buffered_bytes_high ?? 4 * 1024 * 1024;
    this.backlogMax = options.backlog_bytes_max ?? 64 * 1024 * 1024;
    this.coalesceWaitMs = options.coalesce_wait_max_ms ?? 20;
    this.port.addEventListener('message', this.onPortMessage);
    // A MessagePort delivers nothing to addEventListener listeners until started.
    (this.port as { start?: () => void }).start?.();
  }

  // ---- NetworkAdapter ----

  send(to: PeerId, data: string): void {
    if (this.closed) throw new NetworkError('closed', `peer ${this.self} is closed`);
    if (messageTooLarge(data)) throw new NetworkError('oversized', `message of more than ${MESSAGE_BYTES_MAX} bytes`);
    if (to === this.self) return this.sendToSelf(data);
    if (!isPeerId(to)) {
      this.counters.dropped_unknown_peer++;
      return;
    }
    let link = this.links.get(to);
    if (!link && this.cutOut.has(to)) {
      // Cut: nothing to connect over. An existing link keeps taking messages (sendMessage drops them).
      this.counters.dropped_partition_messages++;
      return;
    }
    if (!link) {
      link = this.newLink(to);
      this.port.postMessage({ kind: 'connect', peer: to });
    }
    if (link.open) {
      this.counters.messages_sent++;
      this.sendMessage(link, data);
      return;
    }
    const bytes = data.length * 2;
    if (link.pending.length >= this.queuedMessagesMax || link.pendingBytes + bytes > this.queuedBytesMax) {
      this.counters.dropped_queue_full++;
      return;
    }
    link.pending.push(data);
    link.pendingBytes += bytes;
  }

  onMessage(handler: (from: PeerId, data: string) => void): void {
    this.messageHandlers.push(handler);
  }

  onLinkDown(handler: (peer: PeerId) => void): void {
    this.linkDownHandlers.push(handler);
  }

  connectedPeers(): PeerId[] {
    const out: PeerId[] = [];
    for (const link of this.links.values()) if (link.open) out.push(link.peer);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.port.removeEventListener('message', this.onPortMessage);
    for (const link of this.links.values()) this.dispose(link);
    this.links.clear();
    this.stopHeartbeat();
    this.port.postMessage({ kind: 'disconnect', peer: null, conn: null, reason: 'closed' });
  }

  stats(): ChannelTransportStats {
    return { ...this.counters };
  }

  // ---- test-only partition switch (see the file comment) ----

  /** Replaces the current cut: what comes from `cut.in` and what goes to `cut.out` is dropped until heal(). */
  setPartition(cut: PartitionCut): PartitionCut {
    const ids = (xs: unknown): PeerId[] => (Array.isArray(xs) ? xs.filter((p): p is PeerId => isPeerId(p) && p !== this.self) : []);
    const before = new Set([...this.cutIn, ...this.cutOut]);
    this.cutIn = new Set(ids(cut.in));
    this.cutOut = new Set(ids(cut.out));
    for (const p of before) if (!this.cutIn.has(p) && !this.cutOut.has(p)) this.afterCut(p);
    return this.partition();
  }

  /** Lifts every cut. */
  heal(): PartitionCut {
    return this.setPartition({ in: [], out: [] });
  }

  /** The current cut. */
  partition(): PartitionCut {
    return { in: [...this.cutIn].sort((a, b) => a - b), out: [...this.cutOut].sort((a, b) => a - b) };
  }

  /**
   * Whether a connection-signaling message may pass: `out` to `peer`, or `in` from it. A
   * connection needs signals both ways, so a cut in either direction stops new connections.
   */
  allowsSignal(peer: PeerId, direction: 'in' | 'out'): boolean {
    return !(direction === 'in' ? this.cutIn : this.cutOut).has(peer);
  }

  /** `peer` is no longer cut: a link that never opened lost its negotiation's signals, so start over. */
  private afterCut(peer: PeerId): void {
    const link = this.links.get(peer);
    if (link && !link.open) this.down(link, 'partition healed: its negotiation lost signals');
  }

  // ---- links handed in by the page (also callable directly, e.g. by a Node driver) ----

  /** Takes a channel for `peer`; it may still be connecting. A newer channel replaces an older link. */
  addChannel(peer: PeerId, channel: RTCDataChannel, conn: number | null = null): void {
    if (this.closed) {
      channel.close();
      return;
    }
    const link = this.freshLinkFor(peer);
    link.conn = conn;
    link.channel = channel;
    // Frames wait while the channel is busy only where it says when it is drained (browsers
    // do; the Node binding has no bufferedamountlow event, so there frames wait only above
    // the high-water mark, drained by the fallback timer).
    link.coalesce = 'onbufferedamountlow' in channel;
    channel.binaryType = 'arraybuffer';
    channel.bufferedAmountLowThreshold = 0;
    const current = (): boolean => this.links.get(peer) === link && link.channel === channel;
    channel.onopen = () => {
      if (current()) this.opened(link);
    };
    channel.onmessage = (event: MessageEvent) => {
      if (current()) this.receiveFrame(link, event.data);
    };
    channel.onclose = () => {
      if (current()) this.down(link, 'channel closed');
    };
    channel.onerror = () => {
      if (current()) this.down(link, 'channel error');
    };
    channel.onbufferedamountlow = () => {
      if (current()) this.drainBacklog(link);
    };
    if (channel.readyState === 'open') this.opened(link);
    else if (channel.readyState !== 'connecting') this.down(link, `channel ${channel.readyState}`);
  }

  /** The page holds an open channel to `peer` and relays its frames. */
  relayOpen(peer: PeerId, conn: number | null = null): void {
    if (this.closed) return;
    const link = this.freshLinkFor(peer);
    link.conn = conn;
    link.relay = true;
    this.counters.relay_links++;
    this.opened(link);
  }

  relayFrame(peer: PeerId, frame: unknown): void {
    const link = this.links.get(peer);
    if (link?.relay && link.open) this.receiveFrame(link, frame);
    else this.counters.dropped_garbage++;
  }

  /** The page reports that the connection to `peer` failed or closed. */
  pageLinkDown(peer: PeerId, reason: string, conn: number | null = null): void {
    const link = this.links.get(peer);
    // A report about an older connection must not take down the link of a newer one.
    if (link && (conn === null || link.conn === null || link.conn === conn)) this.down(link, reason, false);
  }

  // ---- internals ----

  /** A message to oneself is delivered in a later task, in order, like any other. */
  private sendToSelf(data: string): void {
    this.loopback.push(data);
    if (this.loopback.length > 1) return;
    setTimeout(() => {
      const batch = this.loopback;
      this.loopback = [];
      for (const d of batch) {
        if (this.closed) return;
        this.counters.messages_received++;
        for (const h of this.messageHandlers) this.callHandler(() => h(this.self, d));
      }
    }, 0);
  }

  private handlePageMessage(msg: unknown): void {
    // The port is shared (comlink and others use it too): ignore what is not ours.
    if (this.closed || typeof msg !== 'object' || msg === null) return;
    const m = msg as Partial<Record<string, unknown>>;
    const peer = m['peer'];
    if (!isPeerId(peer) || peer === this.self) return;
    switch (m['kind']) {
      case 'channel':
        if (isDataChannel(m['channel'])) this.addChannel(peer, m['channel'], connNumber(m['conn']));
        return;
      case 'relay-open':
        return this.relayOpen(peer, connNumber(m['conn']));
      case 'relay-data':
        return this.relayFrame(peer, m['frame']);
      case 'link-down':
        return this.pageLinkDown(peer, typeof m['reason'] === 'string' ? m['reason'] : 'page', connNumber(m['conn']));
    }
  }

  private newLink(peer: PeerId): Link {
    const link: Link = {
      peer,
      conn: null,
      channel: null,
      relay: false,
      open: false,
      pending: [],
      pendingBytes: 0,
      waitTimer: undefined,
      backlog: [],
      backlogWhole: [],
      backlogBytes: 0,
      backlogTimer: undefined,
      coalesce: false,
      pieces: [],
      pieceChars: 0,
      discarding: false,
      lastHeard: 0,
      lastSent: 0,
    };
    link.waitTimer = setTimeout(() => {
      if (this.links.get(peer) === link && !link.open) this.down(link, `not open after ${this.linkWaitMs} ms`);
    }, this.linkWaitMs);
    this.links.set(peer, link);
    return link;
  }

  /** The link a new channel should attach to: the waiting one (keeps its queue), or a new one. */
  private freshLinkFor(peer: PeerId): Link {
    const existing = this.links.get(peer);
    if (existing && !existing.open) {
      if (!existing.channel && !existing.relay) return existing;
      // A connection that never opened was replaced: nothing went out on it, keep its queue.
      const link = this.newLink(peer);
      link.pending = existing.pending;
      link.pendingBytes = existing.pendingBytes;
      existing.pending = [];
      this.dispose(existing);
      return link;
    }
    // The page made a new connection, so the open one is gone or going: frames on it may
    // be lost, and the layer above must hear about it.
    if (existing) this.down(existing, 'replaced by a new connection', false);
    return this.newLink(peer);
  }

  private opened(link: Link): void {
    if (link.open) return;
    link.open = true;
    clearTimeout(link.waitTimer);
    link.waitTimer = undefined;
    this.counters.links_opened++;
    link.lastHeard = link.lastSent = now();
    const pending = link.pending;
    link.pending = [];
    link.pendingBytes = 0;
    for (const data of pending) {
      this.counters.messages_sent++;
      this.sendMessage(link, data);
    }
    this.startHeartbeat();
  }

  /** Removes the link, drops what waited, and reports it down. `tellPage`: the page does not know yet. */
  private down(link: Link, reason: string, tellPage = true): void {
    if (this.links.get(link.peer) !== link) return;
    this.links.delete(link.peer);
    this.counters.dropped_link_failed += link.pending.length;
    this.counters.links_down++;
    this.dispose(link);
    if (tellPage && !this.closed) this.port.postMessage({ kind: 'disconnect', peer: link.peer, conn: link.conn, reason });
    if (this.links.size === 0) this.stopHeartbeat();
    for (const h of this.linkDownHandlers) this.callHandler(() => h(link.peer));
  }

  private dispose(link: Link): void {
    clearTimeout(link.waitTimer);
    link.open = false;
    link.pending = [];
    link.backlog = [];
    link.backlogWhole = [];
    clearTimeout(link.backlogTimer);
    link.pieces = [];
    const ch = link.channel;
    if (ch) {
      ch.onopen = ch.onmessage = ch.onclose = ch.onerror = ch.onbufferedamountlow = null;
      if (ch.readyState === 'open' || ch.readyState === 'connecting') ch.close();
    }
  }

  private sendMessage(link: Link, data: string): void {
    if (this.cutOut.has(link.peer)) {
      // Test partition: lost on the way, whole (never some pieces of a message: a real
      // channel delivers all of it or breaks).
      this.counters.dropped_partition_out++;
      return;
    }
    if (data.length <= FRAME_CHARS_MAX) {
      this.sendFrame(link, TAG_LAST + data, !data.includes(BATCH_SEPARATOR));
      return;
    }
    let at = 0;
    while (at < data.length) {
      let end = Math.min(at + FRAME_CHARS_MAX, data.length);
      // Never cut between the halves of a surrogate pair: each would become U+FFFD.
      if (end < data.length && isHighSurrogate(data.charCodeAt(end - 1))) end--;
      this.sendFrame(link, (end === data.length ? TAG_LAST : TAG_PIECE) + data.slice(at, end));
      at = end;
    }
  }

  /**
   * Sends a frame now, or holds it in the backlog: above the high-water mark, and (where the
   * channel reports being drained) while the channel still holds data the browser has not
   * handed to SCTP. Why: every send() costs the worker a hop to the WebRTC network thread,
   * and SCTP, DTLS and the network process a packet each; under load the next drain's frames
   * for a peer come before the last ones left, so they wait and leave together as one 'b'
   * frame. An idle link sends at once.
   */
  private sendFrame(link: Link, frame: string, whole = false): void {
    link.lastSent = now();
    this.counters.frames_sent++;
    if (link.relay) {
      this.port.postMessage({ kind: 'relay-send', peer: link.peer, frame });
      return;
    }
    const ch = link.channel!;
    if (link.backlog.length > 0 || ch.bufferedAmount > (link.coalesce ? 0 : this.bufferedHigh)) {
      link.backlog.push(frame);
      link.backlogWhole.push(whole);
      link.backlogBytes += frame.length * 2;
      if (link.backlogBytes > this.backlogMax) {
        this.counters.links_overflowed++;
        this.down(link, `backlog over ${this.backlogMax} bytes`);
        return;
      }
      link.backlogTimer ??= setTimeout(() => {
        link.backlogTimer = undefined;
        if (this.links.get(link.peer) === link) this.drainBacklog(link);
      }, this.coalesceWaitMs);
      return;
    }
    try {
      ch.send(frame);
      this.counters.channel_sends++;
    } catch (err) {
      this.down(link, `send failed: ${String(err)}`);
    }
  }

  /** Sends what waited, runs of whole messages joined into 'b' frames, while under the high-water mark. */
  private drainBacklog(link: Link): void {
    const ch = link.channel;
    if (!ch) return;
    clearTimeout(link.backlogTimer);
    link.backlogTimer = undefined;
    const { backlog, backlogWhole } = link;
    let i = 0;
    try {
      while (i < backlog.length && ch.bufferedAmount <= this.bufferedHigh) {
        let j = i + 1;
        if (backlogWhole[i]) {
          let chars = backlog[i]!.length;
          while (j < backlog.length && backlogWhole[j] && chars + backlog[j]!.length <= FRAME_CHARS_MAX) chars += backlog[j++]!.length;
        }
        let frame = backlog[i]!;
        if (j - i > 1) {
          const texts: string[] = [];
          for (let k = i; k < j; k++) texts.push(backlog[k]!.slice(1));
          frame = TAG_BATCH + texts.join(BATCH_SEPARATOR);
          this.counters.batches_sent++;
        }
        for (let k = i; k < j; k++) link.backlogBytes -= backlog[k]!.length * 2;
        i = j;
        ch.send(frame);
        this.counters.channel_sends++;
      }
    } catch (err) {
      this.down(link, `send failed: ${String(err)}`);
      return;
    }
    backlog.splice(0, i);
    backlogWhole.splice(0, i);
    if (backlog.length > 0) {
      link.backlogTimer = setTimeout(() => {
        link.backlogTimer = undefined;
        if (this.links.get(link.peer) === link) this.drainBacklog(link);
      }, this.coalesceWaitMs);
    }
  }

  private receiveFrame(link: Link, frame: unknown): void {
    if (this.cutIn.has(link.peer)) {
      // Test partition: as if it never arrived, and the link is not heard from. A message
      // is dropped whole: pieces of it already here go, and so do the rest of its pieces
      // even if the cut heals before its last one arrives.
      this.counters.dropped_partition_in++;
      if (frame === TAG_PING) return;
      link.pieces = [];
      link.pieceChars = 0;
      link.discarding = typeof frame === 'string' && frame[0] === TAG_PIECE;
      return;
    }
    link.lastHeard = now();
    this.counters.frames_received++;
    if (typeof frame !== 'string' || frame.length === 0) {
      this.counters.dropped_garbage++;
      return;
    }
    const tag = frame[0];
    if (tag === TAG_PING) return;
    if (tag === TAG_BATCH && frame.length - 1 <= MESSAGE_BYTES_MAX && link.pieces.length === 0 && !link.discarding) {
      for (const data of frame.slice(1).split(BATCH_SEPARATOR)) {
        if (data.length === 0) {
          this.counters.dropped_garbage++;
          continue;
        }
        this.counters.messages_received++;
        for (const h of this.messageHandlers) this.callHandler(() => h(link.peer, data));
      }
      return;
    }
    if (tag !== TAG_LAST && tag !== TAG_PIECE) {
      this.counters.dropped_garbage++;
      return;
    }
    // A message never has more UTF-16 units than MESSAGE_BYTES_MAX (each unit is >= 1 byte).
    if (!link.discarding && link.pieceChars + frame.length - 1 > MESSAGE_BYTES_MAX) {
      this.counters.dropped_oversized++;
      link.discarding = true;
      link.pieces = [];
      link.pieceChars = 0;
    }
    if (tag === TAG_PIECE) {
      if (!link.discarding) {
        link.pieces.push(frame.slice(1));
        link.pieceChars += frame.length - 1;
      }
      return;
    }
    if (link.discarding) {
      link.discarding = false;
      return;
    }
    let data = frame.slice(1);
    if (link.pieces.length > 0) {
      link.pieces.push(data);
      data = link.pieces.join('');
      link.pieces = [];
      link.pieceChars = 0;
    }
    this.counters.messages_received++;
    for (const h of this.messageHandlers) this.callHandler(() => h(link.peer, data));
  }

  private callHandler(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // A faulty handler must not break the link; surface the error outside the transport.
      this.counters.handler_errors++;
      setTimeout(() => {
        throw err;
      }, 0);
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat !== undefined || this.heartbeatMs <= 0) return;
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private beat(): void {
    const t = now();
    for (const link of [...this.links.values()]) {
      if (!link.open) continue;
      if (t - link.lastHeard > this.silenceMs) {
        this.counters.links_silent++;
        this.down(link, `silent for ${this.silenceMs} ms`);
      } else if (t - link.lastSent >= this.heartbeatMs) {
        // Test partition: the heartbeat is lost too, so the other side hears silence.
        if (this.cutOut.has(link.peer)) this.counters.dropped_partition_out++;
        else this.sendFrame(link, TAG_PING);
      }
    }
  }
}

function isPeerId(p: unknown): p is PeerId {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p < PEER_ID_LIMIT;
}

function connNumber(c: unknown): number | null {
  return typeof c === 'number' && Number.isSafeInteger(c) ? c : null;
}

function isDataChannel(c: unknown): c is RTCDataChannel {
  return typeof c === 'object' && c !== null && typeof (c as RTCDataChannel).send === 'function';
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function now(): number {
  return performance.now();
}
