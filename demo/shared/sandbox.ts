import { Db } from '../../src/api/index.ts';
import { errorFromReply } from '../../src/api/errors.ts';
import { LatencyWindow } from '../../src/api/latency.ts';
import type { PeerLink } from '../../src/api/db.ts';
import { buildRing, settle, trueResponsible } from '../../src/sim/scenarios.ts';
import { simLink, simSleep } from '../../src/sim/sim-link.ts';
import { Simulation } from '../../src/sim/simulation.ts';
import { replicaInfos, type DemoClient, type PeerStatus } from './client.ts';

/** Peers of the sandbox ring: r = 4 replicas need at least 4 to spread over distinct peers. */
const sandbox_peers = 5;
/** How often the simulated ring catches up with real time. */
const pacing_interval_ms = 4;
/** Virtual time run per pacing step at most, so a background tab does not stall on return. */
const pacing_step_max_ms = 250;
/** Virtual time allowed for the ring to form and every range to hold data. */
const formation_limit_ms = 60_000;

/**
 * A ring of simulated peers inside this tab (the project's deterministic simulator, paced
 * by the real clock). The demos use it when the browser runtime is not available, so every
 * page still works alone; nothing is shared with other tabs.
 */
export function startSandbox(room: string): DemoClient {
  const sim = new Simulation({ seed: Math.floor(Math.random() * 2 ** 31), network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 } });
  buildRing(sim, sandbox_peers);
  settle(sim, formation_limit_ms);
  sim.runUntilTrue(() => sim.members().every((m) => m.peer.store.empty.empty), formation_limit_ms);
  const self = sim.members()[0]!.id;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    sim.runFor(Math.min(now - last, pacing_step_max_ms));
    last = now;
  }, pacing_interval_ms);
  const latency = new LatencyWindow(() => performance.now());
  const link = measured(simLink(sim, self), latency);
  const db = new Db(link, { sleep: simSleep(sim) });
  const node = () => sim.nodes.get(self)!;

  return {
    db,
    kind: 'sandbox',
    room,
    async summary() {
      return { peerId: self, state: 'in', ringSize: sim.members().length, connected: sim.members().map((m) => m.id).filter((id) => id !== self), storageBytes: null, latency: latency.report() };
    },
    async peerStatus() {
      return node().peer.status() as unknown as PeerStatus;
    },
    async lookup(position) {
      return { peer: trueResponsible(sim, position), hops: 0 };
    },
    async replicas(key) {
      return replicaInfos(await db.replicas(key));
    },
    async readVersioned(key) {
      const r = await link.request({ op: 'read', key });
      if (!r.ok) throw errorFromReply(r.code, r.message, [key]);
      return { found: r.found ?? false, value: r.value, version: r.ver ?? 0 };
    },
    async close() {
      clearInterval(timer);
    },
  };
}

/** The link with the latency of reads and commits recorded (real time, as a user waits). */
function measured(link: PeerLink, window: LatencyWindow): PeerLink {
  return {
    onEvent: (cb) => link.onEvent(cb),
    request: async (op) => {
      const kind = op.op === 'read' || op.op === 'tx_read' ? 'read' : op.op === 'tx_commit' ? 'commit' : null;
      const t0 = performance.now();
      const r = await link.request(op);
      if (kind !== null) window.add(kind, performance.now() - t0);
      return r;
    },
  };
}
