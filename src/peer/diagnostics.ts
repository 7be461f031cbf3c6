import { addId } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';
import type { Peer } from './peer.ts';

/** A finger: entry `exponent` points at the peer responsible for start = self + 2^exponent. */
export interface FingerInfo {
  exponent: number;
  start: PeerId;
  peer: PeerId;
}

/** A transaction this peer manages (as TM). */
export interface OpenTxInfo {
  tx: string;
  state: 'open' | 'committing' | 'decided';
  /** Keys read so far, or every key once committing. */
  keys: number;
  /** Milliseconds since it started (peer clock). */
  ageMs: number;
}

/** Round trip to a peer the failure detector watches (heartbeats), smoothed as TCP does. */
export interface RttInfo {
  peer: PeerId;
  srttMs: number;
  rttvarMs: number;
  /** Why it is watched: 'succ', 'pred', 'finger', ... */
  reasons: string[];
}

/** Transactions listed in a status at most (the count is always exact). */
const open_tx_listed_max = 50;

// Read-only views of state the owning layers keep private (src/routing, src/tx, src/ring are
// not changed for a console); each is checked at run time, so a renamed field shows as empty.
type FingerTable = { table?: Map<number, PeerId> };
type TmTable = { txs?: Map<string, { id: string; state: OpenTxInfo['state']; keys: string[]; reads: Map<string, unknown>; prio: number }> };
type FdTable = { watched?: Map<PeerId, { reasons: Set<string>; srtt: number; rttvar: number }> };

/**
 * What a console shows beyond the basic status: the finger table with each finger's start,
 * the transactions this peer manages, and measured round trips. Reads state only; runs on
 * a status request, never on a hot path.
 */
export function diagnostics(peer: Peer): { fingerTable: FingerInfo[]; openTxList: OpenTxInfo[]; rtt: RttInfo[] } {
  const self = peer.id;
  const now = peer.ctx.now();
  const table = (peer.router.fingers as unknown as FingerTable).table;
  const fingerTable: FingerInfo[] = table instanceof Map ? [...table].sort(([a], [b]) => b - a).map(([exponent, p]) => ({ exponent, start: addId(self, 2 ** exponent), peer: p })) : [];
  const txs = (peer.tm as unknown as TmTable).txs;
  const openTxList: OpenTxInfo[] =
    txs instanceof Map
      ? [...txs.values()]
          .sort((a, b) => a.prio - b.prio)
          .slice(0, open_tx_listed_max)
          .map((t) => ({ tx: t.id, state: t.state, keys: Math.max(t.keys.length, t.reads.size), ageMs: Math.max(0, now - t.prio) }))
      : [];
  const watched = (peer.fd as unknown as FdTable).watched;
  const rtt: RttInfo[] =
    watched instanceof Map
      ? [...watched]
          .filter(([, w]) => w.srtt > 0)
          .sort(([a], [b]) => a - b)
          .map(([p, w]) => ({ peer: p, srttMs: Math.round(w.srtt * 10) / 10, rttvarMs: Math.round(w.rttvar * 10) / 10, reasons: [...w.reasons].sort() }))
      : [];
  return { fingerTable, openTxList, rtt };
}
