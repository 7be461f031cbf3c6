import { decode } from '../core/codec.ts';
import type { Env } from '../core/env.ts';
import { isId, randomId } from '../core/id.ts';
import { isJson } from '../core/json.ts';
import { key_bytes_max, tx_keys_max, value_bytes_max } from '../core/limits.ts';
import { utf8Length } from '../core/json.ts';
import { keyPosition } from '../core/hash.ts';
import { QuorumReads } from '../replication/quorum-read.ts';
import { answerProbe, ReplicaProbes, reportJson } from '../replication/replica-probe.ts';
import { replicaPositions } from '../replication/replicas.ts';
import { ReplicaStore } from '../replication/store.ts';
import { TransactionManager, type CommitResult } from '../tx/tm.ts';
import { Transactions } from '../tx/transactions.ts';
import type { Msg, RoutedBody } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import { FailureDetector } from '../ring/failure-detector.ts';
import { Ring } from '../ring/ring.ts';
import { PlainKv } from '../routing/plain-kv.ts';
import { Router, type RouteMsg } from '../routing/router.ts';
import { defaultPeerConfig, type PeerConfig } from './config.ts';
import { PeerContext } from './context.ts';
import { diagnostics } from './diagnostics.ts';
import type { ClientReply, ClientRequest, Output } from './io.ts';

const META_ID = 'meta/id';

export interface PeerOptions {
  env: Env;
  config?: Partial<PeerConfig>;
  /** Records loaded from storage at start; a stored identity is reused. */
  stored?: ReadonlyArray<readonly [string, Json]>;
  /** Force an identity (tests); otherwise the stored one or a fresh random one. */
  id?: PeerId;
  /**
   * This peer founds a brand-new ring: with no contacts it may take its empty store as the
   * whole truth. Without this flag, a peer that finds nobody (say, the first tab back after
   * every tab closed, or one whose storage was lost) creates a ring whose every range is
   * empty (unavailable) until the replica holders return.
   */
  newRing?: boolean;
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
  readonly store: ReplicaStore;
  readonly reads: QuorumReads;
  readonly tm: TransactionManager;
  readonly tx: Transactions;
  /** The replicas diagnostic (consoles). */
  readonly probes: ReplicaProbes;
  private started = false;
  private readonly newRing: boolean;
  /** Client watches: watchId -> key and the highest version told. */
  private readonly watches = new Map<number, { key: string; ver: number; baseline: boolean }>();

  constructor(opts: PeerOptions) {
    const config = { ...defaultPeerConfig, ...opts.config };
    const storedId = opts.stored?.find(([k]) => k === META_ID)?.[1];
    const id = opts.id ?? (isId(storedId) ? storedId : randomId(() => opts.env.random()));
    this.ctx = new PeerContext(id, opts.env, config);
    if (storedId !== id) this.ctx.persist(META_ID, id);
    this.fd = new FailureDetector(this.ctx);
    this.ring = new Ring(this.ctx, this.fd, {
      gaveRange: (from, to) => {
        this.kv.handOver(from, to);
        if (from !== null) this.store.handOver(from, to, to);
      },
      predChanged: (oldPred, newPred) => this.store.predChanged(oldPred, newPred),
      joined: () => {
        if (this.ring.pred === this.id && this.ring.succ === this.id && this.newRing) this.store.createdRing();
        this.store.handOffLeftovers();
        this.router.releaseHeld();
      },
      leaving: (succ) => {
        this.kv.handOver(null, succ, true);
        this.store.handOver(this.ring.pred ?? this.id, this.id, succ);
      },
    });
    // A peer we had suspected answers again: a partition healed, or it was only slow. Its
    // pong (if it is a member) makes us consider it; the hint makes it consider us. That is
    // how two rings zip back into one.
    this.fd.onAlive((x) => {
      if (this.ring.status === 'in') this.ctx.send(x, { t: 'hint' });
    });
    this.router = new Router(this.ctx, this.ring, this.fd);
    this.router.onDeliver((body, msg) => this.deliver(body, msg));
    this.kv = new PlainKv(this.ctx, this.router);
    this.store = new ReplicaStore(this.ctx, this.ring, this.router);
    this.reads = new QuorumReads(this.ctx, this.router);
    this.tm = new TransactionManager(this.ctx, this.router, this.reads);
    this.tx = new Transactions(this.ctx, this.router, this.tm, this.store);
    this.probes = new ReplicaProbes(this.ctx, this.router);
    this.newRing = opts.newRing ?? false;
    if (opts.stored) {
      this.kv.restore(opts.stored);
      // Any stored identity means this peer was part of a ring before: its data (possibly
      // none) is only one replica's view, never the whole truth. Only a brand-new peer that
      // creates a brand-new ring may take an empty store as authoritative.
      if (opts.stored.some(([k]) => k === META_ID)) this.store.restore(opts.stored);
      this.tx.acceptor.restore(opts.stored);
    }
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
    this.every(this.ctx.config.finger_fix_interval_ms, () => this.router.fixOneFinger());
    this.every(this.ctx.config.repair_interval_ms, () => this.store.repairTick());
    this.every(this.ctx.config.anti_entropy_interval_ms, () => this.store.antiEntropyTick());
    this.every(this.ctx.config.tp_inquiry_ms, () => this.store.inquireInDoubt());
    this.every(60_000, () => this.tx.acceptor.gc());
    this.every(this.ctx.config.watch_renew_ms, () => this.renewWatches());
    this.tx.rearm();
  }

  /**
   * Graceful leave. Acceptor slots cannot move (transactions name their acceptors by peer),
   * so first let the undecided transactions we accept for finish, up to leave_wait_ms_max;
   * then hand our range over and stop.
   */
  leave(): void {
    if (this.leaveRequested || this.ring.status !== 'in') {
      if (this.ring.status !== 'in') this.finishLeave();
      return;
    }
    this.leaveRequested = true;
    // From now on nobody should make us an acceptor of a new transaction (tm.ts, spread).
    this.tx.tm.retireSelf();
    for (const p of this.router.heartbeatPeers()) this.tellRetiring(p);
    const deadline = this.ctx.now() + Peer.leave_wait_ms_max;
    const check = () => {
      const undecided = this.tx.leadUndecided(this.ctx.now() - this.ctx.config.tx_commit_timeout_ms);
      if (!undecided || this.ctx.now() >= deadline) this.finishLeave();
      else this.ctx.timers.schedule(this.ctx.now() + 100, check);
    };
    check();
  }

  /** Longest a graceful leave waits for transactions that need our acceptor slots. */
  static readonly leave_wait_ms_max = 10_000;
  private leaveRequested = false;
  /** Peers told that we are leaving (each once). */
  private readonly retiringTold = new Set<PeerId>();
  /** Peers told at most: a leave lasts at most leave_wait_ms_max. */
  static readonly retiring_told_max = 4_096;

  private tellRetiring(peer: PeerId): void {
    if (this.retiringTold.has(peer) || this.retiringTold.size >= Peer.retiring_told_max) return;
    this.retiringTold.add(peer);
    this.ctx.send(peer, { t: 'retiring' });
  }

  private finishLeave(): void {
    this.ring.leave();
    this.ctx.timers.clear();
    // Only the handover of our data goes on, until acknowledged.
    this.store.resumeHandovers();
  }

  /** Left, and our data is safely with our successor (or it never answered): the runtime may stop us. */
  get finished(): boolean {
    return this.ring.status === 'left' && this.store.handoversPending() === 0;
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
      // A peer that left still hears the acknowledgements of its handover.
      if (msg.t === 'rep_items_ack' && this.ring.status === 'left') this.store.onItemsAck(msg);
      else this.ctx.counters.add('in.dropped_not_running');
      return;
    }
    this.ctx.countIn(msg.t);
    this.fd.heard(from);
    // Anyone who talks to us while we leave may name us an acceptor (from its routing cache): tell it too.
    if (this.leaveRequested) this.tellRetiring(from);
    switch (msg.t) {
      case 'ping':
        // The successor list itself, not a copy: Ring replaces it, never changes it in place.
        this.ctx.send(from, { t: 'pong', seq: msg.seq, member: this.ring.status === 'in', pred: this.ring.pred, succs: this.ring.succs });
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
      case 'hint':
        return this.ring.consider(from);
      case 'leave':
        return this.ring.onLeave(from, msg.pred);
      case 'leave_pred':
        return this.ring.onLeavePred(from, msg.succs);
      case 'retiring':
        return this.tx.tm.onRetiring(from);
      case 'route':
        return this.router.handle(msg);
      case 'found':
        return this.router.onFound(msg);
      case 'kv_reply':
        return this.kv.onReply(msg);
      case 'kv_items':
        return this.kv.onItems(msg);
      case 'rep_read_reply':
        return this.reads.onReply(from, msg);
      case 'rep_items':
        return this.store.onItems(from, msg);
      case 'rep_items_ack':
        return this.store.onItemsAck(msg);
      case 'rep_sync_reply':
        return this.store.onSyncReply(from, msg);
      case 'watch_evt':
        return this.onWatchEvent(msg.key, msg.ver, msg.ex, msg.val);
      case 'rep_probe_reply':
        return this.probes.onReply(from, msg);
      case 'tx_vote':
        return this.tx.onVote(from, msg);
      case 'tx_accepted':
        return this.tx.onAccepted(msg);
      case 'tx_p1a':
        return this.tx.onP1a(from, msg);
      case 'tx_p1b':
        return this.tx.onP1b(msg);
      case 'tx_p2a':
        return this.tx.onP2a(from, msg);
      case 'tx_decision':
        return this.tx.onDecision(msg);
      case 'tx_inquire':
        return this.tx.onInquire(from, msg);
      case 'tx_applied':
        return this.tx.onApplied(msg);
      case 'tx_forget':
        return this.tx.acceptor.onForget(msg.txs);
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
      case 'rep_read':
        return this.store.onRead(body, msg);
      case 'tx_prepare':
        return this.store.onPrepare(body, msg);
      case 'tx_decide':
        return this.store.onDecide(body);
      case 'rep_repair':
        return this.store.onRepair(body);
      case 'rep_sync':
        return this.store.onSync(body, msg);
      case 'watch_reg':
        return this.store.onWatchReg(body, msg);
      case 'rep_probe':
        return answerProbe(this.ctx, this.ring, this.store, body, msg);
      case 'signal':
        // Only the peer whose id is the target is the addressee; anyone else responsible for
        // that position means the addressee is gone: drop it.
        if (msg.target === this.id) this.ctx.signal(msg.origin, body.data);
        else this.ctx.counters.add('signal.no_such_peer');
        return;
    }
  }

  /** A client operation. Limits are checked here, before anything is sent. */
  request(req: ClientRequest): void {
    const op = req.op;
    const fail = (code: Extract<ClientReply, { ok: false }>['code'], message: string, keys?: string[]) =>
      this.ctx.reply({ reqId: req.reqId, ok: false, code, message, ...(keys ? { keys } : {}) });
    if (op.op === 'status') {
      this.ctx.reply({ reqId: req.reqId, ok: true, value: this.status() });
      return;
    }
    if (this.ring.status !== 'in') return fail('not_joined', `peer is ${this.ring.status}`);
    const bad = this.checkLimits(req);
    if (bad) return fail(bad.code, bad.message);
    switch (op.op) {
      case 'lookup':
        return this.router.lookup(op.target, (peer, hops) => {
          if (peer === null) fail('timeout', 'lookup timed out');
          else this.ctx.reply({ reqId: req.reqId, ok: true, value: peer, hops });
        });
      case 'kv_put':
      case 'kv_get':
      case 'kv_del':
        return this.kv.request(req.reqId, op);
      case 'read':
        return this.reads.read(op.key, (r) => {
          if (r.ok) this.ctx.reply({ reqId: req.reqId, ok: true, value: r.ex ? r.val : null, found: r.ex, ver: r.ver });
          else fail('unavailable', r.message);
        });
      case 'tx_read':
        return this.tm.txRead(op.tx, op.key, (r) => {
          if (r.ok) this.ctx.reply({ reqId: req.reqId, ok: true, value: r.ex ? r.val : null, found: r.ex, ver: r.ver });
          else fail('unavailable', r.message);
        });
      case 'tx_commit':
        return this.tm.commit(
          op.tx,
          op.writes,
          (r: CommitResult) => {
            if (r.outcome === 'commit') this.ctx.reply({ reqId: req.reqId, ok: true, value: null });
            else if (r.outcome === 'abort') fail('aborted', `transaction aborted (${r.reason})${r.keys.length ? ': conflict on ' + r.keys.join(', ') : ''}`, r.keys);
            else if (r.outcome === 'unavailable') fail('unavailable', r.reason);
            else fail('unknown', `commit outcome unknown: ${r.reason}; retry with the same transaction id to learn it`);
          },
          op.retryKeys ? [...op.retryKeys] : undefined,
        );
      case 'tx_abandon':
        this.tm.txAbandon(op.tx);
        return this.ctx.reply({ reqId: req.reqId, ok: true, value: null });
      case 'watch': {
        const w = { key: op.key, ver: -1, baseline: false };
        this.watches.set(req.reqId, w);
        this.registerWatch(op.key);
        // Learn the current version, so that renewals catch up only what changed after the watch began.
        this.reads.read(op.key, (r) => {
          if (r.ok) w.ver = Math.max(w.ver, r.ver);
          w.baseline = true;
        });
        return this.ctx.reply({ reqId: req.reqId, ok: true, value: req.reqId });
      }
      case 'unwatch':
        this.watches.delete(op.watchId);
        return this.ctx.reply({ reqId: req.reqId, ok: true, value: null });
      case 'replicas':
        return this.probes.query(op.key, (r) => this.ctx.reply({ reqId: req.reqId, ok: true, value: reportJson(r) }));
      case 'signal':
        if (!isId(op.to) || !isJson(op.data) || JSON.stringify(op.data).length > 64 * 1024) return fail('invalid', 'signal needs a peer id and at most 64 KiB of JSON');
        this.router.route(op.to, { k: 'signal', data: op.data });
        return this.ctx.reply({ reqId: req.reqId, ok: true, value: null });
    }
  }

  private checkLimits(req: ClientRequest): { code: 'limit' | 'invalid'; message: string } | null {
    const op = req.op;
    const keys: string[] = [];
    if ('key' in op) keys.push(op.key);
    if (op.op === 'tx_commit') {
      for (const [k, v] of op.writes) {
        keys.push(k);
        if (!isJson(v)) return { code: 'invalid', message: `value of "${k.slice(0, 40)}" is not JSON` };
        if (JSON.stringify(v).length > value_bytes_max) return { code: 'limit', message: `value of "${k.slice(0, 40)}" is larger than ${value_bytes_max} bytes` };
      }
      const all = new Set([...keys, ...(this.tm.readsOf(op.tx)?.keys() ?? []), ...(op.retryKeys ?? [])]);
      if (all.size > tx_keys_max) return { code: 'limit', message: `a transaction may touch at most ${tx_keys_max} keys (this one: ${all.size})` };
    }
    if ('tx' in op && (typeof op.tx !== 'string' || op.tx.length === 0 || op.tx.length > 64)) return { code: 'invalid', message: 'transaction id must be 1 to 64 characters' };
    for (const k of keys) {
      if (typeof k !== 'string') return { code: 'invalid', message: 'keys are strings' };
      if (utf8Length(k) > key_bytes_max) return { code: 'limit', message: `key longer than ${key_bytes_max} bytes` };
    }
    if (op.op === 'kv_put') {
      if (!isJson(op.value)) return { code: 'invalid', message: 'value is not JSON' };
      if (JSON.stringify(op.value).length > value_bytes_max) return { code: 'limit', message: `value larger than ${value_bytes_max} bytes` };
    }
    return null;
  }

  private registerWatch(key: string): void {
    const r = this.ctx.config.replication_factor;
    // The newest version every watch of this key has been told (no catch-up before a watch knows its baseline).
    let ver = Number.MAX_SAFE_INTEGER;
    for (const w of this.watches.values()) if (w.key === key) ver = Math.min(ver, w.baseline ? Math.max(0, w.ver) : Number.MAX_SAFE_INTEGER);
    replicaPositions(keyPosition(key), r).forEach((pos, i) => this.router.routeFast(pos, { k: 'watch_reg', key, i, lease: this.ctx.config.watch_lease_ms, ver }));
  }

  private renewWatches(): void {
    for (const key of new Set([...this.watches.values()].map((w) => w.key))) this.registerWatch(key);
  }

  private onWatchEvent(key: string, ver: number, ex: boolean, val: Json): void {
    for (const [watchId, w] of this.watches) {
      if (w.key !== key || ver <= w.ver) continue;
      w.ver = ver;
      this.ctx.event({ watchId, key, ver, found: ex, value: ex ? val : null });
    }
  }

  /** What a console shows of this peer. */
  status(): Json {
    return {
      id: this.id,
      ring: this.ring.status,
      pred: this.ring.pred,
      succs: this.ring.succs.slice(),
      fingers: this.router.fingers.peers(),
      suspected: this.fd.suspected(),
      items: this.store.entries.size,
      emptyRanges: this.store.empty.intervals(),
      staleRanges: this.store.stale.intervals(),
      openTransactions: this.tm.openCount(),
      acceptorTransactions: this.tx.acceptor.txs.size,
      counters: this.ctx.counters.toJSON(),
      ...diagnostics(this),
    } as unknown as Json;
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

  /** A periodic task with a random phase (so that many peers do not act in lockstep). */
  private every(intervalMs: number, fn: () => void): void {
    const run = () => {
      if (this.ring.status === 'left') return;
      fn();
      this.ctx.timers.schedule(this.ctx.now() + intervalMs, run);
    };
    this.ctx.timers.schedule(this.ctx.now() + this.ctx.env.random() * intervalMs, run);
  }
}
