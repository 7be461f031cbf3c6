import { decode } from '../core/codec.ts';
import type { Env } from '../core/env.ts';
import { isId, randomId } from '../core/id.ts';
import { isJson } from '../core/json.ts';
import { key_bytes_max, value_bytes_max } from '../core/limits.ts';
import { utf8Length } from '../core/json.ts';
import type { Msg, RoutedBody } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import { FailureDetector } from '../ring/failure-detector.ts';
import { Ring } from '../ring/ring.ts';
import { PlainKv } from '../routing/plain-kv.ts';
import { Router, type RouteMsg } from '../routing/router.ts';
import { defaultPeerConfig, type PeerConfig } from './config.ts';
import { PeerContext } from './context.ts';
import type { ClientRequest, Output } from './io.ts';

const META_ID = 'meta/id';

export interface PeerOptions {
  env: Env;
  config?: Partial<PeerConfig>;
  /** Records loaded from storage at start; a stored identity is reused. */
  stored?: ReadonlyArray<readonly [string, Json]>;
  /** Force an identity (tests); otherwise the stored one or a fresh random one. */
  id?: PeerId;
}

/**
 * One peer: the layers composed into a pure, synchronous state machine.
 * Inputs: receive / receiveRaw (a message), request (a client operation), tick (timers),
 * start / leave. Outputs: drain() returns every effect as data (see io.ts).
 */
export class Peer {
  readonly ctx: PeerContext;
  readonly fd: FailureDetector;
  readonly ring: Ring;
  readonly router: Router;
  readonly kv: PlainKv;
  private started = false;

  constructor(opts: PeerOptions) {
    const config = { ...defaultPeerConfig, ...opts.config };
    const storedId = opts.stored?.find(([k]) => k === META_ID)?.[1];
    const id = opts.id ?? (isId(storedId) ? storedId : randomId(() => opts.env.random()));
    this.ctx = new PeerContext(id, opts.env, config);
    if (storedId !== id) this.ctx.persist(META_ID, id);
    this.fd = new FailureDetector(this.ctx);
    this.ring = new Ring(this.ctx, this.fd, {
      gaveRange: (from, to) => this.kv.handOver(from, to),
      predChanged: () => {},
      joined: () => this.router.releaseHeld(),
      leaving: (succ) => this.kv.handOver(null, succ, true),
    });
    this.router = new Router(this.ctx, this.ring, this.fd);
    this.router.onDeliver((body, msg) => this.deliver(body, msg));
    this.kv = new PlainKv(this.ctx, this.router);
    if (opts.stored) this.kv.restore(opts.stored);
  }

  get id(): PeerId {
    return this.ctx.self;
  }

  /** Create a new ring (no contacts) or join one through any of the contacts. */
  start(contacts: readonly PeerId[]): void {
    if (this.started) return;
    this.started = true;
    const others = contacts.filter((c) => c !== this.id);
    if (others.length === 0) this.ring.create();
    else this.ring.join(others);
    this.scheduleHeartbeat();
    this.scheduleFingerFix();
  }

  leave(): void {
    this.ring.leave();
    this.ctx.timers.clear();
  }

  /** Bytes from the wire: validated; anything malformed is dropped and counted, never thrown. */
  receiveRaw(from: PeerId, data: unknown): void {
    const r = decode(data);
    if (!r.ok) {
      this.ctx.counters.add(`in.dropped_${r.reason}`);
      return;
    }
    this.receive(from, r.msg);
  }

  receive(from: PeerId, msg: Msg): void {
    if (!isId(from)) {
      this.ctx.counters.add('in.dropped_bad_sender');
      return;
    }
    if (this.ring.status === 'left' || this.ring.status === 'out') {
      this.ctx.counters.add('in.dropped_not_running');
      return;
    }
    const inByType = this.ctx.counters.inByType;
    inByType.set(msg.t, (inByType.get(msg.t) ?? 0) + 1);
    this.fd.heard(from);
    switch (msg.t) {
      case 'ping':
        this.ctx.send(from, { t: 'pong', seq: msg.seq, member: this.ring.status === 'in', pred: this.ring.pred, succs: this.ring.succs.slice() });
        return;
      case 'pong':
        this.fd.pong(from, msg.seq);
        if (!msg.member) {
          this.ring.onNotMember(from);
          this.router.fingers.removePeer(from);
          return;
        }
        this.ring.onMember(from);
        this.ring.onPong(from, msg.pred, msg.succs);
        return;
      case 'join_ok':
        return this.ring.onJoinOk(from, msg.pred, msg.succs);
      case 'join_retry':
        return this.ring.onJoinRetry();
      case 'new_succ':
        return this.ring.onNewSucc(from, msg.succs);
      case 'notify':
        return this.ring.onNotify(from);
      case 'leave':
        return this.ring.onLeave(from, msg.pred);
      case 'leave_pred':
        return this.ring.onLeavePred(from, msg.succs);
      case 'route':
        return this.router.handle(msg);
      case 'found':
        return this.router.onFound(msg);
      case 'kv_reply':
        return this.kv.onReply(msg);
      case 'kv_items':
        return this.kv.onItems(msg);
    }
  }

  private deliver(body: RoutedBody, msg: RouteMsg): void {
    switch (body.k) {
      case 'join':
        return this.ring.onJoin(msg.origin);
      case 'find':
        return this.router.answerFind(msg, body.reqId);
      case 'kv_put':
      case 'kv_get':
      case 'kv_del':
        return this.kv.deliver(body, msg);
    }
  }

  /** A client operation. Limits are checked here, before anything is sent. */
  request(req: ClientRequest): void {
    const op = req.op;
    if (this.ring.status !== 'in') {
      this.ctx.reply({ reqId: req.reqId, ok: false, code: 'not_joined', message: `peer is ${this.ring.status}` });
      return;
    }
    if (op.op === 'lookup') {
      this.router.lookup(op.target, (peer, hops) => {
        if (peer === null) this.ctx.reply({ reqId: req.reqId, ok: false, code: 'timeout', message: 'lookup timed out' });
        else this.ctx.reply({ reqId: req.reqId, ok: true, value: peer, hops });
      });
      return;
    }
    if (utf8Length(op.key) > key_bytes_max) {
      this.ctx.reply({ reqId: req.reqId, ok: false, code: 'limit', message: `key longer than ${key_bytes_max} bytes` });
      return;
    }
    if (op.op === 'kv_put') {
      if (!isJson(op.value)) {
        this.ctx.reply({ reqId: req.reqId, ok: false, code: 'invalid', message: 'value is not JSON' });
        return;
      }
      if (JSON.stringify(op.value).length > value_bytes_max) {
        this.ctx.reply({ reqId: req.reqId, ok: false, code: 'limit', message: `value larger than ${value_bytes_max} bytes` });
        return;
      }
    }
    this.kv.request(req.reqId, op);
  }

  /** Run the timers that are due. */
  tick(): void {
    this.ctx.timers.runDue(this.ctx.now());
  }

  drain(): Output {
    return this.ctx.drain();
  }

  private scheduleHeartbeat(): void {
    const every = this.ctx.config.heartbeat_interval_ms;
    // A random phase spreads the heartbeats of many peers over the interval.
    const first = this.ctx.now() + this.ctx.env.random() * every;
    const beat = () => {
      if (this.ring.status === 'left') return;
      this.fd.heartbeat();
      this.ctx.timers.schedule(this.ctx.now() + every, beat);
    };
    this.ctx.timers.schedule(first, beat);
  }

  private scheduleFingerFix(): void {
    const every = this.ctx.config.finger_fix_interval_ms;
    const fix = () => {
      if (this.ring.status === 'left') return;
      this.router.fixOneFinger();
      this.ctx.timers.schedule(this.ctx.now() + every, fix);
    };
    this.ctx.timers.schedule(this.ctx.now() + this.ctx.env.random() * every, fix);
  }
}
