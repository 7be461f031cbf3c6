import { describe, expect, it } from 'vitest';
import { keyPosition } from '../src/core/hash.ts';
import { ID_SPACE, addId } from '../src/core/id.ts';
import type { PeerId } from '../src/core/types.ts';
import type { ClientReply } from '../src/peer/io.ts';
import { replicaPositions } from '../src/replication/replicas.ts';
import { buildRing, settle, trueResponsible } from '../src/sim/scenarios.ts';
import { Simulation } from '../src/sim/simulation.ts';

/**
 * A graceful leave and the transactions that name the leaving peer as an acceptor.
 *
 * Acceptor slots are fixed, by peer id, for a transaction's whole life, so a leaving peer
 * waits (at most Peer.leave_wait_ms_max) for the undecided transactions it accepts for.
 * Two ways that went wrong:
 * (a) while it waited, new transactions still named it (it was alive and responsible for
 *     their ids' positions), so the wait never ran dry and each of them lost a slot when
 *     the wait ended;
 * (b) a transaction whose TM crashed was decided only by the acceptors' recovery timers
 *     (tx_recovery_timeout_ms and more), so the leave waited for those instead of leading
 *     the recovery itself once the TM's own commit timeout had passed.
 */

const at = (f: number): PeerId => addId(0, Math.floor(f * ID_SPACE));

function request(sim: Simulation, peer: PeerId, op: Parameters<Simulation['request']>[1], limitMs = 30_000): ClientReply | null {
  let reply: ClientReply | null = null;
  sim.request(peer, op, (r) => (reply = r));
  sim.runUntilTrue(() => reply !== null, limitMs);
  return reply;
}

/** A transaction id one of whose acceptor positions the peer `x` is responsible for. */
function txIdAcceptedBy(sim: Simulation, x: PeerId, prefix: string): string {
  for (let i = 0; ; i++) {
    const tx = `${prefix}${i}`;
    if (replicaPositions(keyPosition(tx), 4).some((pos) => trueResponsible(sim, pos) === x)) return tx;
  }
}

describe('graceful leave and acceptor slots', () => {
  it('a leaving peer is named by no new transaction, and an orphaned transaction it accepts for is decided before its leave deadline', () => {
    const sim = new Simulation({ seed: 7, network: { latency_min_ms: 2, latency_jitter_mean_ms: 1 } });
    sim.addPeer(null, at(0));
    for (const f of [0.17, 0.33, 0.5, 0.66, 0.83]) {
      sim.addPeer(at(0), at(f));
      sim.runFor(50);
    }
    expect(settle(sim, 60_000)).toBeGreaterThanOrEqual(0);
    sim.runFor(5_000); // fingers and caches warm
    const X = at(0.5);
    const T = at(0.17); // the TM that crashes
    const C = at(0.83); // a TM that keeps working while X leaves

    // An orphaned transaction: its TM crashes the moment X holds a vote for it.
    const orphan = txIdAcceptedBy(sim, X, 'orphan-');
    const x = sim.nodes.get(X)!;
    sim.beforeDeliver = (_from, to, msg) => {
      if (to === X && msg.t === 'tx_vote' && msg.tx === orphan) {
        sim.beforeDeliver = null;
        sim.crash(T);
      }
    };
    sim.request(T, { op: 'tx_commit', tx: orphan, writes: [['orphan-key', 1, true]] }, () => {});
    expect(sim.runUntilTrue(() => x.peer.tx.acceptor.txs.has(orphan), 5_000), 'X holds a vote of the orphan').toBe(true);
    expect(x.peer.tx.acceptor.txs.get(orphan)!.decision).toBe(null);

    const leftAt = sim.now;
    sim.leave(X);
    // While X waits, C runs transactions whose ids put an acceptor position on X.
    const named: string[] = [];
    const results: ClientReply[] = [];
    for (let i = 0; i < 12; i++) {
      const tx = txIdAcceptedBy(sim, X, `during-${i}-`);
      named.push(tx);
      sim.request(C, { op: 'tx_commit', tx, writes: [[`k${i}`, i, true]] }, (r) => results.push(r));
    }
    expect(sim.runUntilTrue(() => results.length === named.length, 10_000)).toBe(true);
    expect(results.every((r) => r.ok), 'every transaction during the leave commits').toBe(true);
    for (const tx of named) expect(x.peer.tx.acceptor.txs.has(tx), `${tx} did not name X`).toBe(false);

    // The orphan is decided by X's own recovery once the TM's commit timeout has passed,
    // well before the acceptors' recovery timers (>= tx_recovery_timeout_ms = 4 s) and the
    // leave deadline (10 s).
    expect(sim.runUntilTrue(() => x.peer.finished, 12_000)).toBe(true);
    expect(sim.now - leftAt, 'the leave ended soon after the orphan could be recovered').toBeLessThan(3_500);
    expect(x.peer.ctx.counters.get('tx.led_for_leave')).toBeGreaterThanOrEqual(1);
    // What was decided sticks: the orphan's key reads as its outcome says, from anywhere.
    sim.runFor(2_000);
    const read = request(sim, C, { op: 'read', key: 'orphan-key' });
    expect(read).toMatchObject({ ok: true });
  });
});
