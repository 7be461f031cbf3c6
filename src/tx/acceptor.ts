import type { MsgOf } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import { instanceKey, type Vote } from './paxos.ts';

const PREFIX = 'acc/';

/** One acceptor slot's Paxos state for one transaction. */
interface SlotState {
  promised: number;
  /** instance -> [ballot, value] */
  accepted: Record<string, [number, Vote]>;
}

/** What an acceptor peer keeps (and persists) per transaction. */
export interface AcceptorTx {
  tm: PeerId;
  acc: PeerId[];
  keys: string[];
  slots: Record<number, SlotState>;
  /** null while undecided. */
  decision: boolean | null;
  firstSeenAt: number;
}

/** Forgotten transactions whose decision is still remembered in memory, at most. */
const recent_decisions_max = 100_000;

/**
 * The acceptor role (and RTM: replicated transaction manager) of Paxos Commit. A peer
 * hosts the acceptor slots i with acc[i] === self. Every answer is sent only after the
 * state it reports is durable.
 *
 * Forgetting: once every replica of every key acknowledged applying the decision, the TM
 * says tx_forget and the state goes (its record is deleted: with the log-structured
 * storage a record that lives a few hundred ms never reaches a checkpoint). The decision is
 * still remembered in memory for late duplicates, up to recent_decisions_max. Without every
 * acknowledgement (a replica down, a message lost) decisions stay on disk for
 * tx_decision_retention_ms so that participants that were away can still learn them. Why:
 * keeping every decision for an hour cost one record per transaction per acceptor, on disk
 * and in memory (millions at a thousand transactions per second).
 */
export class Acceptor {
  readonly txs = new Map<string, AcceptorTx>();
  /** Forgotten (applied everywhere) transactions and their decision, oldest first. */
  private readonly recent = new Map<string, boolean>();
  /** Called when a transaction's state exists and is undecided: the RTM timer. */
  onNewTx: (tx: string) => void = () => {};

  constructor(private readonly ctx: PeerContext) {}

  restore(records: ReadonlyArray<readonly [string, Json]>): void {
    for (const [k, v] of records) if (k.startsWith(PREFIX)) this.txs.set(k.slice(PREFIX.length), v as unknown as AcceptorTx);
  }

  private save(tx: string, st: AcceptorTx): void {
    this.ctx.persist(PREFIX + tx, st as unknown as Json);
  }

  private mySlots(acc: readonly PeerId[], wanted: readonly number[]): number[] {
    return wanted.filter((s) => acc[s] === this.ctx.self);
  }

  private ensure(tx: string, tm: PeerId, acc: PeerId[], keys: string[]): AcceptorTx {
    let st = this.txs.get(tx);
    if (!st) {
      st = { tm, acc, keys, slots: {}, decision: null, firstSeenAt: this.ctx.now() };
      this.txs.set(tx, st);
      this.onNewTx(tx);
    }
    return st;
  }

  private slot(st: AcceptorTx, s: number): SlotState {
    let ss = st.slots[s];
    if (!ss) {
      ss = { promised: 0, accepted: {} };
      st.slots[s] = ss;
    }
    return ss;
  }

  /** If tx was decided and forgotten, answer from memory (true). */
  private answeredFromMemory(from: PeerId, tx: string): boolean {
    const d = this.recent.get(tx);
    if (d === undefined) return false;
    this.ctx.send(from, { t: 'tx_decision', tx, commit: d });
    return true;
  }

  /** Every replica applied these: drop their state (see the class comment). */
  onForget(txs: readonly string[]): void {
    for (const tx of txs) {
      const st = this.txs.get(tx);
      if (!st || st.decision === null) continue; // undecided: never dropped on anyone's word
      this.txs.delete(tx);
      this.ctx.unpersist(PREFIX + tx);
      this.recent.set(tx, st.decision);
      if (this.recent.size > recent_decisions_max) this.recent.delete(this.recent.keys().next().value as string);
      this.ctx.counters.add('acc.forgotten');
    }
  }

  /** A participant's ballot-0 vote. The first ballot-0 value of an instance sticks. */
  onVote(from: PeerId, msg: MsgOf<'tx_vote'>): void {
    if (this.answeredFromMemory(from, msg.tx)) return;
    const st = this.ensure(msg.tx, msg.tm, msg.acc, msg.keys);
    if (st.decision !== null) {
      this.ctx.send(from, { t: 'tx_decision', tx: msg.tx, commit: st.decision });
      return;
    }
    const inst = instanceKey(msg.key, msg.i);
    const accepted: number[] = [];
    let changed = false;
    for (const s of this.mySlots(st.acc, msg.slots)) {
      const ss = this.slot(st, s);
      const prev = ss.accepted[inst];
      if (prev) {
        // Already accepted something for this instance: report it again (idempotent).
        if (prev[0] === 0) accepted.push(s);
        continue;
      }
      if (ss.promised > 0) continue;
      ss.accepted[inst] = [0, msg.vote];
      accepted.push(s);
      changed = true;
    }
    if (changed) this.save(msg.tx, st);
    if (accepted.length > 0) {
      // Slots may disagree only if an earlier, different vote stuck on some of them; report per value.
      const byValue = new Map<Vote, number[]>();
      for (const s of accepted) {
        const v = st.slots[s]!.accepted[inst]![1];
        byValue.set(v, [...(byValue.get(v) ?? []), s]);
      }
      for (const [v, slots] of byValue) {
        this.ctx.sendAfterPersist(st.tm, { t: 'tx_accepted', tx: msg.tx, ballot: 0, slots, values: [[msg.key, msg.i, v]] });
      }
    }
  }

  onP1a(from: PeerId, msg: MsgOf<'tx_p1a'>): void {
    if (this.answeredFromMemory(from, msg.tx)) return;
    const st = this.ensure(msg.tx, msg.tm, msg.acc, msg.keys);
    if (st.decision !== null) {
      this.ctx.send(from, { t: 'tx_decision', tx: msg.tx, commit: st.decision });
      return;
    }
    const ok: number[] = [];
    const nack: number[] = [];
    const acceptedOut: Array<[string, number, number, Vote]> = [];
    for (const s of this.mySlots(st.acc, msg.slots)) {
      const ss = this.slot(st, s);
      if (msg.ballot > ss.promised) {
        ss.promised = msg.ballot;
        ok.push(s);
      } else nack.push(s);
    }
    if (ok.length > 0) this.save(msg.tx, st);
    // Report the accepted values of one slot per message, so the leader can count slots per value.
    for (const s of ok) {
      const ss = st.slots[s]!;
      const values: Array<[string, number, number, Vote]> = [];
      for (const [inst, [b, v]] of Object.entries(ss.accepted)) {
        const slash = inst.indexOf('/');
        values.push([inst.slice(slash + 1), Number(inst.slice(0, slash)), b, v]);
      }
      this.ctx.sendAfterPersist(from, { t: 'tx_p1b', tx: msg.tx, ballot: msg.ballot, slots: [s], ok: true, accepted: values });
    }
    if (nack.length > 0) this.ctx.send(from, { t: 'tx_p1b', tx: msg.tx, ballot: msg.ballot, slots: nack, ok: false, accepted: acceptedOut });
  }

  onP2a(from: PeerId, msg: MsgOf<'tx_p2a'>): void {
    if (this.answeredFromMemory(from, msg.tx)) return;
    const st = this.txs.get(msg.tx);
    if (!st) return;
    if (st.decision !== null) {
      this.ctx.send(from, { t: 'tx_decision', tx: msg.tx, commit: st.decision });
      return;
    }
    const ok: number[] = [];
    for (const s of this.mySlots(st.acc, msg.slots)) {
      const ss = this.slot(st, s);
      if (msg.ballot < ss.promised) continue;
      ss.promised = msg.ballot;
      for (const [key, i, v] of msg.values) ss.accepted[instanceKey(key, i)] = [msg.ballot, v];
      ok.push(s);
    }
    if (ok.length === 0) return;
    this.save(msg.tx, st);
    const accepted: MsgOf<'tx_accepted'> = { t: 'tx_accepted', tx: msg.tx, ballot: msg.ballot, slots: ok, values: msg.values };
    this.ctx.sendAfterPersist(from, accepted);
    if (st.tm !== from) this.ctx.sendAfterPersist(st.tm, accepted);
  }

  /** The outcome: remember it (compactly) and forget the instance state. */
  onDecision(msg: MsgOf<'tx_decision'>): void {
    const st = this.txs.get(msg.tx);
    if (!st) {
      // A decision for a transaction we never saw: nothing to keep (we hold no votes of it).
      return;
    }
    if (st.decision !== null) return;
    st.decision = msg.commit;
    st.slots = {};
    this.save(msg.tx, st);
    this.ctx.counters.add(msg.commit ? 'acc.commit' : 'acc.abort');
  }

  /** A participant in doubt: answer if we know, else make sure recovery runs. */
  onInquire(from: PeerId, msg: MsgOf<'tx_inquire'>): boolean {
    if (this.answeredFromMemory(from, msg.tx)) return false;
    const st = this.ensure(msg.tx, msg.tm, msg.acc, msg.keys);
    if (st.decision !== null) {
      this.ctx.send(from, { t: 'tx_decision', tx: msg.tx, commit: st.decision });
      return false;
    }
    return true;
  }

  /** Forget decisions older than the retention period. */
  gc(): void {
    const now = this.ctx.now();
    for (const [tx, st] of this.txs) {
      if (st.decision !== null && now - st.firstSeenAt > this.ctx.config.tx_decision_retention_ms) {
        this.txs.delete(tx);
        this.ctx.unpersist(PREFIX + tx);
      }
    }
  }
}
