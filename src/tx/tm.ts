import { keyPosition } from '../core/hash.ts';
import type { MsgOf } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { QuorumReads, ReadResult } from '../replication/quorum-read.ts';
import { replicaPositions } from '../replication/replicas.ts';
import type { Router } from '../routing/router.ts';
import { Learner } from './learner.ts';
import { Recovery } from './proposer.ts';

export type CommitResult =
  | { outcome: 'commit' }
  | { outcome: 'abort'; keys: string[]; reason: string }
  /** Nothing was prepared: a read needed for the commit found no quorum. */
  | { outcome: 'unavailable'; reason: string }
  | { outcome: 'unknown'; reason: string };

interface ReadRecord {
  ver: number;
  val: Json;
  ex: boolean;
}

interface TmTx {
  id: string;
  reads: Map<string, ReadRecord>;
  state: 'open' | 'committing' | 'decided';
  keys: string[];
  acc: PeerId[];
  learner: Learner | null;
  recovery: Recovery | null;
  waiters: Array<(r: CommitResult) => void>;
  timers: number[];
  /** The client was told "unknown" (it may retry by id). */
  toldUnknown: boolean;
  /** Wait-die priority: when the transaction started (older transactions win lock conflicts). */
  prio: number;
}

/** Outcomes remembered for idempotent retries by transaction id. */
const outcomes_remembered_max = 10_000;
/** How long a peer that said it is leaving is kept out of new acceptor sets (its leave waits at most 10 s). */
const retiring_memory_ms = 30_000;
/** Retiring peers remembered at most (the oldest are forgotten first). */
const retiring_peers_max = 1_024;

/**
 * The transaction manager: runs at the client's own peer. Reads go through quorum reads
 * and are recorded with their versions; writes arrive with the commit. Commit is Paxos
 * Commit: prepare to every replica of every key (participants), participants vote to the
 * acceptors (on the replica set of the transaction id), acceptors tell us, we decide and
 * tell everybody: 4 message delays after the reads.
 */
export class TransactionManager {
  private readonly txs = new Map<string, TmTx>();
  private readonly outcomes = new Map<string, CommitResult>();
  /** Peers that told us they are leaving gracefully, and until when we believe it. */
  private readonly retiring = new Map<PeerId, number>();
  /** We are leaving ourselves: our own slots would go with us. */
  private selfRetiring = false;
  /** Broadcast a learned outcome (set by the coordinator). */
  onDecided: (tx: string, commit: boolean, keys: string[], acc: PeerId[]) => void = () => {};

  constructor(
    private readonly ctx: PeerContext,
    private readonly router: Router,
    private readonly reads: QuorumReads,
  ) {}

  private tx(id: string): TmTx {
    let t = this.txs.get(id);
    if (!t) {
      t = { id, reads: new Map(), state: 'open', keys: [], acc: [], learner: null, recovery: null, waiters: [], timers: [], toldUnknown: false, prio: this.ctx.now() };
      this.txs.set(id, t);
    }
    return t;
  }

  /** A read inside transaction id (repeatable: a key read twice gives the first answer). */
  txRead(id: string, key: string, cb: (r: ReadResult) => void): void {
    const t = this.tx(id);
    if (t.state !== 'open') {
      cb({ ok: false, code: 'unavailable', message: `transaction ${id} is already committing` });
      return;
    }
    const seen = t.reads.get(key);
    if (seen) {
      cb({ ok: true, ...seen });
      return;
    }
    this.reads.read(key, (r) => {
      if (r.ok && !t.reads.has(key)) t.reads.set(key, { ver: r.ver, val: r.val, ex: r.ex });
      cb(r);
    });
  }

  /** Forget an open transaction the client gave up. */
  txAbandon(id: string): void {
    const t = this.txs.get(id);
    if (t && t.state === 'open') this.txs.delete(id);
  }

  /**
   * Commit: writes are [key, value, exists]. `retryKeys` is set when a client retries a
   * commit whose outcome it was not told: we then only find out the outcome.
   */
  commit(id: string, writes: ReadonlyArray<readonly [string, Json, boolean]>, cb: (r: CommitResult) => void, retryKeys?: string[]): void {
    const known = this.outcomes.get(id);
    if (known) {
      cb(known);
      return;
    }
    const existing = this.txs.get(id);
    if (existing && existing.state !== 'open') {
      existing.waiters.push(cb);
      return;
    }
    const r = this.ctx.config.replication_factor;
    if (retryKeys && !existing) {
      // We know nothing of it (we restarted): learn the outcome from the acceptors.
      const t = this.tx(id);
      t.state = 'committing';
      t.keys = [...new Set(retryKeys)].sort();
      t.waiters.push(cb);
      this.resolveAcceptors(t, () => this.recover(t));
      this.armOutcomeTimer(t);
      return;
    }
    const t = this.tx(id);
    t.waiters.push(cb);
    const writeMap = new Map<string, { val: Json; ex: boolean }>();
    for (const [k, v, ex] of writes) writeMap.set(k, { val: v, ex });
    t.keys = [...new Set([...t.reads.keys(), ...writeMap.keys()])].sort();
    t.state = 'committing';
    if (writeMap.size === 0 && t.reads.size <= 1) {
      // A single read is linearizable by itself: nothing to validate.
      this.finish(t, { outcome: 'commit' });
      return;
    }
    // Blind writes still need the current version: read it (in parallel with finding the acceptors).
    let waiting = 1;
    let failed: ReadResult | null = null;
    const ready = () => {
      if (--waiting > 0) return;
      const f = failed as ReadResult | null;
      if (f && !f.ok) {
        this.finish(t, { outcome: 'unavailable', reason: f.message });
        return;
      }
      this.prepare(t, writeMap);
    };
    for (const k of writeMap.keys()) {
      if (t.reads.has(k)) continue;
      waiting++;
      this.reads.read(k, (res) => {
        if (res.ok) t.reads.set(k, { ver: res.ver, val: res.val, ex: res.ex });
        else failed = res;
        ready();
      });
    }
    waiting++;
    this.resolveAcceptors(t, ready);
    ready();
  }

  /**
   * The acceptor slots: the peers responsible for the replica positions of the transaction
   * id, as far as we can tell they are reachable now (a cached peer only if we heard from it
   * lately, else a lookup, which the peer answers itself).
   */
  private resolveAcceptors(t: TmTx, done: () => void): void {
    const r = this.ctx.config.replication_factor;
    const positions = replicaPositions(keyPosition(t.id), r);
    const acc: PeerId[] = new Array(r);
    let missing = 0;
    positions.forEach((pos, s) => {
      const p = this.router.cachedLivePeer(pos);
      if (p !== null) acc[s] = p;
      else {
        missing++;
        this.router.lookup(pos, (peer) => {
          // Without an answer the slot goes to ourselves: acceptors need not be responsible
          // for anything, only fixed for the transaction's life.
          acc[s] = peer ?? this.ctx.self;
          if (--missing === 0) {
            t.acc = this.spread(acc);
            done();
          }
        });
      }
    });
    if (missing === 0) {
      t.acc = this.spread(acc);
      done();
    }
  }

  /**
   * Acceptor slots on distinct peers where we know enough peers: in a small or uneven ring
   * two replica positions of the transaction id can fall on one peer, and losing that peer
   * would then take two slots with it. Any fixed set of peers is a correct acceptor set;
   * distinct ones tolerate more failures. Only peers we heartbeat with are candidates: a
   * peer known from the routing cache alone may be across a partition we have not noticed
   * yet, and a transaction whose acceptors cannot be reached stays undecided (its locks
   * held) until the heal (found by e2e/partition.spec.ts on the 2-tab side of a 4/2 cut).
   */
  private spread(acc: PeerId[]): PeerId[] {
    const known = [this.ctx.self, ...this.router.heartbeatPeers()].filter((p) => !this.isRetiring(p));
    const used = new Set<PeerId>();
    return acc.map((a) => {
      if (!used.has(a) && !this.isRetiring(a)) {
        used.add(a);
        return a;
      }
      const other = known.find((p) => !used.has(p));
      if (other === undefined) return a;
      used.add(other);
      return other;
    });
  }

  /**
   * A peer is leaving gracefully: keep it out of new acceptor sets. Its leave waits for the
   * transactions it accepts for; a transaction that named it while it was leaving would
   * keep that wait going, or lose a slot when the wait ends (found by
   * test/leave-acceptors.test.ts: with two slots gone, nothing is decided).
   */
  onRetiring(peer: PeerId): void {
    const now = this.ctx.now();
    this.retiring.delete(peer);
    this.retiring.set(peer, now + retiring_memory_ms);
    for (const [p, until] of this.retiring) {
      if (until > now && this.retiring.size <= retiring_peers_max) break; // insertion order is age order
      this.retiring.delete(p);
    }
  }

  /** We are leaving: new transactions of our clients take their acceptors elsewhere. */
  retireSelf(): void {
    this.selfRetiring = true;
  }

  isRetiring(peer: PeerId): boolean {
    if (peer === this.ctx.self) return this.selfRetiring;
    const until = this.retiring.get(peer);
    return until !== undefined && until > this.ctx.now();
  }

  private prepare(t: TmTx, writes: Map<string, { val: Json; ex: boolean }>): void {
    const r = this.ctx.config.replication_factor;
    t.learner = new Learner(t.keys, r, this.ctx.config.mutants.commit_minority);
    for (const key of t.keys) {
      const rv = t.reads.get(key)!.ver;
      const w = writes.get(key);
      const positions = replicaPositions(keyPosition(key), r);
      positions.forEach((pos, i) => {
        this.router.routeFast(pos, {
          k: 'tx_prepare',
          tx: t.id,
          key,
          i,
          op: w ? 'w' : 'r',
          rv,
          val: w ? w.val : null,
          ex: w ? w.ex : false,
          acc: t.acc,
          keys: t.keys,
          prio: t.prio,
        });
      });
    }
    t.timers.push(this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.tx_commit_timeout_ms, () => this.recover(t)));
    this.armOutcomeTimer(t);
  }

  private armOutcomeTimer(t: TmTx): void {
    t.timers.push(
      this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.tx_outcome_timeout_ms, () => {
        if (t.state === 'decided') return;
        // Honest outcome: we do not know. Never "aborted": it may yet commit.
        t.toldUnknown = true;
        const waiters = t.waiters;
        t.waiters = [];
        for (const w of waiters) w({ outcome: 'unknown', reason: 'no decision reached the transaction manager in time' });
        // Keep trying to learn it in the background for a retry by id, for a while.
        t.timers.push(this.ctx.timers.schedule(this.ctx.now() + 6 * this.ctx.config.tx_outcome_timeout_ms, () => {
          if (t.state !== 'decided') this.txs.delete(t.id);
        }));
      }),
    );
  }

  /** No decision in time: lead a recovery ballot ourselves (proposer 0). */
  private recover(t: TmTx): void {
    if (t.state === 'decided' || t.acc.length === 0) return;
    if (!t.recovery) t.recovery = new Recovery(this.ctx, t.id, this.ctx.self, t.acc, t.keys, 0);
    t.recovery.start(t.recovery.ballot);
    t.timers.push(this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.tx_commit_timeout_ms * (1 + this.ctx.env.random()), () => this.recover(t)));
  }

  onAccepted(msg: MsgOf<'tx_accepted'>): void {
    const t = this.txs.get(msg.tx);
    if (!t || t.state !== 'committing') return;
    t.learner?.onAccepted(msg.ballot, msg.slots, msg.values);
    t.recovery?.onAccepted(msg);
    const out = t.learner?.outcome() ?? null;
    const rec = t.recovery?.learner.outcome() ?? null;
    const o = out ?? rec;
    if (o === null) return;
    const aborted = o === 'abort' ? (out === 'abort' ? t.learner!.abortedKeys() : t.recovery!.learner.abortedKeys()) : [];
    this.decide(t, o === 'commit', aborted);
  }

  onP1b(msg: MsgOf<'tx_p1b'>): void {
    const t = this.txs.get(msg.tx);
    if (!t?.recovery) return;
    if (!msg.ok) return;
    t.recovery.onP1b(msg);
  }

  /** A decision reached us from elsewhere (a recovery leader or an acceptor). */
  onDecision(msg: MsgOf<'tx_decision'>): void {
    const t = this.txs.get(msg.tx);
    if (!t || t.state === 'decided') return;
    if (t.state !== 'committing') return;
    this.finish(t, msg.commit ? { outcome: 'commit' } : { outcome: 'abort', keys: [], reason: 'aborted by recovery' });
  }

  private decide(t: TmTx, commit: boolean, abortedKeys: string[]): void {
    this.finish(t, commit ? { outcome: 'commit' } : { outcome: 'abort', keys: abortedKeys, reason: 'conflict' });
    this.onDecided(t.id, commit, t.keys, t.acc);
  }

  private finish(t: TmTx, res: CommitResult): void {
    t.state = 'decided';
    for (const h of t.timers) this.ctx.timers.cancel(h);
    t.timers = [];
    const waiters = t.waiters;
    t.waiters = [];
    this.txs.delete(t.id);
    this.outcomes.set(t.id, res);
    if (this.outcomes.size > outcomes_remembered_max) this.outcomes.delete(this.outcomes.keys().next().value as string);
    for (const w of waiters) w(res);
  }

  /** Reads recorded by an open transaction (tests, debugging). */
  readsOf(id: string): ReadonlyMap<string, ReadRecord> | undefined {
    return this.txs.get(id)?.reads;
  }

  openCount(): number {
    return this.txs.size;
  }
}
