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

/** Counters a peer keeps about itself (messages by type, drops by reason, ...). */
export class Counters {
  readonly values = new Map<string, number>();
  /** Messages in and out by type: kept apart so the hot path never builds a key string. */
  readonly inByType = new Map<string, number>();
  readonly outByType = new Map<string, number>();
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
  readonly counters = new Counters();
  private send_: Envelope[] = [];
  private sendAfter_: Envelope[] = [];
  private replies_: ClientReply[] = [];
  private events_: WatchEvent[] = [];
  private signals_: Array<{ from: PeerId; data: Json }> = [];
  private readonly idle: { -readonly [K in keyof Output]: Output[K] } = { send: NONE, persist: null, sendAfterPersist: NONE, replies: NO_REPLIES, events: NO_EVENTS, signals: NO_SIGNALS, wakeAt: null };
  /** Pending writes of this step: key -> value, or undefined for a delete. Last write wins. */
  private persist_ = new Map<string, Json | undefined>();

  constructor(
    readonly self: PeerId,
    readonly env: Env,
    readonly config: PeerConfig,
  ) {}

  now(): number {
    return this.env.now();
  }

  send(to: PeerId, msg: Msg): void {
    this.send_.push({ to, msg });
  }

  /** Sends once everything persisted so far in this step is durable. */
  sendAfterPersist(to: PeerId, msg: Msg): void {
    this.sendAfter_.push({ to, msg });
  }

  reply(r: ClientReply): void {
    this.replies_.push(r);
  }

  event(e: WatchEvent): void {
    this.events_.push(e);
  }

  signal(from: PeerId, data: Json): void {
    this.signals_.push({ from, data });
  }

  persist(key: string, value: Json): void {
    this.persist_.set(key, value);
  }

  unpersist(key: string): void {
    this.persist_.set(key, undefined);
  }

  drain(): Output {
    if (this.send_.length === 0 && this.sendAfter_.length === 0 && this.replies_.length === 0 && this.persist_.size === 0 && this.events_.length === 0 && this.signals_.length === 0) {
      // The common case for a heartbeat or a forwarded message's sender: nothing to hand
      // over. One reused object: the driver reads it before the next drain().
      this.idle.wakeAt = this.timers.nextAt();
      return this.idle;
    }
    let persist: Output['persist'] = null;
    if (this.persist_.size > 0) {
      const puts: Array<[string, Json]> = [];
      const dels: string[] = [];
      for (const [k, v] of this.persist_) {
        if (v === undefined) dels.push(k);
        else puts.push([k, v]);
      }
      persist = { puts, dels };
      this.persist_ = new Map();
    }
    const out: Output = {
      send: this.send_,
      persist,
      sendAfterPersist: this.sendAfter_,
      replies: this.replies_,
      events: this.events_,
      signals: this.signals_,
      wakeAt: this.timers.nextAt(),
    };
    this.events_ = [];
    this.signals_ = [];
    this.send_ = [];
    this.sendAfter_ = [];
    this.replies_ = [];
    const byType = this.counters.outByType;
    for (const e of out.send) byType.set(e.msg.t, (byType.get(e.msg.t) ?? 0) + 1);
    for (const e of out.sendAfterPersist) byType.set(e.msg.t, (byType.get(e.msg.t) ?? 0) + 1);
    return out;
  }
}
