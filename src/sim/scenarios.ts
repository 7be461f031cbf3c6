import type { PeerId } from '../core/types.ts';
import { perfectRing } from './ring-invariants.ts';
import type { Rng } from './rng.ts';
import type { Simulation, SimNode } from './simulation.ts';

/** Grow a ring to n members: the first creates it, each next one joins through a random member. */
export function buildRing(sim: Simulation, n: number, opts: { joinGapMs?: number } = {}): SimNode[] {
  const gap = opts.joinGapMs ?? 20;
  if (sim.members().length === 0) sim.addPeer(null);
  while (sim.liveCount() < n) {
    const contact = sim.rng.pick(sim.members()).id;
    sim.addPeer(contact);
    sim.runFor(gap);
  }
  return sim.live();
}

/** Run until the ring is perfect (or the limit passes); returns the virtual ms it took, or -1. */
export function settle(sim: Simulation, limitMs = 120_000): number {
  const start = sim.now;
  let lastCheck = -Infinity;
  const ok = sim.runUntilTrue(() => {
    if (sim.now - lastCheck < 100) return false;
    lastCheck = sim.now;
    return sim.members().length === sim.live().length && perfectRing(sim.live()) === null;
  }, limitMs);
  return ok ? sim.now - start : -1;
}

/** The member responsible for position x in a perfect ring: the first member at or after x. */
export function trueResponsible(sim: Simulation, x: PeerId): PeerId {
  const ids = sim.members().map((n) => n.id).sort((a, b) => a - b);
  for (const id of ids) if (id >= x) return id;
  return ids[0]!;
}

export interface ChurnKnobs {
  /** Events of churn (join, leave, crash, restart) over the churn phase. */
  churn_events: number;
  churn_phase_ms: number;
  crash_weight: number;
  leave_weight: number;
  join_weight: number;
  restart_weight: number;
  /** Never shrink the ring below this many members. */
  members_min: number;
}

/** Schedule random churn (seeded) over the next churn_phase_ms. */
export function scheduleChurn(sim: Simulation, rng: Rng, k: ChurnKnobs): void {
  const total = k.crash_weight + k.leave_weight + k.join_weight + k.restart_weight;
  for (let i = 0; i < k.churn_events; i++) {
    const at = sim.now + rng.next() * k.churn_phase_ms;
    const roll = rng.next() * total;
    sim.schedule(at, () => {
      const members = sim.members();
      const down = [...sim.nodes.values()].filter((n) => !n.alive && n.peer.ring.status !== 'left');
      if (roll < k.join_weight || members.length <= k.members_min) {
        if (members.length > 0) sim.addPeer(rng.pick(members).id);
      } else if (roll < k.join_weight + k.crash_weight) {
        sim.crash(rng.pick(members).id);
      } else if (roll < k.join_weight + k.crash_weight + k.leave_weight) {
        sim.leave(rng.pick(members).id);
      } else if (down.length > 0 && members.length > 0) {
        sim.restart(rng.pick(down).id, rng.pick(members).id);
      }
    });
  }
}
