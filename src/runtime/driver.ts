/**
 * The real-time driver: runs one protocol Peer against a real clock, a StorageAdapter and
 * a NetworkAdapter. It is the simulator's flush() (src/sim/simulation.ts) in real time, and
 * is shared by the browser worker and the Node peer.
 *
 * Rules it keeps (DESIGN.md 1 and 5):
 * - Inputs: a frame from the network (src/core/frame.ts: one message or several, each
 *   validated on its own), a client request, a timer. The drain after an input runs in the
 *   next task, so every input already queued shares it: their writes go to storage as one
 *   batch (and the adapter groups concurrent batches into one commit on top), and their
 *   messages leave as one frame per destination. Why: measured with 4 tabs, every frame
 *   costs tens of µs in the worker plus SCTP/DTLS and a hop to the browser's network
 *   process on both ends; one frame per message made the CPU, not the disk or the
 *   protocol, the limit (78 tx/s with the cores saturated).
 * - `send` leaves at once; `sendAfterPersist` and `replies` leave only once every batch
 *   written up to and including that drain is durable. Batches complete in call order.
 *   Two refinements: sendAfterPersist to ourselves is delivered at once (it does not leave
 *   the peer), and replies that acknowledge no write (reads, look-ups, status) are answered
 *   at once; replies to commits and puts wait.
 * - A failed write (durable-outbox.ts) puts the driver in storage-failure mode: the status
 *   says why; acknowledgements that depend on the failed write are never sent (protocol
 *   messages are dropped: the senders' retries cope with loss; a client reply that
 *   acknowledges a write becomes an error, a commit "outcome unknown", never a silent
 *   success); reads and other answers that acknowledge nothing of ours still flow, so the
 *   peer keeps serving reads. It leaves failure mode once storage takes the rewrite of
 *   everything not yet durable; a deleted or closed store is not retried.
 * - Messages to ourselves skip the codec and the transport: delivered as objects in a
 *   microtask after the step that sent them (never re-entering the peer).
 * - A link reported down by the transport makes the peer suspect that peer at once when
 *   its failure detector watches it (instead of waiting for the heartbeat timeout).
 */
import type { NetworkAdapter } from '../adapters/network.ts';
import { NetworkError } from '../adapters/network.ts';
import type { StorageAdapter, StorageUsage } from '../adapters/storage.ts';
import { encode } from '../core/codec.ts';
import { decodeFrame, packFrames } from '../core/frame.ts';
import { ID_SPACE, dist, isId } from '../core/id.ts';
import type { Msg } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerConfig } from '../peer/config.ts';
import type { ClientOp, ClientReply, Envelope, Output, WatchEvent } from '../peer/io.ts';
import { ACKNOWLEDGING_OPS, splitByDurability } from '../peer/durability.ts';
import { Peer } from '../peer/peer.ts';
import { DurableOutbox, type OutboxLimits, type StorageFailure } from './durable-outbox.ts';
import { taskScheduler } from './next-task.ts';

export type { StorageFailure } from './durable-outbox.ts';
import type { PeerLink } from '../api/db.ts';
import type { RingStatus } from '../ring/ring.ts';

export interface DriverLimits extends OutboxLimits {
  /** Client requests in flight at most; more are refused with 'limit'. */
  requests_in_flight_max: number;
  /** A graceful leave that has not finished its handover after this many ms closes anyway. */
  leave_timeout_ms: number;
  /** Longest single setTimeout (ms): browsers overflow above 2^31 - 1. */
  timer_delay_max_ms: number;
  /**
   * Inputs handled before a drain is forced at once. Normally the drain waits for the next
   * task, so that a burst of inputs shares it (one storage batch, one frame per peer); this
   * bounds how much a flood can pile up before anything leaves.
   */
  inputs_per_drain_max: number;
  /**
   * A client request the peer has not answered after this many ms is answered by the driver
   * ('unknown' for a commit or put, which may still take effect; 'timeout' otherwise), so no
   * caller waits forever whatever state the peer got into. Far above every protocol timeout
   * (a commit's outcome is known or 'unknown' within tx_outcome_timeout_ms).
   */
  request_deadline_ms: number;
}

export const DEFAULT_DRIVER_LIMITS: DriverLimits = {
  held_outputs_max: 100_000,
  storage_retry_ms: 500,
  storage_retry_max_ms: 10_000,
  lazy_write_delay_ms: 100,
  requests_in_flight_max: 10_000,
  leave_timeout_ms: 15_000,
  timer_delay_max_ms: 3_600_000,
  inputs_per_drain_max: 256,
  request_deadline_ms: 60_000,
};

export interface DriverOptions {
  storage: StorageAdapter;
  /** What storage held at start (storage.loadAll()); empty for a new peer. */
  records: ReadonlyArray<readonly [string, Json]>;
  /** This peer's id: the stored one when records hold one (see storedIdentity). */
  id: PeerId;
  network: NetworkAdapter;
  config?: Partial<PeerConfig>;
  limits?: Partial<DriverLimits>;
  /**
   * May this peer found a brand-new ring, its empty store being the whole truth? Default:
   * only when it has no stored identity.
   */
  newRing?: boolean;
  /** Milliseconds; wall-clock based, since the peer stores timestamps that outlive a restart. */
  now?: () => number;
  random?: () => number;
}

export interface DriverStatus {
  id: PeerId;
  ring: RingStatus;
  /** Distinct peers this peer knows as ring members right now (itself, predecessor, successors, fingers). */
  ringSize: number;
  /** Ring size estimated from the spacing of the successor list (exact while the list wraps around). */
  ringSizeEstimate: number;
  pred: PeerId | null;
  succs: PeerId[];
  connected: PeerId[];
  storage: StorageUsage | null;
  storageFailure: StorageFailure | null;
  requestsInFlight: number;
  heldOutputs: number;
  writesInFlight: number;
  /** Items held as replicas. */
  items: number;
  /** What the driver carried out (messages, batches, dropped acknowledgements, ...). */
  stats: Driver['stats'] & { batches_written: number; write_ms: number; batches_merged: number };
}

interface PendingRequest {
  op: ClientOp['op'];
  resolve: (r: ClientReply) => void;
  /** Driver clock (ms) when it was made. */
  at: number;
}

const META_ID = 'meta/id';
/** Probe pings use sequence numbers from here up: far above what a failure detector reaches. */
const PROBE_SEQ_BASE = 2 ** 40;
/** Every operation Peer.request answers (src/peer/io.ts ClientOp). */
const CLIENT_OPS: ReadonlySet<string> = new Set(
  // A record over ClientOp['op']: an op added to io.ts and not here fails to compile.
  Object.keys({ kv_put: 1, kv_get: 1, kv_del: 1, lookup: 1, read: 1, tx_read: 1, tx_commit: 1, tx_abandon: 1, watch: 1, unwatch: 1, status: 1, replicas: 1, signal: 1 } satisfies Record<ClientOp['op'], 1>),
);

/** The identity stored in records, or null for a peer that has none (new, or storage lost). */
export function storedIdentity(records: ReadonlyArray<readonly [string, Json]>): PeerId | null {
  const v = records.find(([k]) => k === META_ID)?.[1];
  return isId(v) ? v : null;
}

/** Wall-clock milliseconds that never go backwards within a run. */
export function monotonicWallClock(): () => number {
  const origin = performance.timeOrigin;
  return () => origin + performance.now();
}

export type MembershipAnswer = 'member' | 'not-member' | 'silent';

export class Driver {
  readonly peer: Peer;
  readonly storage: StorageAdapter;
  readonly network: NetworkAdapter;
  private readonly limits: DriverLimits;
  private readonly now: () => number;

  private readonly outbox: DurableOutbox;

  // ---- inputs, timers, clients ----
  private flushQueued = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private nextReqId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly eventListeners = new Set<(e: WatchEvent) => void>();
  private readonly signalListeners = new Set<(from: PeerId, data: Json) => void>();
  private readonly failureListeners = new Set<(f: StorageFailure | null) => void>();
  private readonly probes = new Map<number, { peer: PeerId; resolve: (a: MembershipAnswer) => void; timer: ReturnType<typeof setTimeout> }>();
  private nextProbe = PROBE_SEQ_BASE;
  /** Messages to ourselves, delivered in a microtask after the step that sent them. */
  private selfQueue: Msg[] = [];
  /** Encoded messages per destination, sent as frames at the end of the current task. */
  private readonly outgoing = new Map<PeerId, string[]>();
  private framesQueued = false;
  /** Inputs handled since the last drain. */
  private inputsPending = 0;
  private readonly tasks = taskScheduler();
  private started = false;
  private closed = false;
  readonly stats = { requests_expired: 0, messages_in: 0, messages_out: 0, send_errors: 0, acks_dropped: 0, replies_failed: 0, link_downs: 0, handler_errors: 0, signals_relayed: 0, messages_local: 0, busy_ms: 0, send_ms: 0, decode_ms: 0, flushes: 0, frames_in: 0, frames_out: 0 };

  constructor(opts: DriverOptions) {
    this.limits = { ...DEFAULT_DRIVER_LIMITS, ...opts.limits };
    this.now = opts.now ?? monotonicWallClock();
    this.outbox = new DurableOutbox(opts.storage, this.limits, this.now, {
      release: (envelopes, replies) => this.release(envelopes, replies),
      fail: (envelopes, replies, why) => this.releaseFailed(envelopes, replies, why),
      failureChanged: (f) => {
        for (const l of this.failureListeners) this.callListener(() => l(f));
      },
    }, (fn) => this.tasks.schedule(fn));
    this.storage = opts.storage;
    this.network = opts.network;
    if (opts.network.self !== opts.id) throw new Error(`network is for peer ${opts.network.self}, driver for ${opts.id}`);
    const stored = storedIdentity(opts.records);
    if (stored !== null && stored !== opts.id) throw new Error(`storage belongs to peer ${stored}, not ${opts.id}`);
    // A peer without a stored identity may found a brand-new ring (its empty store is the
    // truth then); a restarted one that finds nobody must not: its ring's data comes back only
    // with its replica holders (DESIGN.md 5).
    const peerOptions = {
      env: { now: this.now, random: opts.random ?? Math.random },
      config: opts.config,
      stored: opts.records,
      id: opts.id,
      newRing: opts.newRing ?? stored === null,
    };
    this.peer = new Peer(peerOptions);
    this.network.onMessage((from, data) => this.onMessage(from, data));
    this.network.onLinkDown((p) => this.onLinkDown(p));
    // The constructor may already want to persist (a new peer's identity).
    this.queueFlush();
  }

  /**
   * Loads storage and builds a driver: the stored identity when there is one, otherwise the
   * id chooseId gives (a new peer, or one whose storage was lost).
   */
  static async open(opts: Omit<DriverOptions, 'records' | 'id' | 'network'> & {
    network: (self: PeerId) => NetworkAdapter;
    chooseId: () => PeerId | Promise<PeerId>;
  }): Promise<Driver> {
    const records = await opts.storage.loadAll();
    const id = storedIdentity(records) ?? (await opts.chooseId());
    return new Driver({ ...opts, records, id, network: opts.network(id) });
  }

  get id(): PeerId {
    return this.peer.id;
  }

  /** Whether the peer came back with a stored identity (a restart) rather than a new one. */
  get restored(): boolean {
    return this.peer.store.restored;
  }

  get ringStatus(): RingStatus {
    return this.peer.ring.status;
  }

  get storageFailure(): StorageFailure | null {
    return this.outbox.failure;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Create a ring (no contacts) or join one through the contacts. */
  start(contacts: readonly PeerId[]): void {
    if (this.closed || this.started) return;
    this.started = true;
    this.peer.start(contacts);
    this.flush();
  }

  /** More peers to try while joining (the bootstrap learned of others). */
  addJoinContacts(contacts: readonly PeerId[]): void {
    if (this.closed || this.peer.ring.status !== 'joining') return;
    this.peer.ring.addJoinContacts(contacts.filter(isId));
    this.flush();
  }

  /** Join through these peers from now on (they answered as members): replaces the contacts. */
  joinVia(contacts: readonly PeerId[]): void {
    const valid = contacts.filter((c) => isId(c) && c !== this.id);
    if (this.closed || this.peer.ring.status !== 'joining' || valid.length === 0) return;
    this.peer.ring.join(valid);
    this.flush();
  }

  /**
   * Give up joining and create a ring. Only for a bootstrap that has established that no
   * ring is reachable (see runtime-peer.ts): two rings never merge.
   */
  createRingInstead(): void {
    if (this.closed || this.peer.ring.status !== 'joining') return;
    this.peer.ring.create();
    this.flush();
  }

  /** A client operation; resolves with its reply (errors are replies too, never rejections). */
  request(op: ClientOp): Promise<ClientReply> {
    const reqId = this.nextReqId++;
    if (this.closed) return Promise.resolve({ reqId, ok: false, code: 'stopped', message: 'peer is closed' });
    if (this.pending.size >= this.limits.requests_in_flight_max) {
      return Promise.resolve({ reqId, ok: false, code: 'limit', message: `more than ${this.limits.requests_in_flight_max} requests in flight` });
    }
    const kind = typeof op === 'object' && op !== null ? (op as { op?: unknown }).op : undefined;
    if (typeof kind !== 'string' || !CLIENT_OPS.has(kind)) {
      // Ops arrive from other threads (comlink): an unknown one must get an answer, not silence.
      return Promise.resolve({ reqId, ok: false, code: 'invalid', message: `unknown operation ${JSON.stringify(kind ?? null)?.slice(0, 40)}` });
    }
    return new Promise((resolve) => {
      this.pending.set(reqId, { op: kind as ClientOp['op'], resolve, at: this.now() });
      this.armDeadlineSweep();
      try {
        this.peer.request({ reqId, op });
      } catch (e) {
        // The peer validates ops; a throw here is a bug, reported to the caller, not fatal.
        this.pending.delete(reqId);
        resolve({ reqId, ok: false, code: 'invalid', message: `request failed: ${e instanceof Error ? e.message : String(e)}` });
      }
      this.queueFlush();
    });
  }

  private deadlineSweep: ReturnType<typeof setTimeout> | undefined;

  /** While requests are pending, look every tenth of the deadline for ones past it (the map is in request order). */
  private armDeadlineSweep(): void {
    if (this.deadlineSweep !== undefined || this.closed) return;
    this.deadlineSweep = setTimeout(() => {
      this.deadlineSweep = undefined;
      const limit = this.now() - this.limits.request_deadline_ms;
      for (const [reqId, p] of this.pending) {
        if (p.at > limit) break;
        this.stats.requests_expired++;
        const acknowledging = ACKNOWLEDGING_OPS.has(p.op);
        this.answer({
          reqId,
          ok: false,
          code: acknowledging ? 'unknown' : 'timeout',
          message: `no answer from the peer within ${this.limits.request_deadline_ms} ms${acknowledging ? ': the write may or may not have taken effect' : ''}`,
        });
      }
      if (this.pending.size > 0) this.armDeadlineSweep();
    }, Math.max(100, this.limits.request_deadline_ms / 10));
  }

  onEvent(cb: (e: WatchEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  /** Signaling data that reached us through the ring (WebRTC offers and answers). */
  onSignal(cb: (from: PeerId, data: Json) => void): () => void {
    this.signalListeners.add(cb);
    return () => this.signalListeners.delete(cb);
  }

  /** Called when the storage fails (with the failure) and when it recovers (with null). */
  onStorageFailure(cb: (f: StorageFailure | null) => void): () => void {
    this.failureListeners.add(cb);
    return () => this.failureListeners.delete(cb);
  }

  /**
   * Ask peers whether they are ring members, with the failure detector's own ping (every
   * peer answers it, a joining one with member = false). Used by the bootstrap to tell a
   * ring from a crowd of joiners.
   */
  probeMembership(peers: readonly PeerId[], timeoutMs: number): Promise<Map<PeerId, MembershipAnswer>> {
    const answers = peers.filter((p) => isId(p) && p !== this.id).map(
      (peer) =>
        new Promise<[PeerId, MembershipAnswer]>((resolve) => {
          if (this.closed) return resolve([peer, 'silent']);
          const seq = this.nextProbe++;
          const timer = setTimeout(() => {
            this.probes.delete(seq);
            resolve([peer, 'silent']);
          }, timeoutMs);
          this.probes.set(seq, { peer, resolve: (a) => resolve([peer, a]), timer });
          this.transmit({ to: peer, msg: { t: 'ping', seq } });
        }),
    );
    return Promise.all(answers).then((list) => new Map(list));
  }

  /** A snapshot for consoles and tests. */
  async status(): Promise<DriverStatus> {
    let usage: StorageUsage | null = null;
    const failure = this.outbox.failure;
    if (!this.closed && (failure === null || failure.retrying)) {
      usage = await this.storage.usage().catch(() => null);
    }
    return { ...this.snapshot(), storage: usage };
  }

  /** status() without the storage figures (synchronous). */
  snapshot(): Omit<DriverStatus, 'storage'> {
    const ring = this.peer.ring;
    const known = new Set<PeerId>([this.id]);
    if (ring.status === 'in' || ring.status === 'leaving') {
      if (ring.pred !== null) known.add(ring.pred);
      for (const s of ring.succs) known.add(s);
      for (const f of this.peer.router.fingers.peers()) known.add(f);
    }
    for (const s of this.peer.fd.suspected()) if (s !== this.id) known.delete(s);
    return {
      id: this.id,
      ring: ring.status,
      ringSize: known.size,
      ringSizeEstimate: estimateRingSize(this.id, ring.succs),
      pred: ring.pred,
      succs: ring.succs.slice(),
      connected: this.closed ? [] : this.network.connectedPeers().sort((a, b) => a - b),
      storageFailure: this.outbox.failure,
      requestsInFlight: this.pending.size,
      heldOutputs: this.outbox.heldCount,
      writesInFlight: this.outbox.writesInFlight,
      items: this.peer.store.entries.size,
      stats: { ...this.stats, batches_written: this.outbox.stats.batches_written, write_ms: this.outbox.stats.write_ms, batches_merged: this.outbox.stats.batches_merged },
    };
  }

  /**
   * Graceful leave: hand our ranges to our successor, wait until it acknowledged them (or
   * leave_timeout_ms), then close.
   */
  async leave(): Promise<void> {
    if (this.closed) return;
    this.peer.leave();
    this.flush();
    const deadline = this.now() + this.limits.leave_timeout_ms;
    while (!this.closed && !this.peer.finished && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Write what is parked, and let the last acknowledgements of durable state leave.
    this.outbox.flush();
    await this.outbox.settle(2_000);
    await this.close();
  }

  /** Stops at once (as a crash would, but cleanly): pending requests fail with 'stopped'. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadlineSweep);
    this.tasks.close();
    this.outgoing.clear();
    this.outbox.close();
    for (const p of this.probes.values()) clearTimeout(p.timer);
    this.probes.clear();
    const pending = [...this.pending];
    this.pending.clear();
    for (const [reqId, p] of pending) p.resolve({ reqId, ok: false, code: 'stopped', message: 'peer closed' });
    await this.network.close().catch(() => {});
    await this.storage.close().catch(() => {});
  }

  // ------------------------------------------------------------------ inputs

  private onMessage(from: PeerId, data: string): void {
    if (this.closed) return;
    const t0 = performance.now();
    this.stats.frames_in++;
    // Validated message by message: a bad one in a frame is dropped and counted alone.
    const frame = decodeFrame(data);
    for (const d of frame.dropped) this.peer.ctx.counters.add(`in.dropped_${d.reason}`);
    const t1 = performance.now();
    this.stats.decode_ms += t1 - t0;
    for (const msg of frame.msgs) {
      this.stats.messages_in++;
      if (msg.t === 'pong' && this.probes.size > 0) this.checkProbe(from, msg);
      this.peer.receive(from, msg);
    }
    this.queueFlush(frame.msgs.length);
    this.stats.busy_ms += performance.now() - t0;
  }

  private checkProbe(from: PeerId, msg: Extract<Msg, { t: 'pong' }>): void {
    const probe = this.probes.get(msg.seq);
    if (!probe || probe.peer !== from) return;
    this.probes.delete(msg.seq);
    clearTimeout(probe.timer);
    probe.resolve(msg.member ? 'member' : 'not-member');
  }

  private deliverSelf(): void {
    const batch = this.selfQueue;
    this.selfQueue = [];
    for (const msg of batch) {
      if (this.closed) return;
      this.peer.receive(this.id, msg);
    }
    this.flush();
  }

  private onLinkDown(p: PeerId): void {
    if (this.closed) return;
    this.stats.link_downs++;
    // A closed tab is seen within milliseconds; do not wait out the heartbeat timeout. A
    // false suspicion only delays (the failure detector's contract), so this is safe.
    if (this.peer.fd.watchedPeers().includes(p)) {
      this.peer.fd.suspect(p);
      this.queueFlush();
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    this.peer.tick();
    this.flush();
  }

  // ------------------------------------------------------------------ outputs

  /**
   * Inputs share one drain: it runs in the next task, after every input already queued in
   * the event loop (under load, dozens), so their writes become one batch and their messages
   * one frame per peer. An idle peer pays one task hop (tens of µs). A flood is drained
   * every inputs_per_drain_max inputs.
   */
  private queueFlush(inputs = 1): void {
    this.inputsPending += inputs;
    if (this.inputsPending >= this.limits.inputs_per_drain_max) {
      this.flush();
      return;
    }
    if (this.flushQueued) return;
    this.flushQueued = true;
    this.tasks.schedule(() => {
      if (this.flushQueued) this.flush();
    });
  }

  private flush(): void {
    this.flushQueued = false;
    this.inputsPending = 0;
    if (this.closed) return;
    const t0 = performance.now();
    this.stats.flushes++;
    try {
      this.flushNow();
    } finally {
      this.stats.busy_ms += performance.now() - t0;
    }
  }

  private flushNow(): void {
    let out: Output;
    try {
      out = this.peer.drain();
    } catch (e) {
      this.reportHandlerError(e);
      return;
    }
    for (const env of out.send) this.transmit(env);
    for (const e of out.events) for (const l of this.eventListeners) this.callListener(() => l(e));
    for (const s of out.signals) for (const l of this.signalListeners) this.callListener(() => l(s.from, s.data));
    if (out.persist) this.outbox.persist(out.persist);
    let after = out.sendAfterPersist;
    let replies = out.replies;
    // Even a message to ourselves that is released at once (below) starts a chain whose end
    // waits for this batch (a local vote's acceptance, then the decision): write it now.
    if (after.length > 0) this.outbox.want();
    if ((after.length > 0 || replies.length > 0) && this.outbox.waiting) {
      // What need not wait for the disk leaves now (src/peer/durability.ts says why).
      const split = splitByDurability(this.id, after, replies, (reqId) => this.pending.get(reqId)?.op);
      for (const env of split.now.envelopes) this.transmit(env);
      for (const r of split.now.replies) this.answer(r);
      after = split.held.envelopes;
      replies = split.held.replies;
    }
    this.outbox.afterPersist(after, replies);
    this.arm(out.wakeAt);
  }

  private arm(wakeAt: number | null): void {
    if (wakeAt === null || wakeAt >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = wakeAt;
    const delay = Math.min(this.limits.timer_delay_max_ms, Math.max(0, wakeAt - this.now()));
    this.timer = setTimeout(() => this.onTimer(), delay);
  }

  private transmit(env: Envelope): void {
    if (this.closed) return;
    const msg = env.msg;
    if (env.to === this.id) {
      // Our own message (with r = 4 in a small ring, most of a transaction's are): no codec,
      // no transport; delivered after this step, like any other, so handlers never re-enter.
      this.selfQueue.push(msg);
      if (this.selfQueue.length === 1) queueMicrotask(() => this.deliverSelf());
      this.stats.messages_local++;
      return;
    }
    if (msg.t === 'route' && msg.body.k === 'signal' && env.to !== this.id) {
      const via = this.signalRelay(msg.target, env.to);
      if (via !== null) env = { to: via, msg: { ...msg, last: false } };
    }
    let text: string;
    try {
      text = encode(env.msg);
    } catch (e) {
      this.stats.send_errors++;
      this.reportHandlerError(e);
      return;
    }
    this.stats.messages_out++;
    const queue = this.outgoing.get(env.to);
    if (queue) queue.push(text);
    else this.outgoing.set(env.to, [text]);
    if (!this.framesQueued) {
      this.framesQueued = true;
      queueMicrotask(() => this.sendFrames());
    }
  }

  /** Everything queued for each peer in this task leaves as few frames as the limits allow (src/core/frame.ts). */
  private sendFrames(): void {
    this.framesQueued = false;
    if (this.closed) return;
    const t0 = performance.now();
    for (const [to, texts] of this.outgoing) {
      for (const frame of packFrames(texts)) {
        try {
          this.network.send(to, frame);
          this.stats.frames_out++;
        } catch (e) {
          // Oversized (a bug above: limits should prevent it) or closed: dropped and counted.
          this.stats.send_errors++;
          if (!(e instanceof NetworkError)) this.reportHandlerError(e);
        }
      }
    }
    this.outgoing.clear();
    const spent = performance.now() - t0;
    this.stats.send_ms += spent;
    this.stats.busy_ms += spent;
  }

  /**
   * Signaling data for a new connection must not wait for that connection: in a small ring
   * the next hop towards a peer is the peer itself (it is in our successor list), and a
   * message to a peer without an open link waits for the link, which waits for the signal.
   * So a signal whose next hop has no open link goes to the open-linked peer closest before
   * the target instead; it routes on from there (each such step gets closer, and the
   * target's predecessor always has a link to it). Null: send as planned.
   */
  private signalRelay(target: PeerId, next: PeerId): PeerId | null {
    const connected = this.network.connectedPeers();
    if (connected.includes(next)) return null;
    let best: PeerId | null = null;
    let bestDist = dist(this.id, target);
    for (const p of connected) {
      if (p === next || p === this.id) continue;
      const d = dist(p, target);
      if (d < bestDist) {
        best = p;
        bestDist = d;
      }
    }
    if (best !== null) this.stats.signals_relayed++;
    return best;
  }

  private release(envelopes: Envelope[], replies: ClientReply[]): void {
    for (const env of envelopes) this.transmit(env);
    for (const r of replies) this.answer(r);
  }

  /**
   * Outputs whose state could not be made durable: protocol acknowledgements are dropped,
   * client replies that acknowledge a write become errors, other replies go out.
   */
  private releaseFailed(envelopes: Envelope[], replies: ClientReply[], reason: string): void {
    this.stats.acks_dropped += envelopes.length;
    for (const r of replies) {
      const p = this.pending.get(r.reqId);
      if (!p || !ACKNOWLEDGING_OPS.has(p.op)) {
        this.answer(r);
        continue;
      }
      this.stats.replies_failed++;
      if (p.op === 'tx_commit' && (r.ok || r.code === 'unknown')) {
        this.answer({ reqId: r.reqId, ok: false, code: 'unknown', message: `commit outcome unknown: ${reason}; retry with the same transaction id to learn it` });
      } else if (r.ok) {
        this.answer({ reqId: r.reqId, ok: false, code: 'unavailable', message: reason });
      } else this.answer(r); // a failure acknowledges nothing
    }
  }

  private answer(r: ClientReply): void {
    const p = this.pending.get(r.reqId);
    if (!p) return;
    this.pending.delete(r.reqId);
    p.resolve(r);
  }

  private callListener(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.reportHandlerError(e);
    }
  }

  private reportHandlerError(e: unknown): void {
    this.stats.handler_errors++;
    // Surface it outside the driver's own call stack, so one bad listener stops nothing.
    setTimeout(() => {
      throw e;
    }, 0);
  }
}

/** The key/value API's link to a driver in the same thread (Node peer, tests). */
export function driverLink(driver: Driver): PeerLink {
  return { request: (op) => driver.request(op), onEvent: (cb) => driver.onEvent(cb) };
}

/** N from the spacing of the successor list: k successors span k/N of the circle. */
function estimateRingSize(self: PeerId, succs: readonly PeerId[]): number {
  const distinct = [...new Set(succs)].filter((s) => s !== self);
  if (distinct.length === 0) return 1;
  if (distinct.length < succs.length || succs.includes(self)) return distinct.length + 1;
  const span = dist(self, distinct[distinct.length - 1]!);
  return span === 0 ? distinct.length + 1 : Math.max(distinct.length + 1, Math.round((distinct.length * ID_SPACE) / span));
}
