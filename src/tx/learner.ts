import { classicQuorum, fastQuorum, instanceKey, type Vote } from './paxos.ts';

/**
 * Learns the outcome of one transaction from acceptors' "accepted" messages.
 * An instance is decided when a quorum of slots accepted one value at one ballot (fast
 * quorum at ballot 0). The transaction commits when every key has a majority of slots
 * decided 'prepared'; it aborts as soon as one key can no longer get there.
 */
export class Learner {
  /** instance -> "ballot|value" -> slots */
  private readonly votes = new Map<string, Map<string, Set<number>>>();
  private readonly decided = new Map<string, Vote>();
  private readonly m: number;
  private readonly fast: number;

  constructor(
    readonly keys: readonly string[],
    readonly r: number,
    /** Planted bug (tests only): an item counts as prepared with one prepared replica. */
    private readonly commitMinority = false,
  ) {
    this.m = classicQuorum(r);
    this.fast = fastQuorum(r);
  }

  onAccepted(ballot: number, slots: readonly number[], values: ReadonlyArray<readonly [string, number, Vote]>): void {
    for (const [key, i, value] of values) {
      const inst = instanceKey(key, i);
      if (this.decided.has(inst)) continue;
      let byBallot = this.votes.get(inst);
      if (!byBallot) {
        byBallot = new Map();
        this.votes.set(inst, byBallot);
      }
      const bv = `${ballot}|${value}`;
      let set = byBallot.get(bv);
      if (!set) {
        set = new Set();
        byBallot.set(bv, set);
      }
      for (const s of slots) set.add(s);
      if (set.size >= (this.commitMinority ? 1 : ballot === 0 ? this.fast : this.m)) this.decided.set(inst, value);
    }
  }

  /** 'commit', 'abort', or null while undecided. */
  outcome(): 'commit' | 'abort' | null {
    let all = true;
    for (const key of this.keys) {
      let prepared = 0;
      let aborted = 0;
      for (let i = 0; i < this.r; i++) {
        const d = this.decided.get(instanceKey(key, i));
        if (d === 'prepared') prepared++;
        else if (d === 'abort') aborted++;
      }
      if (this.commitMinority) {
        if (prepared < 1) all = false;
        continue;
      }
      if (aborted > this.r - this.m) return 'abort';
      if (prepared < this.m) all = false;
    }
    return all ? 'commit' : null;
  }

  /** Keys that cannot be prepared (the conflicts a client is told of). */
  abortedKeys(): string[] {
    return this.keys.filter((key) => {
      let aborted = 0;
      for (let i = 0; i < this.r; i++) if (this.decided.get(instanceKey(key, i)) === 'abort') aborted++;
      return aborted > this.r - this.m;
    });
  }
}
