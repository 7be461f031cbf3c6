import type { MsgOf } from '../core/messages.ts';
import type { PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import { Learner } from './learner.ts';
import { ballotOf, classicQuorum, recoveryValue, roundOf, type Vote } from './paxos.ts';

/**
 * A leader that finishes a transaction whose TM is gone or slow: phase 1 at a ballot of
 * its own on every instance, then phase 2 with the values Paxos allows (the participants'
 * votes where they may have been chosen, 'abort' where none can have been). Run by the TM
 * after tx_commit_timeout_ms and by acceptors (RTMs) after tx_recovery_timeout_ms.
 */
export class Recovery {
  ballot = 0;
  private readonly p1b = new Map<number, Array<[string, number, number, Vote]>>();
  private phase: 1 | 2 = 1;
  readonly learner: Learner;
  private round = 0;

  constructor(
    private readonly ctx: PeerContext,
    readonly tx: string,
    readonly tm: PeerId,
    readonly acc: PeerId[],
    readonly keys: string[],
    /** 0 for the TM, s + 1 for acceptor slot s. */
    private readonly proposer: number,
  ) {
    this.learner = new Learner(keys, acc.length);
  }

  /** Start (or restart with a higher ballot). */
  start(minBallot = 0): void {
    this.round = Math.max(this.round, roundOf(minBallot)) + 1;
    this.ballot = ballotOf(this.round, this.proposer);
    this.p1b.clear();
    this.phase = 1;
    this.ctx.counters.add('tx.recovery_started');
    for (const [peer, slots] of this.byPeer()) {
      this.ctx.send(peer, { t: 'tx_p1a', tx: this.tx, ballot: this.ballot, slots, tm: this.tm, acc: this.acc, keys: this.keys });
    }
  }

  private byPeer(): Map<PeerId, number[]> {
    const m = new Map<PeerId, number[]>();
    this.acc.forEach((a, s) => m.set(a, [...(m.get(a) ?? []), s]));
    return m;
  }

  onP1b(msg: MsgOf<'tx_p1b'>): void {
    if (msg.ballot !== this.ballot || this.phase !== 1 || !msg.ok) return;
    for (const s of msg.slots) this.p1b.set(s, msg.accepted.slice());
    const r = this.acc.length;
    if (this.p1b.size < classicQuorum(r)) return;
    this.phase = 2;
    const values: Array<[string, number, Vote]> = [];
    for (const key of this.keys) {
      for (let i = 0; i < r; i++) {
        const acc: Array<{ ballot: number; value: Vote }> = [];
        for (const list of this.p1b.values()) for (const [k, j, b, v] of list) if (k === key && j === i) acc.push({ ballot: b, value: v });
        values.push([key, i, recoveryValue(acc, this.p1b.size, r)]);
      }
    }
    for (const [peer, slots] of this.byPeer()) this.ctx.send(peer, { t: 'tx_p2a', tx: this.tx, ballot: this.ballot, slots, values });
  }

  onAccepted(msg: MsgOf<'tx_accepted'>): void {
    this.learner.onAccepted(msg.ballot, msg.slots, msg.values);
  }
}
