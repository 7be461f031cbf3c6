import type { WriteBatch } from '../adapters/storage.ts';
import type { Env } from '../core/env.ts';
import type { Msg } from '../core/messages.ts';
import { Timers, type TimersOwner } from '../core/timers.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerConfig } from './config.ts';
import type { ClientReply, Envelope, Output, WatchEvent } from './io.ts';

const NONE: Envelope[] = Object.freeze([]) as unknown as Envelope[];
const NO_REPLIES: ClientReply[] = Object.freeze([]) as unknown as ClientReply[];
const NO_EVENTS: WatchEvent[] = Object.freeze([]) as unknown as WatchEvent[];
const NO_SIGNALS: Array<{ from: PeerId; data: Json }> = Object.freeze([]) as unknown as Array<{ from: PeerId; data: Json }>;

/** Bits of PeerContext.effects: which kinds of effect a step queued. */
const SEND = 1;
const SEND_AFTER = 2;
const REPLIES = 4;
const EVENTS = 8;
const SIGNALS = 16;
const PERSIST = 32;

/** Message types seen by any peer of this process, numbered in order of first use. */
const typeIndex = new Map<string, number>();
const typeNames: string[] = [];

function indexOfType(t: string): number {
  let i = typeIndex.get(t);
  if (i === undefined) {
    i = typeNames.length;
    typeIndex.set(t, i);
    typeNames.push(t);
  }
  return i;
}

/** Message types counted in the shared table per peer and direction (the wire has fewer kinds; more spill to a map). */
const type_slots = 64;
/**
 * The per-type message counts of every peer of this process, in one array: a peer's counts
 * of received messages of type i are at table[base + 2i], of sent ones at table[base + 2i +
 * 1]. Counting a message then costs the peer one array element, not a map (or an array of
 * its own) that is one more cache miss per message when a simulation runs thousands of
 * peers; and a message and the answer it causes (a ping in, a pong out; a route message in
 * and forwarded) are counted in one cache line, not one in each half of the peer's rows. A
 * peer's rows are zeroed and reused once its Counters are collected.
 */
let table = new Float64Array(2 * type_slots * 16);
let tableUsed = 0;
const freeBases: number[] = [];
const releaseRows = new FinalizationRegistry<number>((base) => {
  table.fill(0, base, base + 2 * type_slots);
  freeBases.push(base);
});

function allocRows(): number {
  const reused = freeBases.pop();
  if (reused !== undefined) return reused;
  if (tableUsed + 2 * type_slots > table.length) {
    const bigger = new Float64Array(table.length * 2);
    bigger.set(table);
    table = bigger;
  }
  const base = tableUsed;
  tableUsed += 2 * type_slots;
  return base;
}

/**
 * A count per message type, with the part of Map's interface the peer uses, kept in the
 * shared table (types beyond type_slots in a map of its own).
 */
export class TypeCounts {
  private readonly spill = new Map<string, number>();

  constructor(
    /** Keeps the rows alive (they are released when the Counters are collected). */
    private readonly owner: Counters,
    /** table[offset + 2i] is the count of the i-th type. */
    private readonly offset: number,
  ) {}

  get(t: string): number | undefined {
    const i = typeIndex.get(t);
    if (i === undefined) return undefined;
    const c = i < type_slots ? table[this.offset + 2 * i]! : (this.spill.get(t) ?? 0);
    return c === 0 ? undefined : c;
  }

  has(t: string): boolean {
    return this.get(t) !== undefined;
  }

  set(t: string, n: number): this {
    const i = indexOfType(t);
    if (i < type_slots) table[this.offset + 2 * i] = n;
    else this.spill.set(t, n);
    return this;
  }

  /** One more message of type t. */
  add(t: string): void {
    const i = indexOfType(t);
    if (i < type_slots) table[this.offset + 2 * i]!++;
    else this.spill.set(t, (this.spill.get(t) ?? 0) + 1);
  }

  get size(): number {
    return [...this.entries()].length;
  }

  *entries(): IterableIterator<[string, number]> {
    for (let i = 0; i < Math.min(type_slots, typeNames.length); i++) {
      const c = table[this.offset + 2 * i]!;
      if (c !== 0) yield [typeNames[i]!, c];
    }
    for (const [t, c] of this.spill) if (c !== 0) yield [t, c];
  }

  [Symbol.iterator](): IterableIterator<[string, number]> {
    return this.entries();
  }
}

/** Counters a peer keeps about itself (messages by type, drops by reason, ...). */
export class Counters {
  readonly values = new Map<string, number>();
  /** Messages in and out by type: kept apart so the hot path never builds a key string. */
  readonly inByType: TypeCounts;
  readonly outByType: TypeCounts;
  /** Where this peer's rows start in the shared table (received type i at base + 2i, sent at base + 2i + 1). */
  readonly base = allocRows();

  constructor() {
    this.inByType = new TypeCounts(this, this.base);
    this.outByType = new TypeCounts(this, this.base + 1);
    releaseRows.register(this, this.base);
  }
  add(name: string, n = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + n);
  }
  get(name: string): number {
    if (name.startsWith('in.') && this.inByType.has(name.slice(3))) return this.inByType.get(name.slice(3))!;
    if (name.startsWith('out.') && this.outByType.has(name.slice(4))) return this.outByType.get(name.slice(4))!;
    return this.values.get(name) ?? 0;
  }
  toJSON(): Record<string, number> {
    const all: Array<[string, number]> = [...this.values.entries()];
    for (const [t, n] of this.inByType) all.push([`in.${t}`, n]);
    for (const [t, n] of this.outByType) all.push([`out.${t}`, n]);
    return Object.fromEntries(all.sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** Takes a peer's message as it is sent (PeerContext.setSendSink): from is the sender's id. */
export type SendSink = (from: PeerId, to: PeerId, msg: Msg) => void;

/**
 * What every layer of one peer shares: identity, injected clock and randomness, timers,
 * counters, and the outbox that drain() hands to the driver. Layers never do I/O; they
 * append effects here.
 */
export class PeerContext implements TimersOwner {
  readonly timers = new Timers(this);
  /** timers.nextAt(), kept current by the timers (so that drain() need not load them). */
  private timersNext: number | null = null;
  readonly counters = new Counters();
  /** counters.base, kept here: counting a message touches this context and the shared table only. */
  private readonly countBase = this.counters.base;
  private send_: Envelope[] = [];
  private sendAfter_: Envelope[] = [];
  private replies_: ClientReply[] = [];
  private events_: WatchEvent[] = [];
  private signals_: Array<{ from: PeerId; data: Json }> = [];
  private readonly idle: { -readonly [K in keyof Output]: Output[K] } = { send: NONE, persist: null, sendAfterPersist: NONE, replies: NO_REPLIES, events: NO_EVENTS, signals: NO_SIGNALS, wakeAt: null };
  /** Pending writes of this step: key -> value, or undefined for a delete. Last write wins. */
  private persist_ = new Map<string, Json | undefined>();
  /**
   * Which kinds of effect were queued since the last drain() (the bits below): drain() reads
   * only the containers that hold something. Each container is an object of its own, and in
   * a simulation of thousands of peers reading the length of five of them cost up to five
   * cache misses per step, when most steps only send.
   */
  private effects = 0;
  /** See setSendSink(). */
  private sink: SendSink | null = null;
  /** env.now, kept here so that reading the clock does not load the env object (see now()). */
  private readonly clock: () => number;

  constructor(
    readonly self: PeerId,
    readonly env: Env,
    readonly config: PeerConfig,
  ) {
    this.clock = env.now;
  }

  timersNextChanged(next: number | null): void {
    this.timersNext = next;
  }

  /** One more message of type t received (counters.inByType). */
  countIn(t: string): void {
    const i = indexOfType(t);
    if (i < type_slots) table[this.countBase + 2 * i]!++;
    else this.counters.inByType.add(t);
  }

  private countOut(t: string): void {
    const i = indexOfType(t);
    if (i < type_slots) table[this.countBase + 2 * i + 1]!++;
    else this.counters.outByType.add(t);
  }

  now(): number {
    // env.now() as a call of the saved function on env: the same call, without loading env.
    return this.clock.call(this.env);
  }

  /**
   * From now on, send() hands each message to sink at once instead of queueing it for
   * drain() (messages already queued go first, in order). For a driver that would carry out
   * the sends first thing after the step anyway and whose sink only queues them (the
   * simulator): a message then costs no envelope, no output list and no output object, most
   * of the simulator's garbage. The sink must not call back into this peer.
   */
  setSendSink(sink: SendSink | null): void {
    this.sink = sink;
    if (sink === null || (this.effects & SEND) === 0) return;
    const queued = this.send_;
    this.send_ = [];
    this.effects &= ~SEND;
    for (let i = 0; i < queued.length; i++) this.send(queued[i]!.to, queued[i]!.msg);
  }

  send(to: PeerId, msg: Msg): void {
    if (this.sink !== null) {
      this.countOut(msg.t);
      this.sink(this.self, to, msg);
      return;
    }
    this.effects |= SEND;
    this.send_.push({ to, msg });
  }

  /** Sends once everything persisted so far in this step is durable. */
  sendAfterPersist(to: PeerId, msg: Msg): void {
    this.effects |= SEND_AFTER;
    this.sendAfter_.push({ to, msg });
  }

  reply(r: ClientReply): void {
    this.effects |= REPLIES;
    this.replies_.push(r);
  }

  event(e: WatchEvent): void {
    this.effects |= EVENTS;
    this.events_.push(e);
  }

  signal(from: PeerId, data: Json): void {
    this.effects |= SIGNALS;
    this.signals_.push({ from, data });
  }

  persist(key: string, value: Json): void {
    this.effects |= PERSIST;
    this.persist_.set(key, value);
  }

  unpersist(key: string): void {
    this.effects |= PERSIST;
    this.persist_.set(key, undefined);
  }

  /**
   * Nothing was queued since the last drain(): drain() would return only the earliest
   * deadline (wakeAt()). A driver that asks first can skip drain() and its output object
   * (the simulator, for most steps: reading that object was one more cache miss per step).
   */
  quiet(): boolean {
    return this.effects === 0;
  }

  /** The earliest timer deadline, as drain() reports it (wakeAt). */
  wakeAt(): number | null {
    return this.timersNext;
  }

  drain(): Output {
    const effects = this.effects;
    if (effects === 0) {
      // The common case for a heartbeat or a forwarded message's sender: nothing to hand
      // over. One reused object: the driver reads it before the next drain().
      this.idle.wakeAt = this.timersNext;
      return this.idle;
    }
    this.effects = 0;
    // Hand over the containers that hold something and start new ones in their place; the
    // empty ones stay for the next step (shared frozen empties go out instead, as in the
    // idle case).
    let send = NONE;
    if (effects & SEND) {
      send = this.send_;
      this.send_ = [];
      for (let i = 0; i < send.length; i++) this.countOut(send[i]!.msg.t);
    }
    let after = NONE;
    if (effects & SEND_AFTER) {
      after = this.sendAfter_;
      this.sendAfter_ = [];
      for (let i = 0; i < after.length; i++) this.countOut(after[i]!.msg.t);
    }
    let replies = NO_REPLIES;
    if (effects & REPLIES) {
      replies = this.replies_;
      this.replies_ = [];
    }
    let events = NO_EVENTS;
    if (effects & EVENTS) {
      events = this.events_;
      this.events_ = [];
    }
    let signals = NO_SIGNALS;
    if (effects & SIGNALS) {
      signals = this.signals_;
      this.signals_ = [];
    }
    return { send, persist: effects & PERSIST ? this.takePersist() : null, sendAfterPersist: after, replies, events, signals, wakeAt: this.timersNext };
  }

  /** The writes of this step as one batch (persist_ starts empty again). */
  private takePersist(): WriteBatch {
    const puts: Array<[string, Json]> = [];
    const dels: string[] = [];
    for (const [k, v] of this.persist_) {
      if (v === undefined) dels.push(k);
      else puts.push([k, v]);
    }
    this.persist_ = new Map();
    return { puts, dels };
  }
}
