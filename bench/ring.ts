/**
 * Ring and routing benchmark in the simulator. Prints one JSON object per ring size:
 *   npm run bench:ring -- --json [--sizes 64,256,1024,4096] [--seed 1] [--idle-ms N]
 * nodes, avgHops, maxHops (random-key lookups after convergence), msgsPerJoin,
 * msgsPerPeerPerSecIdle (maintenance traffic), simEventsPerSec (delivered messages per
 * wall-clock second over the whole run: building the ring, settling, finger repair, the idle
 * phase, the lookups and the joins; nothing is left out of the clock). cpuSeconds and
 * loadAvg1 (the 1-minute load average at the end) tell how much of the wall clock this
 * process had on a shared machine; simEventsPerCpuSec (delivered messages per second of CPU
 * this process got) is the figure to compare between runs whose load differs (it still drops
 * under load, as other processes evict the simulator's data from the caches).
 *
 * The idle phase lasts 20 s of virtual time, and longer for the small rings (20 s x 1024/N:
 * 320 s at 64 peers, 80 s at 256), so that every size delivers enough messages for its
 * figure to measure the simulator rather than the JIT warming up (at 64 peers a 20 s idle
 * phase made the whole run 0.6 s, most of it spent before the code was optimized). The idle
 * traffic per peer and second is an average over that phase, so its length does not change it.
 */
import { loadavg } from 'node:os';
import { randomId } from '../src/core/id.ts';
import { buildRing, settle } from '../src/sim/scenarios.ts';
import { Simulation } from '../src/sim/simulation.ts';
import { args } from './args.ts';

const a = args();
const sizes = a.list('sizes', [64, 256, 1024, 4096]);
const seed = a.num('seed', 1);
const lookups = a.num('lookups', 2000);

const JOIN_KINDS = ['route:join', 'join_ok', 'join_retry', 'new_succ', 'notify'];

function joinMessages(sim: Simulation): number {
  return JOIN_KINDS.reduce((s, k) => s + (sim.sentByKind.get(k) ?? 0), 0);
}

for (const n of sizes) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const sim = new Simulation({ seed, network: { latency_min_ms: 1, latency_jitter_mean_ms: 2 } });
  buildRing(sim, n, { joinGapMs: 5 });
  const settleMs = settle(sim, 600_000);
  const cfg = sim.members()[0]!.peer.ctx.config;
  // Fingers: every peer repairs one per period; give each a few passes over its ~log2 N fingers.
  sim.runFor(3 * (Math.log2(n) + 2) * cfg.finger_fix_interval_ms);

  // Idle maintenance traffic.
  const idleMs = a.num('idle-ms', Math.max(20_000, Math.round((20_000 * 1024) / n)));
  const sentBefore = sim.sent;
  sim.runFor(idleMs);
  const msgsPerPeerPerSecIdle = (sim.sent - sentBefore) / n / (idleMs / 1000);

  // Lookups of random keys from random peers.
  const hops: number[] = [];
  const members = sim.members();
  for (let i = 0; i < lookups; i++) {
    const target = randomId(() => sim.rng.next());
    sim.request(sim.rng.pick(members).id, { op: 'lookup', target }, (r) => r.ok && hops.push(r.hops ?? 0));
  }
  sim.runFor(10_000);

  // Joins, one at a time, counting the messages of the join protocol.
  const joins = 20;
  const joinBefore = joinMessages(sim);
  for (let i = 0; i < joins; i++) {
    sim.addPeer(sim.rng.pick(sim.members()).id);
    sim.runFor(2000);
  }
  const msgsPerJoin = (joinMessages(sim) - joinBefore) / joins;
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const out = {
    nodes: n,
    avgHops: Number((hops.reduce((s, h) => s + h, 0) / hops.length).toFixed(3)),
    maxHops: Math.max(...hops),
    lookupsAnswered: hops.length,
    hopTargetAvg: Number((0.5 * Math.log2(n) + 1).toFixed(3)),
    hopTargetMax: Number((Math.log2(n) + 2).toFixed(3)),
    msgsPerJoin,
    msgsPerPeerPerSecIdle: Number(msgsPerPeerPerSecIdle.toFixed(2)),
    settleVirtualMs: settleMs,
    simEventsPerSec: Math.round(sim.delivered / wallS),
    simEventsPerCpuSec: Math.round(sim.delivered / ((cpu.user + cpu.system) / 1e6)),
    wallSeconds: Number(wallS.toFixed(1)),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    loadAvg1: Number(loadavg()[0]!.toFixed(2)),
    seed,
    // Everything that happened in the run: must not change when only speed work is done.
    traceHash: sim.trace.digest(),
    traceEvents: sim.trace.events,
  };
  console.log(a.json ? JSON.stringify(out) : out);
}
