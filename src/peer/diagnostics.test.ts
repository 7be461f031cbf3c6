import { describe, expect, it } from 'vitest';
import { addId } from '../core/id.ts';
import { buildRing, settle, trueResponsible } from '../sim/scenarios.ts';
import { drive } from '../sim/sim-link.ts';
import { Simulation } from '../sim/simulation.ts';
import type { ClientOp, ClientReply } from './io.ts';
import type { FingerInfo, OpenTxInfo, RttInfo } from './diagnostics.ts';

type Status = { fingerTable: FingerInfo[]; openTxList: OpenTxInfo[]; rtt: RttInfo[]; openTransactions: number };

describe('status diagnostics', () => {
  it('lists fingers with their starts, open transactions with age, and round trips', async () => {
    const sim = new Simulation({ seed: 21, network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
    buildRing(sim, 12);
    expect(settle(sim)).toBeGreaterThanOrEqual(0);
    sim.runFor(20_000);
    const node = sim.members()[0]!;
    const ask = (op: ClientOp) => drive(sim, new Promise<ClientReply>((resolve) => sim.request(node.id, op, resolve)));
    const status = async () => {
      const r = await ask({ op: 'status' });
      if (!r.ok) throw new Error(r.message);
      return r.value as unknown as Status;
    };
    const s = await status();
    expect(s.fingerTable.length).toBeGreaterThan(0);
    for (const f of s.fingerTable) {
      expect(f.start).toBe(addId(node.id, 2 ** f.exponent));
      expect(f.peer).not.toBe(node.id);
    }
    // Fingers may be stale, but in a settled ring without churn each is the responsible peer of its start.
    for (const f of s.fingerTable) expect(f.peer).toBe(trueResponsible(sim, f.start));
    expect(s.rtt.length).toBeGreaterThan(0);
    for (const x of s.rtt) expect(x.srttMs).toBeGreaterThan(0);

    // A transaction that has read a key and not committed yet is listed as open.
    const read = await ask({ op: 'tx_read', tx: 'diag-tx', key: 'a' });
    expect(read.ok).toBe(true);
    sim.runFor(500);
    const open = await status();
    expect(open.openTxList).toEqual([expect.objectContaining({ tx: 'diag-tx', state: 'open', keys: 1 })]);
    expect(open.openTxList[0]!.ageMs).toBeGreaterThanOrEqual(500);
    expect(open.openTransactions).toBe(1);
    await ask({ op: 'tx_abandon', tx: 'diag-tx' });
    expect((await status()).openTxList).toEqual([]);
  });
});
