import { keyPosition } from '../core/hash.ts';
import { tx_gc_entries_per_message_max } from '../core/limits.ts';
import type { MsgOf } from '../core/messages.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import { replicaPositions } from '../replication/replicas.ts';
import type { ReplicaStore } from '../replication/store.ts';
import type { Router } from '../routing/router.ts';
import { Acceptor } from './acceptor.ts';
import { Recovery } from './proposer.ts';
import type { TransactionManager } from './tm.ts';

/**
 * Wires the roles of Paxos Commit on one peer: the TM (for our clients), the acceptor
 * slots we host (RTMs), recoveries we lead, and the participant (the replica store).
 * It also spreads every decision: to the acceptors, the TM, and every replica of every
 * key (tx_decide, which also reaches replicas that never voted).
 */
/** Decisions whose acknowledgements a TM waits for, at most (the oldest are left to the acceptors' retention). */
const gc_awaiting_max = 200_000;

interface AwaitingAcks {
  /** Replicas that must acknowledge: keys x r. */
  needed: number;
  /** keyIndex * r + slot of those that did. */
  seen: Set<number>;
  acc: PeerId[];
  until: number;
}

export class Transactions {
  readonly acceptor: Acceptor;
  private readonly recoveries = new Map<string, Recovery>();
  /**
   * Garbage collection of acceptor state (see acceptor.ts): acknowledgements of applied
   * decisions waiting to go to each TM, transactions each acceptor may forget, and the
   * decisions we (as TM) wait on acknowledgements for. Sent in batches every tx_gc_batch_ms.
   */
  private readonly appliedOut = new Map<PeerId, Array<[string, number, number]>>();
  private readonly forgetOut = new Map<PeerId, string[]>();
  private readonly awaiting = new Map<string, AwaitingAcks>();
  private gcFlushArmed = false;
  /** Transactions whose recovery we led while leaving (leadUndecided: once each). */
  private readonly ledForLeave = new Set<string>();

  constructor(
    private readonly ctx: PeerContext,
    private readonly router: Router,
    readonly tm: TransactionManager,
    private readonly store: ReplicaStore,
  ) {
    this.acceptor = new Acceptor(ctx);
    this.acceptor.onNewTx = (tx) => this.armRtmTimer(tx);
    tm.onDecided = (tx, commit, keys, acc) => {
      this.broadcast(tx, commit, keys, acc);
      this.awaitAcks(tx, keys.length, acc);
    };
    store.onApplied = (tmPeer, tx, keyIndex, slot) => {
      const list = this.appliedOut.get(tmPeer);
      if (list) list.push([tx, keyIndex, slot]);
      else this.appliedOut.set(tmPeer, [[tx, keyIndex, slot]]);
      this.armGcFlush();
    };
  }

  // ------------------------------------------------- acceptor garbage collection

  private awaitAcks(tx: string, keys: number, acc: PeerId[]): void {
    const r = this.ctx.config.replication_factor;
    this.awaiting.set(tx, { needed: keys * r, seen: new Set(), acc, until: this.ctx.now() + this.ctx.config.tx_gc_wait_ms });
    if (this.awaiting.size > gc_awaiting_max) this.awaiting.delete(this.awaiting.keys().next().value as string);
    this.armGcFlush();
  }

  /** Participants applied these decisions: once every replica of a transaction did, its acceptors may forget it. */
  onApplied(msg: MsgOf<'tx_applied'>): void {
    const r = this.ctx.config.replication_factor;
    for (const [tx, keyIndex, slot] of msg.done) {
      const a = this.awaiting.get(tx);
      if (!a || slot >= r) continue;
      a.seen.add(keyIndex * r + slot);
      if (a.seen.size < a.needed) continue;
      this.awaiting.delete(tx);
      for (const peer of new Set(a.acc)) {
        const list = this.forgetOut.get(peer);
        if (list) list.push(tx);
        else this.forgetOut.set(peer, [tx]);
      }
      this.armGcFlush();
    }
  }

  private armGcFlush(): void {
    if (this.gcFlushArmed) return;
    this.gcFlushArmed = true;
    this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.tx_gc_batch_ms, () => {
      this.gcFlushArmed = false;
      this.flushGc();
    });
  }

  private flushGc(): void {
    const max = tx_gc_entries_per_message_max;
    // Acknowledgements wait for the applied state to be durable; forgetting needs nothing of ours.
    for (const [peer, done] of this.appliedOut) {
      for (let i = 0; i < done.length; i += max) this.ctx.sendAfterPersist(peer, { t: 'tx_applied', done: done.slice(i, i + max) });
    }
    this.appliedOut.clear();
    for (const [peer, txs] of this.forgetOut) {
      for (let i = 0; i < txs.length; i += max) this.ctx.send(peer, { t: 'tx_forget', txs: txs.slice(i, i + max) });
    }
    this.forgetOut.clear();
    // Decisions not acknowledged by everyone in time stay with the acceptors' retention.
    const now = this.ctx.now();
    for (const [tx, a] of this.awaiting) {
      if (a.until > now) break; // insertion order is age order
      this.awaiting.delete(tx);
      this.ctx.counters.add('tx.gc_unacknowledged');
    }
    if (this.awaiting.size > 0) this.armGcFlush();
  }

  /** After a restart: undecided transactions we hold votes for get their RTM timers again. */
  rearm(): void {
    for (const [tx, st] of this.acceptor.txs) if (st.decision === null) this.armRtmTimer(tx);
  }

  private armRtmTimer(tx: string): void {
    const st = this.acceptor.txs.get(tx);
    if (!st) return;
    const mySlot = st.acc.indexOf(this.ctx.self);
    // Stagger by slot so that usually one RTM leads, and jitter so duels end.
    const delay = this.ctx.config.tx_recovery_timeout_ms * (1 + 0.5 * Math.max(0, mySlot) + 0.5 * this.ctx.env.random());
    this.ctx.timers.schedule(this.ctx.now() + delay, () => {
      const cur = this.acceptor.txs.get(tx);
      if (!cur || cur.decision !== null) {
        this.recoveries.delete(tx);
        return;
      }
      this.lead(tx);
      this.armRtmTimer(tx);
    });
  }

  /**
   * Leaving: lead a recovery (once each) for the undecided transactions we accept for that
   * we first saw at or before seenBy. Their TM had its own commit timeout to decide them and
   * did not (it crashed, or lost a slot); our RTM timer would wait tx_recovery_timeout_ms and
   * more, while the leave waits for exactly these transactions. Returns whether any
   * transaction we accept for is still undecided (the leave waits while one is).
   */
  leadUndecided(seenBy: number): boolean {
    let undecided = false;
    for (const [tx, st] of this.acceptor.txs) {
      if (st.decision !== null) continue;
      undecided = true;
      if (st.firstSeenAt > seenBy || this.ledForLeave.has(tx)) continue;
      this.ledForLeave.add(tx);
      this.ctx.counters.add('tx.led_for_leave');
      this.lead(tx);
    }
    return undecided;
  }

  /** Become the leader for tx (RTM takeover). */
  private lead(tx: string): void {
    const st = this.acceptor.txs.get(tx);
    if (!st || st.decision !== null) return;
    let rec = this.recoveries.get(tx);
    if (!rec) {
      const mySlot = st.acc.indexOf(this.ctx.self);
      rec = new Recovery(this.ctx, tx, st.tm, st.acc, st.keys, mySlot + 1);
      this.recoveries.set(tx, rec);
    }
    rec.start(rec.ballot);
  }

  private broadcast(tx: string, commit: boolean, keys: readonly string[], acc: readonly PeerId[]): void {
    this.ctx.counters.add(commit ? 'tx.committed' : 'tx.aborted');
    for (const a of new Set(acc)) this.ctx.send(a, { t: 'tx_decision', tx, commit });
    const r = this.ctx.config.replication_factor;
    for (const key of keys) {
      replicaPositions(keyPosition(key), r).forEach((pos, i) => this.router.routeFast(pos, { k: 'tx_decide', tx, key, i, commit }));
    }
  }

  // ---------------------------------------------------------------- messages

  onVote(from: PeerId, msg: MsgOf<'tx_vote'>): void {
    this.acceptor.onVote(from, msg);
  }

  onAccepted(msg: MsgOf<'tx_accepted'>): void {
    this.tm.onAccepted(msg);
    const rec = this.recoveries.get(msg.tx);
    if (!rec) return;
    rec.onAccepted(msg);
    const o = rec.learner.outcome();
    if (o === null) return;
    this.recoveries.delete(msg.tx);
    const st = this.acceptor.txs.get(msg.tx);
    if (!st || st.decision !== null) return;
    this.broadcast(msg.tx, o === 'commit', rec.keys, rec.acc);
    if (rec.tm !== this.ctx.self) this.ctx.send(rec.tm, { t: 'tx_decision', tx: msg.tx, commit: o === 'commit' });
  }

  onP1a(from: PeerId, msg: MsgOf<'tx_p1a'>): void {
    this.acceptor.onP1a(from, msg);
  }

  onP1b(msg: MsgOf<'tx_p1b'>): void {
    this.tm.onP1b(msg);
    this.recoveries.get(msg.tx)?.onP1b(msg);
  }

  onP2a(from: PeerId, msg: MsgOf<'tx_p2a'>): void {
    this.acceptor.onP2a(from, msg);
  }

  onDecision(msg: MsgOf<'tx_decision'>): void {
    this.acceptor.onDecision(msg);
    this.tm.onDecision(msg);
    this.recoveries.delete(msg.tx);
    this.store.onDecision(msg.tx, msg.commit);
  }

  onInquire(from: PeerId, msg: MsgOf<'tx_inquire'>): void {
    if (this.acceptor.onInquire(from, msg)) {
      // Undecided: the inquirer is stuck; make sure someone leads (our RTM timer does, soon).
      this.ctx.counters.add('acc.inquiry_undecided');
    }
  }
}
