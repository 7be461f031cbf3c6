import { decode, encode } from '../core/codec.ts';
import type { Msg } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerConfig } from '../peer/config.ts';
import type { ClientOp, ClientReply, Envelope, Output, WatchEvent } from '../peer/io.ts';
import { splitByDurability } from '../peer/durability.ts';
import { Peer } from '../peer/peer.ts';
import { SimDisk } from './disk.ts';
import { EventQueue } from './event-queue.ts';
import { chooseJoinIdSorted } from './join-id.ts';
import { calmNetwork, type NetworkKnobs, oneDelay, Partitions } from './network-model.ts';
import { Rng } from './rng.ts';
import { TraceHash } from './trace.ts';

/** "route:<body kind>" names, built once (the hot path must not build strings). */
const routeKinds = new Map<string, string>();
function routeKind(k: string): string {
  let s = routeKinds.get(k);
  if (s === undefined) routeKinds.set(k, (s = `route:${k}`));
  return s;
}

export interface DiskKnobs {
  /** Time for a batch to become durable: min plus an exponential extra with this mean. */
  disk_latency_min_ms: number;
  disk_latency_jitter_mean_ms: number;
}

export const fastDisk: DiskKnobs = { disk_latency_min_ms: 0.5, disk_latency_jitter_mean_ms: 0.5 };

/** Bugs the seed runner can plant in the driver, to show that the checkers catch them. */
export interface DriverMutants {
  /** Send acknowledgements before the state behind them is durable. */
  ack_before_persist?: boolean;
}

export interface SimOptions {
  seed: number;
  network?: Partial<NetworkKnobs>;
  disk?: Partial<DiskKnobs>;
  peerConfig?: Partial<PeerConfig>;
  /** Round-trip every message through the wire codec (slower; proves messages survive encoding). */
  codec_check?: boolean;
  /** Record a readable trace line per event (slow; for debugging a seed). */
  trace_lines?: boolean;
  mutants?: DriverMutants;
}

type SimEvent =
  // `node`: the peer registered under `to` (`peer`) when the event was queued, so that the
  // delivery need not look it up again while it still is (see Simulation.nodeAt).
  | { at: number; seq: number; kind: 'deliver'; from: PeerId; to: PeerId; msg: Msg; incarnation: number; node: SimNode | undefined }
  | { at: number; seq: number; kind: 'tick'; peer: PeerId; token: number; incarnation: number; node: SimNode }
  | { at: number; seq: number; kind: 'disk'; peer: PeerId; batch: number; incarnation: number }
  | { at: number; seq: number; kind: 'action'; fn: () => void };

type DeliverEvent = Extract<SimEvent, { kind: 'deliver' }>;
type TickEvent = Extract<SimEvent, { kind: 'tick' }>;
/**
 * The nodes by id, as an open-addressing table: ids in a Float64Array, nodes beside them. A
 * lookup reads one slot of each; a Map keyed by 52-bit ids (boxed numbers) also reads the
 * boxed key of every candidate, and this runs for every message sent. Each node's
 * incarnation is kept beside it too (Simulation.setIncarnation keeps it current): a message
 * is stamped with its receiver's incarnation when sent, and reading it from the node
 * object was a cache miss per message in rings of thousands of peers.
 */
class NodeIndex {
  private keys = new Float64Array(64).fill(-1);
  private vals: Array<SimNode | undefined> = new Array<SimNode | undefined>(64).fill(undefined);
  private incs = new Float64Array(64);
  /** Slots in use, including tombstones (-2). */
  private used = 0;

  private slot(id: PeerId, mask: number): number {
    const h = Math.imul((id >>> 0) ^ Math.imul((id / 4294967296) | 0, 0x9e3779b1), 0x85ebca6b);
    return (h ^ (h >>> 15)) & mask;
  }

  get(id: PeerId): SimNode | undefined {
    const i = this.find(id);
    return i < 0 ? undefined : this.vals[i];
  }

  /** The slot holding id, or -1. */
  find(id: PeerId): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = this.slot(id, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) return i;
      if (k === -1) return -1;
    }
  }

  /** The node in slot i (from find()). */
  nodeAt(i: number): SimNode {
    return this.vals[i]!;
  }

  /** The incarnation of the node in slot i (from find()). */
  incarnationAt(i: number): number {
    return this.incs[i]!;
  }

  /** The node registered under id has a new incarnation. */
  setIncarnation(id: PeerId, incarnation: number): void {
    const i = this.find(id);
    if (i >= 0) this.incs[i] = incarnation;
  }

  set(id: PeerId, node: SimNode): void {
    if ((this.used + 1) * 2 > this.keys.length) this.rehash();
    const keys = this.keys;
    const mask = keys.length - 1;
    let tomb = -1;
    for (let i = this.slot(id, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) {
        this.vals[i] = node;
        this.incs[i] = node.incarnation;
        return;
      }
      if (k === -2 && tomb < 0) tomb = i;
      if (k === -1) {
        const at = tomb >= 0 ? tomb : i;
        if (tomb < 0) this.used++;
        keys[at] = id;
        this.vals[at] = node;
        this.incs[at] = node.incarnation;
        return;
      }
    }
  }

  delete(id: PeerId): void {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = this.slot(id, mask); ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === id) {
        keys[i] = -2;
        this.vals[i] = undefined;
        return;
      }
      if (k === -1) return;
    }
  }

  private rehash(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    let live = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i]! >= 0) live++;
    let size = 64;
    while (size < live * 4) size *= 2;
    this.keys = new Float64Array(size).fill(-1);
    this.vals = new Array<SimNode | undefined>(size).fill(undefined);
    this.incs = new Float64Array(size);
    this.used = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i]! >= 0) this.set(oldKeys[i]!, oldVals[i]!);
  }
}

/** Spent events kept for reuse, at most (per kind). */
const spare_events_max = 1 << 16;

/** One simulated peer: the protocol state machine plus what the driver keeps for it. */
export class SimNode {
  alive = true;
  /** A paused peer (a frozen process, a throttled background tab) processes nothing; its input waits. */
  paused = false;
  /** Events that arrived while paused, replayed in order on resume. */
  backlog: SimEvent[] = [];
  /**
   * Bumped on every crash, so events meant for an earlier life are dropped. Changed only
   * through Simulation.setIncarnation (its index keeps a copy).
   */
  incarnation = 0;
  wakeAt = Infinity;
  wakeToken = 0;
  /** Effects waiting for the newest in-flight disk batch. */
  held: Array<{ batch: number; envelopes: Envelope[]; replies: ClientReply[] }> = [];
  /** The id under which Simulation.nodes holds this node now; null once it is not there. */
  registeredAs: PeerId | null = null;
  /** Its index in Simulation's dense list of registered nodes (-1 when not registered). */
  slot = -1;

  constructor(
    public peer: Peer,
    readonly disk: SimDisk,
    public rng: Rng,
  ) {}

  get id(): PeerId {
    return this.peer.id;
  }
}

export type ReplyListener = (peer: PeerId, reply: ClientReply) => void;

/**
 * The deterministic simulator: virtual time, one seed, an event queue ordered by
 * (time, sequence), a network that delays, loses, duplicates, reorders and partitions,
 * disks that lose unsynced writes on a crash. The same seed gives the same trace hash.
 */
export class Simulation {
  readonly rng: Rng;
  readonly nodes = new Map<PeerId, SimNode>();
  /** Crashed peers whose id a newcomer took: they never come back. */
  readonly retired: SimNode[] = [];
  readonly partitions = new Partitions();
  readonly trace = new TraceHash();
  readonly traceLines: string[] = [];
  network: NetworkKnobs;
  disk: DiskKnobs;
  now = 0;
  delivered = 0;
  sent = 0;
  /** Messages sent by kind (route messages by the kind of their body), for measurements. */
  get sentByKind(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, c] of this.sentCounts) out.set(k, c.n);
    return out;
  }
  /** The counts behind sentByKind: one box per kind, so counting a message is one lookup. */
  private readonly sentCounts = new Map<string, { n: number }>();
  private readonly queue = new EventQueue<SimEvent>();
  private readonly netRng: Rng;
  private readonly diskRng: Rng;
  private readonly replyListeners: ReplyListener[] = [];
  private readonly eventListeners: Array<(peer: PeerId, e: WatchEvent) => void> = [];
  private nextReqId = 1;
  private readonly replyCallbacks = new Map<number, (r: ClientReply) => void>();
  /** The op of each request with a callback, for the durability rule (src/peer/durability.ts). */
  private readonly requestOp = new Map<number, ClientOp['op']>();
  /** Which peer each waiting request went to: a crash answers them with 'stopped'. */
  private readonly requestPeer = new Map<number, PeerId>();
  /** Called after every event (invariant checks). */
  afterEvent: (() => void) | null = null;
  /** Called before a message is delivered (tests plant faults at exact protocol points). */
  beforeDeliver: ((from: PeerId, to: PeerId, msg: Msg) => void) | null = null;

  constructor(readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    this.netRng = this.rng.fork();
    this.diskRng = this.rng.fork();
    this.network = { ...calmNetwork, ...opts.network };
    this.disk = { ...fastDisk, ...opts.disk };
  }

  // ---------------------------------------------------------------- peers

  /**
   * A new peer with a fresh identity; joins through the given contact (plus a few other
   * members, as a bootstrap server would name), or creates the ring when contact is null.
   */
  addPeer(contact: PeerId | null, id?: PeerId): SimNode {
    const rng = this.rng.fork();
    // As a bootstrap server would: an id that halves the largest gap between known peers.
    const chosen = id ?? chooseJoinIdSorted(this.liveIdsSorted(), () => rng.next());
    const prev = this.nodes.get(chosen);
    if (prev?.alive) throw new Error(`peer id collision ${chosen}`);
    if (prev) {
      // The id of a crashed peer is taken by a newcomer (the bootstrap server refuses the old
      // one when it comes back): that old peer's identity is gone for good.
      this.unregister(chosen);
      this.retired.push(prev);
    }
    // Only the peer that starts the very first ring founds one; later a peer that finds
    // nobody is a lost tab, not a new database.
    const peer = new Peer({ env: this.envFor(rng), config: this.opts.peerConfig, id: chosen, newRing: contact === null && this.nodes.size === 0 });
    const node = new SimNode(peer, new SimDisk(), rng);
    this.register(peer.id, node);
    peer.ctx.setSendSink(this.sendNow);
    peer.start(this.contactsFor(contact));
    this.flush(node);
    if (contact !== null) this.armBootstrapRefresh();
    return node;
  }

  private register(id: PeerId, node: SimNode): void {
    const prev = this.nodes.get(id);
    if (prev) {
      // Map.set on a present key keeps its place in the iteration order: so does the list.
      prev.registeredAs = null;
      node.slot = prev.slot;
      prev.slot = -1;
      this.list[node.slot] = node;
    } else {
      if (this.listLen === this.listIds.length) this.growList();
      node.slot = this.listLen++;
      this.list[node.slot] = node;
      // (A slot past the end may hold a stale copy from unregister: refresh() reads the old flags.)
      this.listFlags[node.slot] = 0;
    }
    this.listIds[node.slot] = id;
    this.nodes.set(id, node);
    this.index.set(id, node);
    node.registeredAs = id;
    this.refresh(node);
  }

  private unregister(id: PeerId): void {
    const prev = this.nodes.get(id);
    if (prev) {
      prev.registeredAs = null;
      if (this.listFlags[prev.slot]! & 1) this.liveRemove(id);
      // Rare (a crashed peer's id taken, a restart under a new id): close the gap in order.
      const list = this.list;
      for (let i = prev.slot + 1; i < this.listLen; i++) {
        list[i - 1] = list[i]!;
        list[i - 1]!.slot = i - 1;
      }
      this.listIds.copyWithin(prev.slot, prev.slot + 1, this.listLen);
      this.listFlags.copyWithin(prev.slot, prev.slot + 1, this.listLen);
      this.listLen--;
      list.length = this.listLen;
      prev.slot = -1;
    }
    this.nodes.delete(id);
    this.index.delete(id);
  }

  /**
   * The registered nodes in this.nodes' iteration order, with each one's id and whether it is
   * alive and a member, in typed arrays: live() and members() run for every join of a big
   * ring (thousands of peers), and reading each node's state from its objects cost a few
   * cache misses per peer. Kept by register/unregister; the flags by refresh(), called
   * wherever `alive` or the peer changes and at the start of every flush (a peer's ring
   * status changes only inside one of its steps, and every step is flushed before anything
   * else runs).
   */
  private list: SimNode[] = [];
  private listIds = new Float64Array(64);
  private listFlags = new Uint8Array(64);
  private listLen = 0;

  private growList(): void {
    const ids = new Float64Array(this.listIds.length * 2);
    ids.set(this.listIds);
    this.listIds = ids;
    const flags = new Uint8Array(this.listFlags.length * 2);
    flags.set(this.listFlags);
    this.listFlags = flags;
  }

  /** Record n's state for live() and members(): bit 1 alive, bit 2 in the ring. */
  private refresh(n: SimNode): void {
    const slot = n.slot;
    if (slot < 0) return;
    const flags = (n.alive ? 1 : 0) | (n.peer.ring.status === 'in' ? 2 : 0);
    const old = this.listFlags[slot]!;
    this.listFlags[slot] = flags;
    if ((old ^ flags) & 1) {
      if (flags & 1) this.liveInsert(this.listIds[slot]!);
      else this.liveRemove(this.listIds[slot]!);
    }
  }

  /**
   * The ids of the live nodes (flag bit 1 in listFlags), sorted ascending: kept as that bit
   * changes (refresh, unregister), so that a join need not collect and sort them all again
   * (every join of a big ring did: a tenth of building a ring of 4096 peers).
   */
  private liveSorted = new Float64Array(64);
  private liveSortedLen = 0;

  /** Index of the first entry of liveSorted not below id. */
  private liveLowerBound(id: PeerId): number {
    const a = this.liveSorted;
    let lo = 0;
    let hi = this.liveSortedLen;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private liveInsert(id: PeerId): void {
    if (this.liveSortedLen === this.liveSorted.length) {
      const bigger = new Float64Array(this.liveSorted.length * 2);
      bigger.set(this.liveSorted);
      this.liveSorted = bigger;
    }
    const i = this.liveLowerBound(id);
    const a = this.liveSorted;
    a.copyWithin(i + 1, i, this.liveSortedLen);
    a[i] = id;
    this.liveSortedLen++;
  }

  private liveRemove(id: PeerId): void {
    const i = this.liveLowerBound(id);
    if (i >= this.liveSortedLen || this.liveSorted[i] !== id) return;
    this.liveSorted.copyWithin(i, i + 1, this.liveSortedLen);
    this.liveSortedLen--;
  }

  /** Nodes (or their ids) whose flags include every bit of mask, in this.nodes' order. */
  private select(mask: number): SimNode[] {
    const out: SimNode[] = [];
    const flags = this.listFlags;
    const list = this.list;
    for (let i = 0; i < this.listLen; i++) if ((flags[i]! & mask) === mask) out.push(list[i]!);
    return out;
  }

  /** The ids of the live nodes, sorted ascending (a view of liveSorted: read it at once). */
  private liveIdsSorted(): Float64Array {
    return this.liveSorted.subarray(0, this.liveSortedLen);
  }

  /** How many nodes live() would list. */
  liveCount(): number {
    return this.liveSortedLen;
  }

  private selectIds(mask: number): PeerId[] {
    const out: PeerId[] = [];
    const flags = this.listFlags;
    const ids = this.listIds;
    for (let i = 0; i < this.listLen; i++) if ((flags[i]! & mask) === mask) out.push(ids[i]!);
    return out;
  }

  /** this.nodes again, for the hot path (kept by register and unregister, as nodes is). */
  private readonly index = new NodeIndex();

  /**
   * this.nodes.get(id), answered from the node an event carries while that node is still
   * the one registered under id (a Map lookup keyed by a 52-bit id cost cache misses on
   * every event in rings of thousands of peers).
   */
  private nodeAt(id: PeerId, hint: SimNode | undefined): SimNode | undefined {
    // hint.registeredAs === id, read from the list (a number field is one more object to load).
    return hint !== undefined && hint.slot >= 0 && this.listIds[hint.slot] === id ? hint : this.index.get(id);
  }

  /** contact first, then up to 3 other members picked by the seed. */
  private contactsFor(contact: PeerId | null): PeerId[] {
    if (contact === null) return [];
    const others = this.selectIds(3).filter((id) => id !== contact);
    const out = [contact];
    for (let i = 0; i < 3 && others.length > 0; i++) out.push(others.splice(Math.floor(this.rng.next() * others.length), 1)[0]!);
    return out;
  }

  private envFor(rng: Rng) {
    return { now: this.nowFn, random: () => rng.next() };
  }

  /** A node's incarnation changes: always through here, so that the index's copy stays current. */
  private setIncarnation(n: SimNode, incarnation: number): void {
    n.incarnation = incarnation;
    if (n.registeredAs !== null) this.index.setIncarnation(n.registeredAs, incarnation);
  }

  /** One clock function for every peer (one closure that stays in cache, not one per peer). */
  private readonly nowFn = (): number => this.now;

  /** Crash: the peer stops, its unsynced writes are lost, messages to it vanish. */
  crash(id: PeerId): void {
    const n = this.nodes.get(id);
    if (!n || !n.alive) return;
    n.alive = false;
    this.refresh(n);
    n.paused = false;
    n.backlog = [];
    this.setIncarnation(n, n.incarnation + 1);
    n.disk.crash();
    n.held = [];
    this.trace.add(this.now, 3, id, 0, 0);
    // Its clients (in the same tab) learn that their peer is gone.
    for (const [reqId, peer] of [...this.requestPeer]) {
      if (peer !== id) continue;
      const cb = this.replyCallbacks.get(reqId);
      this.replyCallbacks.delete(reqId);
      this.requestPeer.delete(reqId);
      this.requestOp.delete(reqId);
      this.schedule(this.now, () => cb?.({ reqId, ok: false, code: 'stopped', message: 'peer crashed' }));
    }
  }

  /** Restart a crashed peer from its durable state; it rejoins through contact. */
  restart(id: PeerId, contact: PeerId | null): SimNode {
    const n = this.nodes.get(id);
    if (!n || n.alive) throw new Error(`restart of a peer that is not down: ${id}`);
    n.rng = this.rng.fork();
    n.peer = new Peer({ env: this.envFor(n.rng), config: this.opts.peerConfig, stored: n.disk.records() });
    if (n.peer.id !== id) {
      // Its identity never became durable (it crashed right after starting): it comes back as
      // a new peer under a new id, and the network must know it by that id.
      this.unregister(id);
      if (this.nodes.get(n.peer.id)?.alive) throw new Error(`peer id collision ${n.peer.id}`);
      this.register(n.peer.id, n);
    }
    n.alive = true;
    this.refresh(n);
    n.wakeAt = Infinity;
    n.peer.ctx.setSendSink(this.sendNow);
    n.peer.start(this.contactsFor(contact));
    this.trace.add(this.now, 4, id, 0, 0);
    this.flush(n);
    if (contact !== null) this.armBootstrapRefresh();
    return n;
  }

  /** Graceful leave: hand over, then stop. */
  leave(id: PeerId): void {
    const n = this.nodes.get(id);
    if (!n || !n.alive) return;
    n.peer.leave();
    this.flush(n);
    this.trace.add(this.now, 5, id, 0, 0);
    // Once it has left (it may first wait for its transactions), it is gone a moment later.
    const gone = () => {
      if (!n.alive) return;
      if (n.peer.finished) {
        this.schedule(this.now + 10, () => {
          n.alive = false;
          this.refresh(n);
          this.setIncarnation(n, n.incarnation + 1);
        });
      } else this.schedule(this.now + 200, gone);
    };
    gone();
  }

  /** Freeze a peer: nothing it receives is processed, none of its timers run, until resume(). */
  pause(id: PeerId): void {
    const n = this.nodes.get(id);
    if (n && n.alive) n.paused = true;
  }

  resume(id: PeerId): void {
    const n = this.nodes.get(id);
    if (!n || !n.paused) return;
    n.paused = false;
    const backlog = n.backlog;
    n.backlog = [];
    // Everything that waited arrives now, in its original order.
    for (const e of backlog) this.queue.push({ ...e, at: this.now, seq: this.queue.nextSeq() });
  }

  live(): SimNode[] {
    return this.select(1);
  }

  /** Peers in the ring now (alive and status 'in'). */
  members(): SimNode[] {
    return this.select(3);
  }

  // ---------------------------------------------------------------- clients

  onReply(fn: ReplyListener): void {
    this.replyListeners.push(fn);
  }

  onEvent(fn: (peer: PeerId, e: WatchEvent) => void): void {
    this.eventListeners.push(fn);
  }

  /** Issue a client operation at a peer; cb gets its reply. */
  request(id: PeerId, op: ClientOp, cb?: (r: ClientReply) => void): number {
    const n = this.nodes.get(id);
    const reqId = this.nextReqId++;
    if (!n || !n.alive) {
      cb?.({ reqId, ok: false, code: 'stopped', message: 'peer is down' });
      return reqId;
    }
    if (cb) {
      this.replyCallbacks.set(reqId, cb);
      this.requestPeer.set(reqId, id);
      this.requestOp.set(reqId, op.op);
    }
    n.peer.request({ reqId, op });
    this.flush(n);
    return reqId;
  }

  // ---------------------------------------------------------------- time

  schedule(at: number, fn: () => void): void {
    this.queue.push({ at, seq: this.queue.nextSeq(), kind: 'action', fn });
  }

  /** Run events until virtual time t (inclusive) or the queue empties. */
  runUntil(t: number): void {
    while (this.queue.peekAt() <= t) this.step();
    if (this.now < t) this.now = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  /** Run until pred() holds (checked after each event) or the time limit; returns whether it held. */
  runUntilTrue(pred: () => boolean, limitMs: number): boolean {
    const end = this.now + limitMs;
    if (pred()) return true;
    while (this.queue.peekAt() <= end) {
      this.step();
      if (pred()) return true;
    }
    this.now = Math.max(this.now, end);
    return pred();
  }

  private step(): void {
    // The event's time from the queue's keys (e.at is the same number, in a box of its own).
    this.now = this.queue.peekAt();
    const e = this.queue.pop()!;
    switch (e.kind) {
      case 'deliver':
        if (this.deliver(e)) {
          // Spent: reused for a later message (one allocation fewer per message).
          e.msg = undefined as unknown as Msg;
          e.node = undefined;
          if (this.spareDeliver.length < spare_events_max) this.spareDeliver.push(e);
        }
        break;
      case 'tick':
        if (this.tick(e) && this.spareTick.length < spare_events_max) this.spareTick.push(e);
        break;
      case 'disk': {
        const n = this.nodes.get(e.peer);
        if (!n || n.incarnation !== e.incarnation) break;
        if (n.paused) {
          // Its acknowledgements leave only when the process runs again.
          n.backlog.push(e);
          break;
        }
        n.disk.complete(e.batch);
        while (n.held.length > 0 && n.held[0]!.batch <= e.batch) {
          const h = n.held.shift()!;
          this.release(n, h.envelopes, h.replies);
        }
        break;
      }
      case 'action':
        e.fn();
        break;
    }
    this.afterEvent?.();
  }

  /** A message arrives; false if the event is kept (in a paused peer's backlog). */
  private deliver(e: DeliverEvent): boolean {
    const n = this.nodeAt(e.to, e.node);
    if (!n || !n.alive || n.incarnation !== e.incarnation) return true;
    if (e.to !== e.from && !this.partitions.canSend(e.from, e.to)) return true;
    if (n.paused) {
      n.backlog.push(e);
      return false;
    }
    this.beforeDeliver?.(e.from, e.to, e.msg);
    if (!n.alive) return true;
    this.delivered++;
    this.trace.add(this.now, 1, e.from, e.to, e.msg.t.length + e.msg.t.charCodeAt(0) * 31);
    if (this.opts.trace_lines) this.traceLines.push(`${e.at.toFixed(3)} ${e.from}>${e.to} ${JSON.stringify(e.msg)}`);
    if (this.opts.codec_check) n.peer.receiveRaw(e.from, encode(e.msg));
    else n.peer.receive(e.from, e.msg);
    this.flush(n);
    return true;
  }

  /** A peer's timers are due; false if the event is kept (in a paused peer's backlog). */
  private tick(e: TickEvent): boolean {
    const n = this.nodeAt(e.peer, e.node);
    if (!n || !n.alive || n.incarnation !== e.incarnation || n.wakeToken !== e.token) return true;
    if (n.paused) {
      n.backlog.push(e);
      return false;
    }
    n.wakeAt = Infinity;
    this.trace.add(this.now, 2, e.peer, 0, 0);
    n.peer.tick();
    this.flush(n);
    return true;
  }

  /**
   * Spent deliver and tick events, reused by pushDeliver and wake (the seq of a reused event
   * is new, so the queue's order is the same as with fresh objects).
   */
  private readonly spareDeliver: DeliverEvent[] = [];
  private readonly spareTick: TickEvent[] = [];

  private pushDeliver(at: number, from: PeerId, to: PeerId, msg: Msg, incarnation: number, node: SimNode | undefined): void {
    const seq = this.queue.nextSeq();
    const e = this.spareDeliver.pop();
    if (e === undefined) {
      this.queue.push({ at, seq, kind: 'deliver', from, to, msg, incarnation, node });
      return;
    }
    e.at = at;
    e.seq = seq;
    e.from = from;
    e.to = to;
    e.msg = msg;
    e.incarnation = incarnation;
    e.node = node;
    this.queue.push(e);
  }

  /** Carry out a peer's effects. */
  private flush(n: SimNode): void {
    const ctx = n.peer.ctx;
    if (ctx.quiet()) {
      // What drain() would hand over (its idle output: nothing but the next deadline), read
      // from the context, which the step just touched, not from a drained output object.
      this.refresh(n);
      this.wake(n, ctx.wakeAt());
      return;
    }
    const out: Output = n.peer.drain();
    // The step just taken may have changed its ring status (before any listener runs).
    this.refresh(n);
    // Indexed loops: for-of over these (often shared, frozen, empty) arrays allocated an
    // iterator per loop on the hot path.
    const id = n.id;
    const send = out.send;
    for (let i = 0; i < send.length; i++) this.transmit(id, send[i]!.to, send[i]!.msg);
    const events = out.events;
    for (let i = 0; i < events.length; i++) for (const fn of this.eventListeners) fn(id, events[i]!);
    if (out.persist === null && out.sendAfterPersist.length === 0 && out.replies.length === 0) {
      // The common case (a heartbeat, a forwarded message): nothing touches the disk.
      this.wake(n, out.wakeAt);
      return;
    }
    let lastBatch = n.disk.inFlight.length > 0 ? n.disk.inFlight[n.disk.inFlight.length - 1]!.id : 0;
    if (out.persist) {
      lastBatch = n.disk.begin(out.persist);
      const prevDone = this.lastDiskAt.get(n.id) ?? 0;
      // Batches of one peer complete in order: never before the previous one.
      const at = Math.max(prevDone, this.now + this.disk.disk_latency_min_ms + this.diskRng.exp(this.disk.disk_latency_jitter_mean_ms));
      this.lastDiskAt.set(n.id, at);
      this.queue.push({ at, seq: this.queue.nextSeq(), kind: 'disk', peer: n.id, batch: lastBatch, incarnation: n.incarnation });
    }
    if (out.sendAfterPersist.length > 0 || out.replies.length > 0) {
      if (lastBatch === 0 || this.opts.mutants?.ack_before_persist) this.release(n, out.sendAfterPersist, out.replies);
      else {
        // The runtimes' rule (src/peer/durability.ts): messages to ourselves and replies that
        // acknowledge no write leave at once; the rest waits for the disk.
        const split = splitByDurability(n.id, out.sendAfterPersist, out.replies, (reqId) => this.requestOp.get(reqId));
        if (split.now.envelopes.length > 0 || split.now.replies.length > 0) this.release(n, split.now.envelopes, split.now.replies);
        if (split.held.envelopes.length > 0 || split.held.replies.length > 0) n.held.push({ batch: lastBatch, envelopes: split.held.envelopes, replies: split.held.replies });
      }
    }
    this.wake(n, out.wakeAt);
  }

  /** Schedule the peer's next tick if its earliest timer moved forward. */
  private wake(n: SimNode, wakeAt: number | null): void {
    if (wakeAt !== null && wakeAt < n.wakeAt) {
      n.wakeAt = wakeAt;
      n.wakeToken++;
      const at = Math.max(wakeAt, this.now);
      const seq = this.queue.nextSeq();
      const e = this.spareTick.pop();
      if (e === undefined) {
        this.queue.push({ at, seq, kind: 'tick', peer: n.id, token: n.wakeToken, incarnation: n.incarnation, node: n });
        return;
      }
      e.at = at;
      e.seq = seq;
      e.peer = n.id;
      e.token = n.wakeToken;
      e.incarnation = n.incarnation;
      e.node = n;
      this.queue.push(e);
    }
  }

  private readonly lastDiskAt = new Map<PeerId, number>();

  /**
   * What a bootstrap server does for a peer whose contacts stopped answering: name a few
   * current members. Runs every bootstrap_refresh_ms while any peer is stuck joining.
   */
  private bootstrapRefreshArmed = false;
  private armBootstrapRefresh(): void {
    if (this.bootstrapRefreshArmed) return;
    this.bootstrapRefreshArmed = true;
    const every = 5000;
    const refresh = () => {
      const stuck = this.live().filter((n) => n.peer.ring.status === 'joining');
      for (const n of stuck) {
        if (n.peer.ring.joinAttempts >= 2) {
          n.peer.ring.addJoinContacts(this.contactsFor(this.members().length > 0 ? this.rng.pick(this.members()).id : null));
          this.flush(n);
        }
      }
      if (stuck.length > 0) this.schedule(this.now + every, refresh);
      else this.bootstrapRefreshArmed = false;
    };
    this.schedule(this.now + every, refresh);
  }

  private release(n: SimNode, envelopes: Envelope[], replies: ClientReply[]): void {
    for (const env of envelopes) this.transmit(n.id, env.to, env.msg);
    for (const r of replies) {
      const cb = this.replyCallbacks.get(r.reqId);
      if (cb) {
        this.replyCallbacks.delete(r.reqId);
        this.requestPeer.delete(r.reqId);
        this.requestOp.delete(r.reqId);
        cb(r);
      }
      for (const fn of this.replyListeners) fn(n.id, r);
    }
  }

  /**
   * Every peer's sends go straight to transmit() (PeerContext.setSendSink), as they happen
   * in its step: the same messages in the same order, at the same virtual time, as when
   * flush() transmitted them after the step (nothing else runs in between), without an
   * envelope, an output list and an output object per message. One function for all peers.
   */
  private readonly sendNow = (from: PeerId, to: PeerId, msg: Msg): void => this.transmit(from, to, msg);

  private transmit(from: PeerId, to: PeerId, msg: Msg): void {
    this.sent++;
    const kind = msg.t === 'route' ? routeKind(msg.body.k) : msg.t;
    const count = this.sentCounts.get(kind);
    if (count !== undefined) count.n++;
    else this.sentCounts.set(kind, { n: 1 });
    // this.index.get(to) and its incarnation, without loading the node (see NodeIndex).
    const slot = this.index.find(to);
    const node = slot < 0 ? undefined : this.index.nodeAt(slot);
    const incarnation = slot < 0 ? 0 : this.index.incarnationAt(slot);
    if (to === from) {
      // Local delivery: no network, but still a separate event, so handlers never re-enter.
      this.pushDeliver(this.now, from, to, msg, incarnation, node);
      return;
    }
    if (!this.partitions.canSend(from, to)) return;
    // deliveryDelays() without its array: the same draws in the same order (loss, first
    // delay, duplicate, second delay), so a seed gives the same run.
    const net = this.network;
    const rng = this.netRng;
    if (net.loss_rate > 0 && rng.chance(net.loss_rate)) return;
    const first = oneDelay(net, rng);
    this.pushDeliver(this.now + first, from, to, msg, incarnation, node);
    if (net.duplicate_rate > 0 && rng.chance(net.duplicate_rate)) {
      this.pushDeliver(this.now + oneDelay(net, rng), from, to, msg, incarnation, node);
    }
  }

  /** Decode check used by tests: every message type must survive the codec. */
  static roundTrip(msg: Msg): Msg {
    const r = decode(encode(msg));
    if (!r.ok) throw new Error(`codec rejected ${msg.t}: ${r.detail}`);
    return r.msg;
  }

  /** For tests and benchmarks: stored records of a peer (durable only). */
  durable(id: PeerId): Array<[string, Json]> {
    return this.nodes.get(id)?.disk.records() ?? [];
  }
}
