import { keyPosition } from '../core/hash.ts';
import type { ProtocolMutants } from '../peer/config.ts';
import { replicaPositions } from '../replication/replicas.ts';
import { checkBank } from './check/bank.ts';
import { checkLinearizable } from './check/linearizable.ts';
import { checkListAppend } from './check/list-append.ts';
import { checkLostAppends, checkLostRegisterWrites } from './check/lost-writes.ts';
import type { Json } from './check/history.ts';
import { perfectRing } from './ring-invariants.ts';
import { Rng } from './rng.ts';
import { buildRing, settle, trueResponsible } from './scenarios.ts';
import { type DriverMutants, Simulation, type SimNode } from './simulation.ts';
import { type WorkloadKind, Workload } from './workload.ts';

/**
 * The seed runner (after TigerBeetle's VOPR): one seed picks the shape of a cluster, its
 * faults and its workload, runs a fault phase, heals everything, runs a liveness phase,
 * then judges the histories. Everything comes from the seed, so a failure replays exactly.
 */
export interface SeedShape {
  peers: number;
  latency_min_ms: number;
  latency_jitter_mean_ms: number;
  loss_rate: number;
  duplicate_rate: number;
  reorder_rate: number;
  crashes: number;
  restarts: boolean;
  partitions: number;
  partition_ms_max: number;
  one_way: boolean;
  joins: number;
  leaves: number;
  /** Every peer crashes at once (all tabs closed), then they come back one by one. */
  power_failure: boolean;
  /**
   * The power failure strikes at the instant a client is told a commit succeeded (rather
   * than at a random moment): whatever that acknowledgement depends on must already be on
   * disk everywhere, and writes still in flight are lost. The sharpest test of "no peer
   * acknowledges before the state behind it is durable".
   */
  power_failure_on_ack: boolean;
  /** Time for a write to become durable: slow disks widen every crash window. */
  disk_latency_min_ms: number;
  disk_latency_jitter_mean_ms: number;
  kinds: WorkloadKind[];
  clients: number;
  fault_phase_ms: number;
}

export interface SeedResult {
  seed: number;
  shape: SeedShape;
  ok: boolean;
  violations: string[];
  committed: number;
  aborted: number;
  unknown: number;
  unavailable: number;
  txns: number;
  healToRingMs: number;
  healToRepairedMs: number;
  traceHash: string;
  events: number;
}

export interface VoprOptions {
  mutants?: ProtocolMutants & DriverMutants;
  /** Liveness phase bound after the heal. */
  liveness_ms_max?: number;
  /** Called with the simulation when the liveness phase fails (debugging a seed). */
  onLivenessFailure?: (sim: Simulation) => void;
}

export function shapeOf(seed: number): SeedShape {
  const rng = new Rng(seed ^ 0x5eed);
  const kinds: WorkloadKind[] = (['list', 'bank', 'register'] as const).filter(() => rng.chance(0.6));
  if (kinds.length === 0) kinds.push(rng.pick(['list', 'bank', 'register'] as const));
  const peers = rng.int(4, rng.chance(0.7) ? 12 : 32);
  return {
    peers,
    latency_min_ms: rng.int(1, 5),
    latency_jitter_mean_ms: rng.pick([0, 1, 3, 10, 30]),
    loss_rate: rng.pick([0, 0, 0.005, 0.02, 0.05]),
    duplicate_rate: rng.pick([0, 0, 0.01, 0.05]),
    reorder_rate: rng.pick([0, 0.01, 0.05]),
    crashes: rng.int(0, Math.min(3, Math.floor(peers / 4))),
    restarts: rng.chance(0.6),
    partitions: rng.int(0, 2),
    partition_ms_max: rng.pick([500, 1500, 2500, 10_000, 30_000]),
    one_way: rng.chance(0.3),
    joins: rng.int(0, 2),
    leaves: rng.int(0, 1),
    power_failure: rng.chance(0.4),
    disk_latency_min_ms: rng.pick([0.5, 2, 10, 40]),
    disk_latency_jitter_mean_ms: rng.pick([0.5, 5, 20, 60]),
    kinds,
    clients: rng.int(2, 8),
    fault_phase_ms: rng.int(8_000, 20_000),
    // Its own stream, so that adding this knob left every other knob of every seed as it was.
    power_failure_on_ack: new Rng(seed ^ 0xac4).chance(0.5),
  };
}

export function runSeed(seed: number, opts: VoprOptions = {}): SeedResult {
  const shape = shapeOf(seed);
  const mut = opts.mutants ?? {};
  const sim = new Simulation({
    seed,
    network: { latency_min_ms: 1, latency_jitter_mean_ms: 1 },
    peerConfig: { mutants: { read_one_replica: mut.read_one_replica, commit_minority: mut.commit_minority, skip_validation: mut.skip_validation, nonauth_answers: mut.nonauth_answers } },
    mutants: { ack_before_persist: mut.ack_before_persist },
    disk: { disk_latency_min_ms: shape.disk_latency_min_ms, disk_latency_jitter_mean_ms: shape.disk_latency_jitter_mean_ms },
  });
  const violations: string[] = [];
  const rng = new Rng(seed ^ 0xfa17);

  // ---- a calm start: the ring forms and every peer holds its ranges authoritatively
  buildRing(sim, shape.peers, { joinGapMs: 30 });
  settle(sim, 60_000);
  sim.runUntilTrue(() => sim.members().every((n) => n.peer.store.empty.empty && n.peer.store.stale.empty), 30_000);

  const w = new Workload(sim, rng.fork(), {
    kinds: shape.kinds,
    clients: shape.clients,
    list_keys: 6,
    register_keys: 3,
    bank_accounts: 5,
    bank_initial_balance: 100,
    think_ms_max: 30,
    op_timeout_ms: 20_000,
  });
  let bankReady = !shape.kinds.includes('bank');
  if (!bankReady) w.initBank(() => (bankReady = true));
  sim.runUntilTrue(() => bankReady, 30_000);
  if (!bankReady) violations.push('bank accounts could not be initialised in a calm network');

  // ---- the fault phase: network faults, crashes, restarts, partitions, churn, all during the workload
  sim.network = {
    latency_min_ms: shape.latency_min_ms,
    latency_jitter_mean_ms: shape.latency_jitter_mean_ms,
    loss_rate: shape.loss_rate,
    duplicate_rate: shape.duplicate_rate,
    reorder_rate: shape.reorder_rate,
    reorder_delay_ms: 50,
  };
  const T = shape.fault_phase_ms;
  const t0 = sim.now;
  w.start(T);
  const crashed: SimNode[] = [];
  // The fault model of r = 4 with majority quorums: one replica of a key may be lost at a
  // time. So a crash or leave waits until the peers have repaired the previous loss: every
  // crashed peer is back, or its id went to a newcomer (sim.retired: the old peer is gone for
  // good) that has joined and repaired its ranges. (Checking the id alone let a newcomer that
  // took a crashed peer's id, still joining, pass for the crashed peer restarted: seed 296
  // then lost two replicas of the same keys for good.)
  const repairing = () =>
    sim.live().some((n) => n.peer.ring.status === 'joining') ||
    sim.members().some((n) => !n.peer.store.empty.empty || !n.peer.store.stale.empty) ||
    crashed.some((n) => !n.alive && !sim.retired.includes(n));
  const whenRepaired = (fn: () => void) => {
    const attempt = () => {
      if (sim.now > t0 + T) return;
      if (repairing()) sim.schedule(sim.now + 500, attempt);
      else fn();
    };
    attempt();
  };
  for (let c = 0; c < shape.crashes; c++) {
    sim.schedule(t0 + rng.next() * T * 0.8, () => whenRepaired(() => {
      const live = sim.members();
      if (live.length <= 3) return;
      const victim = rng.pick(live).id;
      sim.crash(victim);
      crashed.push(sim.nodes.get(victim)!);
      if (shape.restarts) {
        sim.schedule(sim.now + rng.int(500, 6000), () => {
          const n = sim.nodes.get(victim);
          if (n && !n.alive && sim.members().length > 0) sim.restart(victim, rng.pick(sim.members()).id);
        });
      }
    }));
  }
  for (let p = 0; p < shape.partitions; p++) {
    const at = t0 + rng.next() * T * 0.8;
    const dur = rng.int(200, shape.partition_ms_max);
    sim.schedule(at, () => {
      const ids = sim.live().map((n) => n.id);
      rng.shuffle(ids);
      const cut = rng.int(1, Math.max(1, Math.floor(ids.length / 2)));
      const kind = shape.one_way ? 'one-way' : rng.pick(['split', 'split', 'pieces', 'flap'] as const);
      if (kind === 'one-way') {
        for (const a of ids.slice(0, cut)) for (const b of ids.slice(cut)) sim.partitions.cutOneWay(a, b);
      } else if (kind === 'split') sim.partitions.split([ids.slice(cut), ids.slice(0, cut)]);
      else if (kind === 'pieces') {
        // Three pieces (or as many as there are peers).
        const a = Math.max(1, Math.floor(ids.length / 3));
        sim.partitions.split([ids.slice(0, a), ids.slice(a, 2 * a), ids.slice(2 * a)]);
      } else {
        // A flapping link between two peers: cut and healed again and again.
        const [x, y] = [ids[0]!, ids[1] ?? ids[0]!];
        const until = sim.now + dur;
        let cutNow = false;
        const flip = () => {
          if (sim.now >= until) return;
          cutNow = !cutNow;
          if (cutNow) sim.partitions.cut(x, y);
          else sim.partitions.heal();
          sim.schedule(sim.now + rng.int(100, 1500), flip);
        };
        flip();
      }
      sim.schedule(sim.now + dur, () => sim.partitions.heal());
    });
  }
  if (shape.power_failure) {
    const strike = (fn: () => void) => {
      if (!shape.power_failure_on_ack) return fn();
      // At the next acknowledged commit, in the same instant (before any write in flight lands).
      w.onCommitted = () => {
        w.onCommitted = undefined;
        sim.schedule(sim.now, fn);
      };
    };
    sim.schedule(t0 + (0.2 + 0.6 * rng.next()) * T, () => whenRepaired(() => strike(() => {
      const all = sim.live().map((n) => n.id);
      for (const id of all) sim.crash(id);
      rng.shuffle(all);
      let at = sim.now + rng.int(200, 2000);
      all.forEach((id, k) => {
        sim.schedule(at, () => {
          if (sim.nodes.get(id)?.alive !== false) return;
          const members = sim.members();
          // The first one back creates a ring from its stored state; the others join it.
          sim.restart(id, k === 0 || members.length === 0 ? null : rng.pick(members).id);
        });
        at += rng.int(50, 1500);
      });
    })));
  }
  for (let j = 0; j < shape.joins; j++) sim.schedule(t0 + rng.next() * T * 0.8, () => sim.members().length > 0 && sim.addPeer(rng.pick(sim.members()).id));
  for (let l = 0; l < shape.leaves; l++) sim.schedule(t0 + rng.next() * T * 0.8, () => whenRepaired(() => sim.members().length > 4 && sim.leave(rng.pick(sim.members()).id)));
  sim.runFor(T);

  // ---- heal: calm network, no partition, crashed peers back
  w.stop();
  sim.partitions.heal();
  sim.network = { latency_min_ms: 1, latency_jitter_mean_ms: 1, loss_rate: 0, duplicate_rate: 0, reorder_rate: 0, reorder_delay_ms: 0 };
  for (const n of [...sim.nodes.values()]) {
    if (n.alive || n.peer.ring.status === 'left') continue;
    const members = sim.members();
    sim.restart(n.id, members.length > 0 ? members[0]!.id : null);
  }
  const healAt = sim.now;
  const livenessMax = opts.liveness_ms_max ?? 120_000;

  // ---- liveness: one ring, every transaction decided, r identical authoritative replicas of every key
  let healToRingMs = -1;
  let healToRepairedMs = -1;
  const keys = w.keys();
  const replicasConverged = (): string | null => {
    if (w.busy > 0) return `${w.busy} client operations still running`;
    for (const n of sim.members()) {
      if (!n.peer.store.empty.empty || !n.peer.store.stale.empty) return `peer ${n.id} still repairing`;
      for (const e of n.peer.store.entries.values()) if (e.item.pend.length > 0) return `undecided transaction ${e.item.pend[0]!.tx} at ${e.key}/${e.i}`;
    }
    for (const key of keys) {
      let first: string | null = null;
      const positions = replicaPositions(keyPosition(key), sim.members()[0]!.peer.ctx.config.replication_factor);
      for (let i = 0; i < positions.length; i++) {
        const holder = sim.nodes.get(trueResponsible(sim, positions[i]!))!;
        const it = holder.peer.store.get(key, i)?.item;
        const s = it ? JSON.stringify([it.ver, it.ex, it.ex ? it.val : null]) : JSON.stringify([0, false, null]);
        if (first === null) first = s;
        else if (s !== first) return `replicas of ${key} differ: ${first} vs ${s} (slot ${i})`;
      }
    }
    return null;
  };
  let lastWhy: string | null = 'not checked';
  let lastCheck = -Infinity;
  sim.runUntilTrue(() => {
    if (sim.now - lastCheck < 250) return false;
    lastCheck = sim.now;
    if (healToRingMs < 0) {
      if (sim.members().length === sim.live().length && perfectRing(sim.live()) === null) healToRingMs = sim.now - healAt;
      else return false;
    }
    lastWhy = replicasConverged();
    if (lastWhy === null) healToRepairedMs = sim.now - healAt;
    return lastWhy === null;
  }, livenessMax);
  if (healToRingMs < 0) violations.push(`liveness: no single perfect ring ${livenessMax} ms after the heal (${perfectRing(sim.live())})`);
  else if (healToRepairedMs < 0) violations.push(`liveness: ${livenessMax} ms after the heal: ${lastWhy}`);
  if (healToRepairedMs < 0) opts.onLivenessFailure?.(sim);

  // ---- final reads and the checkers
  let finals: Map<string, { found: boolean; value: Json } | null> | null = null;
  w.finalReads((v) => (finals = v));
  sim.runUntilTrue(() => finals !== null, 60_000);
  const fin = finals as Map<string, { found: boolean; value: Json } | null> | null;
  if (!fin) violations.push('final reads did not finish');
  else {
    for (const [k, v] of fin) if (v === null) violations.push(`final read of ${k} found no quorum after the heal`);
  }
  const h = w.h;
  if (shape.kinds.includes('list')) {
    const la = checkListAppend(h.txns);
    if (!la.ok) violations.push(...la.anomalies.slice(0, 3).map((a) => `list-append ${a.type}: ${a.explanation}`));
    if (fin) {
      const lists: Record<string, Json[] | null> = {};
      for (const k of w.listKeys) {
        const v = fin.get(k);
        if (v) lists[k] = v.found ? (v.value as Json[]) : null;
      }
      const lost = checkLostAppends(h.txns.filter((t) => t.ops.every((o) => o[1] in lists)), lists);
      if (!lost.ok) violations.push(...lost.anomalies.slice(0, 3).map((a) => `${a.type}: ${a.explanation}`));
    }
  }
  if (shape.kinds.includes('register')) {
    const lin = checkLinearizable(h.registers);
    if (!lin.ok) violations.push(`linearizability${lin.timedOut ? ' (search limit)' : ''} on ${lin.key}: ${lin.explanation}`);
    if (fin) {
      const vals: Record<string, Json | null> = {};
      for (const k of w.registerKeys) {
        const v = fin.get(k);
        if (v) vals[k] = v.found ? v.value : null;
      }
      const lost = checkLostRegisterWrites(h.registers.filter((o) => o.key in vals), vals);
      if (!lost.ok) violations.push(...lost.anomalies.slice(0, 3).map((a) => `${a.type}: ${a.explanation}`));
    }
  }
  if (shape.kinds.includes('bank')) {
    const reads = [...h.bank];
    if (fin && w.accounts.every((a) => fin.get(a))) {
      const balances: Record<string, number> = {};
      for (const a of w.accounts) balances[a] = (fin.get(a)!.value as number | null) ?? 0;
      reads.push({ id: 'final', balances, status: 'ok' });
    }
    const bank = checkBank({ accounts: w.accounts, total: 100 * w.accounts.length, reads });
    if (!bank.ok) violations.push(...bank.anomalies.slice(0, 3).map((a) => `bank ${a.type}: ${a.explanation}`));
  }

  return {
    seed,
    shape,
    ok: violations.length === 0,
    violations,
    committed: h.committed,
    aborted: h.aborted,
    unknown: h.unknown,
    unavailable: h.unavailable,
    txns: h.txns.length + h.registers.length + h.bank.length,
    healToRingMs,
    healToRepairedMs,
    traceHash: sim.trace.digest(),
    events: sim.trace.events,
  };
}
