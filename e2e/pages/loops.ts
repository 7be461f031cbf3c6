import type { ClientOp, ClientReply } from '../../src/peer/io.ts';

/**
 * The benchmark loops, shared by the peer page (a tab's client) and bench/browser-mixed.ts
 * (a Node peer in the bench process): the same requests, the same measurement window.
 */

/** How a loop reaches its peer. */
export type Request = (op: ClientOp) => Promise<ClientReply>;

export interface LoopOptions {
  clients: number;
  /** Operations started before this long (ms) are not counted (warm-up). */
  warmupMs: number;
  durationMs: number;
  /** Key prefix, unique per tab. */
  prefix: string;
}

export interface LoopResult {
  /** Operations that completed ok within the measured window. */
  ok: number;
  failed: number;
  windowMs: number;
  /** Whole operation of each ok one (increment: read + commit; read: the quorum read), ms. */
  latencies: number[];
  /** Increment only: the commit request alone, ms. */
  commitLatencies: number[];
  errors: string[];
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * Scalaris' bench:increment: every client increments its own key, read then commit, as
 * Db.transact does (same protocol requests; no conflicts, so no retries). Raw requests so
 * that the commit's own latency can be measured.
 */
export async function incrementLoop(request: Request, o: LoopOptions): Promise<LoopResult> {
  const start = performance.now();
  const from = start + o.warmupMs;
  const end = from + o.durationMs;
  const lat: number[] = [];
  const commitLat: number[] = [];
  const errors = new Set<string>();
  let ok = 0;
  let failed = 0;
  let n = 0;
  const client = async (id: number) => {
    const key = `${o.prefix}.${id}`;
    while (performance.now() < end) {
      const tx = `${o.prefix}.${id}.${++n}`;
      const t0 = performance.now();
      const r = await request({ op: 'tx_read', tx, key });
      if (!r.ok) {
        failed++;
        errors.add(`${r.code}: ${r.message}`.slice(0, 120));
        await request({ op: 'tx_abandon', tx });
        continue;
      }
      const next = ((r.found ? (r.value as number) : 0) ?? 0) + 1;
      const t1 = performance.now();
      const w = await request({ op: 'tx_commit', tx, writes: [[key, next, true]] });
      const t2 = performance.now();
      if (t0 < from || t2 > end) continue;
      if (w.ok) {
        ok++;
        lat.push(t2 - t0);
        commitLat.push(t2 - t1);
      } else {
        failed++;
        errors.add(`${w.code}: ${w.message}`.slice(0, 120));
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  return { ok, failed, windowMs: o.durationMs, latencies: lat.map(round3), commitLatencies: commitLat.map(round3), errors: [...errors].slice(0, 5) };
}

/** Quorum reads of the keys the increment loop wrote (they exist on their 4 replicas). */
export async function readLoop(request: Request, o: LoopOptions): Promise<LoopResult> {
  const start = performance.now();
  const from = start + o.warmupMs;
  const end = from + o.durationMs;
  const lat: number[] = [];
  const errors = new Set<string>();
  let ok = 0;
  let failed = 0;
  const client = async (id: number) => {
    const key = `${o.prefix}.${id}`;
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await request({ op: 'read', key });
      const t1 = performance.now();
      if (t0 < from || t1 > end) continue;
      if (r.ok) {
        ok++;
        lat.push(t1 - t0);
      } else {
        failed++;
        errors.add(`${r.code}: ${r.message}`.slice(0, 120));
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  return { ok, failed, windowMs: o.durationMs, latencies: lat.map(round3), commitLatencies: [], errors: [...errors].slice(0, 5) };
}
