import type { Env } from '../core/env.ts';
import type { Msg } from '../core/messages.ts';
import { Timers } from '../core/timers.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerConfig } from './config.ts';
import type { ClientReply, Envelope, Output, WatchEvent } from './io.ts';

const NONE: Envelope[] = Object.freeze([]) as unknown as Envelope[];
const NO_REPLIES: ClientReply[] = Object.freeze([]) as unknown as ClientReply[];
const NO_EVENTS: WatchEvent[] = Object.freeze([]) as unknown as WatchEvent[];
const NO_SIGNALS: Array<{ from: PeerId; data: Json }> = Object.freeze([]) as unknown as Array<{ from: PeerId; data: Json }>;

/** Message types seen by any peer of this process, numbered in order of first use. */
const typeIndex = new Map<string, number>();
const typeNames: string[] = [];

/** counts[index of t]++ (the array grows as new types appear). */
function countInto(counts: number[], t: string): void {
  const i = indexOfType(t);
  while (counts.length <= i) counts.push(0);
  counts[i]!++;
}

function indexOfType(t: string): number {
  let i = typeIndex.get(t);
  if (i === undefined) {
    i = typeNames.length;
    typeIndex.set(t, i);
    typeNames.push(t);
  }
  return i;
}

/**
 * A count per message type, with the part of Map's interface the peer uses. The numbering
 * of types is shared by every peer of the process (one small map that stays in cache); each
 * peer keeps only an array of counts. A Map per peer cost several cache misses per message
 * in a simulation of thousands of peers.
 */
export class TypeCounts {
  /** counts[i]: messages of the i-th type (indexOfType); shared with the PeerContext's hot path. */
  constructor(private readonly counts: number[] = []) {}

  get(t: string): number | undefined {
    const i = typeIndex.get(t);
    if (i === undefined || i >= this.counts.length) return undefined;
    const c = this.counts[i]!;
    return c === 0 ? undefined : c;
  }

  has(t: string): boolean {
    return this.get(t) !== undefined;
  }

  set(t: string, n: number): this {
    const i = indexOfType(t);
    const counts = this.counts;
    while (counts.length <= i) counts.push(0);
    counts[i] = n;
    return this;
  }

  /** One more message of type t. */
  add(t: string): void {
    countInto(this.counts, t);
  }

  get size(): number {
    let n = 0;
    for (const c of this.counts) if (c !== 0) n++;
    return n;
  }

  *entries(): IterableIterator<[string, number]> {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) yield [typeNames[i]!, counts[i]!];
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

  constructor(
    /** The arrays behind inByType and outByType (PeerContext counts into them directly). */
    readonly inCounts: number[] = [],
    readonly outCounts: number[] = [],
  ) {
    this.inByType = new TypeCounts(inCounts);
    this.outByType = new TypeCounts(outCounts);
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

/**
 * What every layer of one peer shares: identity, injected clock and randomness, timers,
 * counters, and the outbox that drain() hands to the driver. Layers never do I/O; they
 * append effects here.
 */
export class PeerContext {
  readonly timers = new Timers();
  readonly counters: Counters;
  /**
   * The counts behind counters.inByType / outByType, held here too: counting a message then
   * touches this context and one array, not three more objects (each a likely cache miss
   * when a simulation runs thousands of peers).
   */
  private readonly inCounts: number[] = [];
  private readonly outCounts: number[] = [];
  private send_: Envelope[] = [];
  private sendAfter_: Envelope[] = [];
  private replies_: ClientReply[] = [];
  private events_: WatchEvent[] = [];
  private signals_: Array<{ from: PeerId; data: Json }> = [];
  private readonly idle: { -readonly [K in keyof Output]: Output[K] } = { send: NONE, persist: null, sendAfterPersist: NONE, replies: NO_REPLIES, events: NO_EVENTS, signals: NO_SIGNALS, wakeAt: null };
  /** Pending writes of this step: key -> value, or undefined for a delete. Last write wins. */
  private persist_ = new Map<string, Json | undefined>();
  /** Effects queued since the last drain(): an idle drain reads this one field, not six containers. */
  private effects = 0;
  /** Whether persist_ holds anything (it only grows between drains). */
  private persisting = false;

  constructor(
    readonly self: PeerId,
    readonly env: Env,
    readonly config: PeerConfig,
  ) {
    this.counters = new Counters(this.inCounts, this.outCounts);
  }

  /** One more message of type t received (counters.inByType). */
  countIn(t: string): void {
    countInto(this.inCounts, t);
  }

  now(): number {
    return this.env.now();
  }

  send(to: PeerId, msg: Msg): void {
    this.effects++;
    this.send_.push({ to, msg });
  }

  /** Sends once everything persisted so far in this step is durable. */
  sendAfterPersist(to: PeerId, msg: Msg): void {
    this.effects++;
    this.sendAfter_.push({ to, msg });
  }

  reply(r: ClientReply): void {
    this.effects++;
    this.replies_.push(r);
  }

  event(e: WatchEvent): void {
    this.effects++;
    this.events_.push(e);
  }

  signal(from: PeerId, data: Json): void {
    this.effects++;
    this.signals_.push({ from, data });
  }

  persist(key: string, value: Json): void {
    this.effects++;
    this.persisting = true;
    this.persist_.set(key, value);
  }

  unpersist(key: string): void {
    this.effects++;
    this.persisting = true;
    this.persist_.set(key, undefined);
  }

  drain(): Output {
    if (this.effects === 0) {
      // The common case for a heartbeat or a forwarded message's sender: nothing to hand
      // over. One reused object: the driver reads it before the next drain().
      this.idle.wakeAt = this.timers.nextAt();
      return this.idle;
    }
    this.effects = 0;
    let persist: Output['persist'] = null;
    if (this.persisting) {
      this.persisting = false;
      const puts: Array<[string, Json]> = [];
      const dels: string[] = [];
      for (const [k, v] of this.persist_) {
        if (v === undefined) dels.push(k);
        else puts.push([k, v]);
      }
      persist = { puts, dels };
      this.persist_ = new Map();
    }
    // Hand over the containers that hold something; the empty ones stay for the next step
    // (shared frozen empties go out instead, as in the idle case).
    const out: Output = {
      send: this.send_.length > 0 ? this.send_ : NONE,
      persist,
      sendAfterPersist: this.sendAfter_.length > 0 ? this.sendAfter_ : NONE,
      replies: this.replies_.length > 0 ? this.replies_ : NO_REPLIES,
      events: this.events_.length > 0 ? this.events_ : NO_EVENTS,
      signals: this.signals_.length > 0 ? this.signals_ : NO_SIGNALS,
      wakeAt: this.timers.nextAt(),
    };
    if (this.send_.length > 0) this.send_ = [];
    if (this.sendAfter_.length > 0) this.sendAfter_ = [];
    if (this.replies_.length > 0) this.replies_ = [];
    if (this.events_.length > 0) this.events_ = [];
    if (this.signals_.length > 0) this.signals_ = [];
    const outCounts = this.outCounts;
    const send = out.send;
    for (let i = 0; i < send.length; i++) countInto(outCounts, send[i]!.msg.t);
    const after = out.sendAfterPersist;
    for (let i = 0; i < after.length; i++) countInto(outCounts, after[i]!.msg.t);
    return out;
  }
}
