import type { PeerLink } from '../api/db.ts';
import type { PeerId } from '../core/types.ts';
import type { WatchEvent } from '../peer/io.ts';
import type { Simulation } from './simulation.ts';

/** The API's link to a simulated peer: requests resolve when the simulation delivers the reply. */
export function simLink(sim: Simulation, peer: PeerId): PeerLink {
  const listeners = new Set<(e: WatchEvent) => void>();
  sim.onEvent((p, e) => {
    if (p === peer) for (const l of listeners) l(e);
  });
  return {
    request: (op) => new Promise((resolve) => sim.request(peer, op, resolve)),
    onEvent: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
}

/** A sleep in virtual time, for the API's backoff under simulation. */
export function simSleep(sim: Simulation): (ms: number) => Promise<void> {
  return (ms) => new Promise((resolve) => sim.schedule(sim.now + ms, resolve));
}

/**
 * Run the simulation until promise settles (promise callbacks run between simulation
 * steps), or the virtual time limit passes.
 */
export async function drive<T>(sim: Simulation, promise: Promise<T>, limitMs = 120_000): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const end = sim.now + limitMs;
  while (!settled && sim.now < end) {
    sim.runFor(5);
    await new Promise<void>((r) => setImmediate(r));
  }
  if (!settled) throw new Error(`simulation: promise did not settle within ${limitMs} virtual ms`);
  return promise;
}

/** Let virtual time pass while promise callbacks (API clients) keep running. */
export function advance(sim: Simulation, ms: number): Promise<void> {
  return drive(sim, new Promise<void>((resolve) => sim.schedule(sim.now + ms, resolve)), ms + 1000);
}
