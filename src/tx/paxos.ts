import { majority } from '../replication/replicas.ts';

/**
 * Quorum arithmetic of Paxos Commit on r acceptor slots.
 *
 * Every replica slot (key, i) of a transaction is one Paxos instance whose value is that
 * participant's vote. Participants propose their votes directly at ballot 0 (the fast
 * round). Unlike Gray and Lamport's setting, the participant of a slot is "whoever holds
 * that replica position", which can change under churn, so two peers may propose at
 * ballot 0 for one instance. That is Fast Paxos: a ballot-0 value is chosen only by a fast
 * quorum, and recovery picks a ballot-0 value that may have been chosen. Fast and classic
 * quorums must satisfy 2*fast + classic > 2r: with r = 4 a majority (3) is both.
 */
export function classicQuorum(r: number): number {
  return majority(r);
}

export function fastQuorum(r: number): number {
  return Math.max(majority(r), Math.floor((2 * r) / 3) + 1, Math.ceil((2 * r - majority(r) + 1) / 2));
}

export type Vote = 'prepared' | 'abort';

/** Ballots above 0 are (round, proposer): proposer 0 is the TM, s + 1 is acceptor slot s. */
export const PROPOSERS_PER_ROUND = 32;

export function ballotOf(round: number, proposer: number): number {
  return round * PROPOSERS_PER_ROUND + proposer;
}

export function roundOf(ballot: number): number {
  return Math.floor(ballot / PROPOSERS_PER_ROUND);
}

export function instanceKey(key: string, i: number): string {
  return `${i}/${key}`;
}

/**
 * The value a recovering leader must propose for one instance, given what a quorum of
 * acceptor slots accepted: the value of the highest ballot above 0; else a ballot-0 value
 * that a fast quorum may have chosen (seen at least fast + |Q| - r times among the |Q|
 * answers); else 'abort' (nothing can have been chosen, and abort is always safe).
 */
export function recoveryValue(accepted: ReadonlyArray<{ ballot: number; value: Vote }>, answered: number, r: number): Vote {
  let best: { ballot: number; value: Vote } | null = null;
  for (const a of accepted) if (a.ballot > 0 && (!best || a.ballot > best.ballot)) best = a;
  if (best) return best.value;
  const need = fastQuorum(r) + answered - r;
  let prepared = 0;
  let aborted = 0;
  for (const a of accepted) {
    if (a.ballot !== 0) continue;
    if (a.value === 'prepared') prepared++;
    else aborted++;
  }
  if (prepared >= need && prepared > 0) return 'prepared';
  return 'abort';
}
