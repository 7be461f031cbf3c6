import { inOpenClosed } from '../core/id.ts';
import { keyPosition } from '../core/hash.ts';
import { handover_items_per_message_max } from '../core/limits.ts';
import type { MsgOf, RoutedBody } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { ClientOp } from '../peer/io.ts';
import type { RouteMsg, Router } from './router.ts';

const PREFIX = 'kv/';

interface Pending {
  reqId: number;
  op: Extract<ClientOp, { op: 'kv_put' | 'kv_get' | 'kv_del' }>;
  attempts: number;
  timer: number;
  wireId: number;
}

/**
 * The plain, unreplicated DHT: each key lives only at the peer responsible for it, and
 * moves with responsibility (join and leave hand items over). It is the first user of
 * routing and the baseline the replicated store (src/replication) improves on: a crash
 * loses the crashed peer's items here.
 */
export class PlainKv {
  readonly items = new Map<string, Json>();
  private readonly pending = new Map<number, Pending>();
  private nextWire = 1;

  constructor(
    private readonly ctx: PeerContext,
    private readonly router: Router,
  ) {}

  /** Restore from storage records. */
  restore(records: ReadonlyArray<readonly [string, Json]>): void {
    for (const [k, v] of records) if (k.startsWith(PREFIX)) this.items.set(k.slice(PREFIX.length), v);
  }

  request(reqId: number, op: Pending['op']): void {
    const p: Pending = { reqId, op, attempts: 0, timer: 0, wireId: 0 };
    this.attempt(p);
  }

  private attempt(p: Pending): void {
    p.attempts++;
    if (p.wireId) this.pending.delete(p.wireId);
    p.wireId = this.nextWire++;
    this.pending.set(p.wireId, p);
    p.timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.request_timeout_ms, () => {
      if (p.attempts >= this.ctx.config.request_attempts_max) {
        this.pending.delete(p.wireId);
        this.ctx.reply({ reqId: p.reqId, ok: false, code: 'timeout', message: `no answer after ${p.attempts} attempts` });
      } else this.attempt(p);
    });
    const op = p.op;
    const body: RoutedBody =
      op.op === 'kv_put'
        ? { k: 'kv_put', reqId: p.wireId, key: op.key, value: op.value }
        : op.op === 'kv_get'
          ? { k: 'kv_get', reqId: p.wireId, key: op.key }
          : { k: 'kv_del', reqId: p.wireId, key: op.key };
    this.router.route(keyPosition(op.key), body);
  }

  /** A routed kv operation reached us, the responsible peer. */
  deliver(body: Extract<RoutedBody, { k: 'kv_put' | 'kv_get' | 'kv_del' }>, msg: RouteMsg): void {
    let reply: MsgOf<'kv_reply'>;
    if (body.k === 'kv_put') {
      this.items.set(body.key, body.value);
      this.ctx.persist(PREFIX + body.key, body.value);
      reply = { t: 'kv_reply', reqId: body.reqId, found: true, value: null };
    } else if (body.k === 'kv_del') {
      const had = this.items.delete(body.key);
      this.ctx.unpersist(PREFIX + body.key);
      reply = { t: 'kv_reply', reqId: body.reqId, found: had, value: null };
    } else {
      const v = this.items.get(body.key);
      reply = { t: 'kv_reply', reqId: body.reqId, found: v !== undefined, value: v ?? null };
    }
    // The answer depends on the write being durable.
    if (msg.origin === this.ctx.self) this.ctx.sendAfterPersist(this.ctx.self, reply);
    else this.ctx.sendAfterPersist(msg.origin, reply);
  }

  onReply(msg: MsgOf<'kv_reply'>): void {
    const p = this.pending.get(msg.reqId);
    if (!p) return;
    this.pending.delete(msg.reqId);
    this.ctx.timers.cancel(p.timer);
    this.ctx.reply({ reqId: p.reqId, ok: true, value: msg.value, found: msg.found });
  }

  /** We gave (from, to] to a joiner: send it those items and forget them. */
  handOver(from: PeerId | null, to: PeerId, all = false): void {
    // Without a lower bound (no predecessor was known) the range is unknown: keep everything.
    if (from === null && !all) return;
    const out: Array<[string, Json]> = [];
    for (const [k, v] of this.items) {
      if (all || inOpenClosed(keyPosition(k), from!, to)) out.push([k, v]);
    }
    for (let i = 0; i < out.length; i += handover_items_per_message_max) {
      this.ctx.sendAfterPersist(to, { t: 'kv_items', items: out.slice(i, i + handover_items_per_message_max) });
    }
    for (const [k] of out) {
      this.items.delete(k);
      this.ctx.unpersist(PREFIX + k);
    }
  }

  onItems(msg: MsgOf<'kv_items'>): void {
    for (const [k, v] of msg.items) {
      this.items.set(k, v);
      this.ctx.persist(PREFIX + k, v);
    }
  }
}
