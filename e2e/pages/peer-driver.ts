/**
 * Test-process side of the peer page (peer.html): connecting pages into a ring, and a
 * recorder that notes every operation's invocation and completion as the test process sees
 * them (what the history checkers judge). Used by e2e/peers.spec.ts and bench/browser.ts.
 */
import type { Page } from '@playwright/test';
import type { Json } from '../../src/core/types.ts';
import type { OpStatus, RegisterOp } from '../../src/sim/check/index.ts';
import type { Outcome, PeerConnectOptions } from './peer.ts';
import type { TabringStatus } from '../../src/index.ts';
import { RangeSet, type Interval } from '../../src/replication/ranges.ts';

export const PEER_PAGE = '/e2e/pages/peer.html';

export async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => 'peer' in window);
}

export async function connectPeer(page: Page, o: PeerConnectOptions): Promise<{ peerId: number; slot: number | null }> {
  await ready(page);
  const r = await page.evaluate((opts) => window.peer.connect(opts), o);
  if (!r.ok) throw new Error(`connect failed: ${r.name}: ${r.message}`);
  return r.value;
}

export async function status(page: Page): Promise<TabringStatus> {
  const s = await page.evaluate(() => window.peer.status());
  if (s === null) throw new Error('page is not connected');
  return s;
}

/** Polls until check() holds; the last failure's message tells what was awaited. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until every page sees a ring of `size` and a write from the first and reads from
 * every page succeed (joiners answer "unavailable" until their ranges are handed over).
 */
export async function waitForRing(pages: Page[], size: number, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await Promise.all(pages.map(status))).every((s) => s.ring === 'in' && s.ringSize === size), timeoutMs, `every page to see a ring of ${size}`);
  await waitFor(async () => {
    const w = await pages[0]!.evaluate(() => window.peer.write('ring-probe', Date.now()));
    if (!w.ok) return false;
    const reads = await Promise.all(pages.map((p) => p.evaluate(() => window.peer.read('ring-probe'))));
    return reads.every((r) => r.ok && r.value.found);
  }, timeoutMs, 'a write and reads through every page');
}

export type Kind = RegisterOp['kind'] | 'increment' | 'transfer' | 'read-all';

export interface Recorded {
  process: number;
  kind: Kind;
  key: string;
  args: Json;
  invokeMs: number;
  completeMs: number | null;
  status: OpStatus;
  result: Outcome<unknown> | null;
}

/** Errors that prove the operation did not take effect. */
const DEFINITE_FAILURES = new Set(['AbortedError', 'UnavailableError', 'NotJoinedError', 'InvalidError', 'LimitError', 'WrongTypeError', 'NotFoundError', 'KeyChangedError']);

export class Recorder {
  readonly ops: Recorded[] = [];
  private readonly t0 = performance.now();

  now(): number {
    return performance.now() - this.t0;
  }

  /**
   * Runs one operation and records it. A page that dies mid-call (evaluate rejects) leaves
   * the operation unknown, as does "commit outcome unknown".
   */
  async run<T>(process: number, kind: Kind, key: string, args: Json, call: () => Promise<Outcome<T>>): Promise<Outcome<T> | null> {
    const rec: Recorded = { process, kind, key, args, invokeMs: this.now(), completeMs: null, status: 'unknown', result: null };
    this.ops.push(rec);
    let r: Outcome<T>;
    try {
      r = await call();
    } catch {
      return null; // the page is gone: unknown, completion +infinity
    }
    rec.result = r;
    if (r.ok) {
      rec.status = 'ok';
      rec.completeMs = this.now();
    } else if (DEFINITE_FAILURES.has(r.name)) {
      rec.status = 'fail';
      rec.completeMs = this.now();
    }
    return r;
  }

  /** The register operations (read/write) for the linearizability checker. */
  registerOps(): RegisterOp[] {
    const out: RegisterOp[] = [];
    for (const r of this.ops) {
      if (r.kind === 'read') {
        const v = r.result?.ok ? (r.result.value as { found: boolean; value: Json | null }) : null;
        out.push({ process: r.process, key: r.key, kind: 'read', output: v ? (v.found ? v.value : null) : null, invokeMs: r.invokeMs, completeMs: r.completeMs, status: r.status });
      } else if (r.kind === 'write') {
        out.push({ process: r.process, key: r.key, kind: 'write', value: r.args, invokeMs: r.invokeMs, completeMs: r.completeMs, status: r.status });
      } else if (r.kind === 'increment' && r.status === 'ok') {
        // addOnNr(1) that returned n took the counter from n - 1 to n.
        const n = (r.result as { ok: true; value: number }).value;
        out.push({ process: r.process, key: r.key, kind: 'cas', expected: n === 1 ? null : n - 1, value: n, invokeMs: r.invokeMs, completeMs: r.completeMs, status: 'ok' });
      }
    }
    return out;
  }

  count(kind: Kind, status: OpStatus): number {
    return this.ops.filter((o) => o.kind === kind && o.status === status).length;
  }
}

/**
 * Waits until `pages` (whose peers have `ids`) form exactly one ring of those peers: every
 * page is in, with the predecessor and successors the sorted ids give. Used for a whole
 * ring after a heal, and for each side's own ring while partitioned.
 */
export async function waitForExactRing(pages: Page[], ids: number[], timeoutMs: number, what: string): Promise<void> {
  const sorted = [...ids].sort((a, b) => a - b);
  const n = sorted.length;
  let last = '';
  await waitFor(async () => {
    const all = await Promise.all(pages.map(status));
    last = JSON.stringify(all.map((s) => ({ id: s.id, ring: s.ring, pred: s.pred, succs: s.succs })));
    return all.every((s, i) => {
      const at = sorted.indexOf(ids[i]!);
      const succs = Array.from({ length: n - 1 }, (_, j) => sorted[(at + 1 + j) % n]!);
      return s.id === ids[i] && s.ring === 'in' && (n === 1 || s.pred === sorted[(at + n - 1) % n]) && succs.every((p, j) => s.succs[j] === p);
    });
  }, timeoutMs, what).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${last}`);
  });
}

/** Test-only network cut at each page's transport: page i drops everything to/from drop[i]. */
export async function cutPages(pages: Page[], drop: number[][], direction?: 'both' | 'in' | 'out'): Promise<void> {
  const rs = await Promise.all(pages.map((p, i) => p.evaluate(([d, dir]) => window.peer.partition(d, dir), [drop[i]!, direction] as const)));
  for (const r of rs) if (!r.ok) throw new Error(`partition failed: ${r.name}: ${r.message}`);
}

/** Lifts every page's cut. */
export async function healPages(pages: Page[]): Promise<void> {
  const rs = await Promise.all(pages.map((p) => p.evaluate(() => window.peer.heal())));
  for (const r of rs) if (!r.ok) throw new Error(`heal failed: ${r.name}: ${r.message}`);
}

/**
 * Waits until every page's peer holds its own range (pred, self] with trusted data: no part
 * of it is empty (taken over without data) or stale (its own old data, not yet confirmed by
 * the other replicas). Until then some keys answer "unavailable", honestly.
 */
export async function waitForAuthority(pages: Page[], timeoutMs: number, what: string): Promise<void> {
  let last = '';
  await waitFor(async () => {
    const views = await Promise.all(
      pages.map(async (page) => {
        const s = await status(page);
        const p = (await page.evaluate(() => window.peer.protocolStatus())) as { emptyRanges?: Interval[]; staleRanges?: Interval[] } | null;
        return { id: s.id, pred: s.pred, empty: p?.emptyRanges ?? [], stale: p?.staleRanges ?? [] };
      }),
    );
    last = JSON.stringify(views);
    return views.every((v) => v.pred !== null && v.pred !== v.id && !new RangeSet(v.empty).intersects(v.pred, v.id) && !new RangeSet(v.stale).intersects(v.pred, v.id));
  }, timeoutMs, what).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${last}`);
  });
}
