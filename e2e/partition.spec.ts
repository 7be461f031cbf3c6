import type { Page } from '@playwright/test';
import { startSignalingServer, type SignalingServer } from '../signaling/server.ts';
import { keyPosition } from '../src/core/hash.ts';
import { replicaPositions } from '../src/replication/replicas.ts';
import { checkLinearizable, checkLostRegisterWrites } from '../src/sim/check/index.ts';
import type { Json } from '../src/core/types.ts';
import { expect, openPeers, test, type PeerSet } from './harness.ts';
import { PEER_PAGE, Recorder, connectPeer, cutPages, healPages, status, waitFor, waitForAuthority, waitForExactRing, waitForRing } from './pages/peer-driver.ts';

/**
 * Network partitions between real tabs (issue 6, item 4). The browser's network cannot be
 * cut from outside, so each tab's transport drops everything to and from the peers of the
 * other side (client.testing.partition, worker/channel-transport.ts): messages and
 * heartbeats vanish, channels stay open until their silence shows, and no new connection
 * can be negotiated across the cut (its signals are dropped, whichever carrier). The
 * signaling server keeps running: after the heal it is how the two rings find each other.
 *
 * Each phase: a ring of 6 tabs (2 browser processes) is cut in two. Keys are chosen so that
 * some have a majority of their 4 replicas on one side, some on the other, some are split
 * 2/2. "Busy" keys are written (one attempt per write) and read from every tab from before
 * the cut until the heal, so operations are in flight at the cut; "fresh" keys are touched
 * only once both sides have found out, to see what each side can do while apart. The cut
 * lasts at least PARTITION_MIN_MS, and until both sides formed their own ring, no
 * connection crosses the cut, every fresh key has been written on its majority side and
 * each side has been told "unavailable" for a key without a majority there (a quorum read
 * that cannot reach a majority gives up after about 6 s).
 * While cut, only the side holding a key's replica majority may read or commit it. After
 * the heal: one ring of 6 again, every tab reads every key, and every tab is authoritative
 * over its range again (the next phase starts from there). The whole history
 * (invocations and completions as this process saw them) must be linearizable per key, no
 * acknowledged write may be lost, and every tab must read the same final values.
 */

const N = 6;
const PROCESSES = 2;
const R = 4;
/** Well beyond the failure detector's timeout (fd_timeout_min_ms 3 s) and the links' silence timeout (5 s). */
const PARTITION_MIN_MS = 9_000;
/** Generous bounds for a loaded 2-core machine; on a quiet one each takes a few seconds. */
const SEPARATE_TIMEOUT_MS = 60_000;
const ONE_RING_TIMEOUT_MS = 90_000;
const FINAL_READS_TIMEOUT_MS = 90_000;

const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Side = 'A' | 'B';
interface PlannedKey {
  key: string;
  /** Peer holding each of the key's R replica slots (before the cut). */
  holders: number[];
  /** The side holding a majority of the slots, or null when split 2/2. */
  majority: Side | null;
  /** busy: traffic from before the cut to the heal; fresh: only once the sides are apart. */
  use: 'busy' | 'fresh';
}
interface Plan {
  /** Tab indexes of each side. */
  a: number[];
  b: number[];
  keys: PlannedKey[];
}

/** The peer responsible for a position: the first id at or after it, clockwise. */
function responsible(pos: number, sorted: number[]): number {
  for (const id of sorted) if (id >= pos) return id;
  return sorted[0]!;
}

function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first <= n - k; first++) for (const rest of combinations(n - first - 1, k - 1)) out.push([first, ...rest.map((x) => x + first + 1)]);
  return out;
}

/**
 * Chooses a split (sizeA tabs on side A; each side spans both browser processes) and keys:
 * for each kind (majority on A, on B, split 2/2) a busy and a fresh key, of distinct replica
 * sets where there are two. The split preferred is the one where the most kinds occur
 * (with uneven ranges a peer may hold two slots of a key, so even 2 tabs can hold a majority).
 */
function plan(ids: number[], sizeA: number, prefix: string): Plan {
  const sorted = [...ids].sort((x, y) => x - y);
  const candidates = Array.from({ length: 400 }, (_, n) => {
    const key = `${prefix}-k${n}`;
    return { key, holders: replicaPositions(keyPosition(key), R).map((p) => responsible(p, sorted)) };
  });
  const processOf = (tab: number) => tab % PROCESSES;
  let best: { score: number; plan: Plan } | null = null;
  for (const a of combinations(N, sizeA)) {
    const b = [...Array(N).keys()].filter((t) => !a.includes(t));
    if (new Set(a.map(processOf)).size < PROCESSES || new Set(b.map(processOf)).size < PROCESSES) continue;
    const idsA = new Set(a.map((t) => ids[t]!));
    const byKind = new Map<string, { majority: Side | null; sets: Map<string, (typeof candidates)[number][]> }>();
    for (const c of candidates) {
      const onA = c.holders.filter((h) => idsA.has(h)).length;
      const majority: Side | null = onA * 2 > R ? 'A' : (R - onA) * 2 > R ? 'B' : null;
      const kind = byKind.get(majority ?? 'split') ?? { majority, sets: new Map() };
      byKind.set(majority ?? 'split', kind);
      const sig = c.holders.join(',');
      kind.sets.set(sig, [...(kind.sets.get(sig) ?? []), c]);
    }
    const keys: PlannedKey[] = [];
    let distinct = 0;
    for (const { majority, sets } of byKind.values()) {
      const groups = [...sets.values()];
      const busy = groups[0]![0]!;
      const fresh = groups.length > 1 ? groups[1]![0]! : groups[0]![1];
      if (groups.length > 1) distinct++;
      keys.push({ ...busy, majority, use: 'busy' });
      if (fresh) keys.push({ ...fresh, majority, use: 'fresh' });
    }
    const score = byKind.size * 100 + distinct;
    if (best === null || score > best.score) best = { score, plan: { a, b, keys } };
  }
  return best!.plan;
}

test.describe.serial('partitions: 6 tabs in 2 browser processes, cut at the transport', () => {
  let server: SignalingServer;
  let set: PeerSet;
  let pages: Page[];
  let ids: number[];

  test.beforeAll(async ({ server: vite }) => {
    test.setTimeout(180_000);
    const t0 = Date.now();
    server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: quiet });
    set = await openPeers(vite.url, PEER_PAGE, N, PROCESSES);
    pages = set.peers.map((p) => p.page);
    const opts = { room: 'partition6', signaling: server.url, storage: 'indexeddb' as const, joinTimeoutMs: 90_000 };
    const first = await connectPeer(pages[0]!, opts);
    const rest = await Promise.all(pages.slice(1).map((p) => connectPeer(p, opts)));
    ids = [first.peerId, ...rest.map((r) => r.peerId)];
    await waitForRing(pages, N, 90_000);
    await waitForExactRing(pages, ids, 60_000, `one ring of ${N}`);
    // Joiners answer "unavailable" for their ranges until the data is handed over.
    await waitForAuthority(pages, 60_000, 'every tab authoritative over its range');
    console.log(`partition: ring of ${N} in ${PROCESSES} browser processes ready in ${Date.now() - t0} ms`);
  });

  test.afterAll(async () => {
    await set?.close();
    await server?.close();
  });

  /** One partition: cut sizeA tabs from the rest, run the workload, heal, check everything. */
  async function partitionPhase(label: string, sizeA: number): Promise<void> {
    const p = plan(ids, sizeA, label);
    const sideOf = (tab: number): Side => (p.a.includes(tab) ? 'A' : 'B');
    const idsA = p.a.map((t) => ids[t]!);
    const idsB = p.b.map((t) => ids[t]!);
    const busy = p.keys.filter((k) => k.use === 'busy').map((k) => k.key);
    const fresh = p.keys.filter((k) => k.use === 'fresh');
    const plannedOf = new Map(p.keys.map((k) => [k.key, k]));
    console.log(`${label}: side A tabs [${p.a}], side B tabs [${p.b}]; keys ${p.keys.map((k) => `${k.key} (${k.use}, majority ${k.majority ?? 'none'})`).join(', ')}`);
    expect(p.keys.some((k) => k.majority !== null), 'some key has a replica majority on one side').toBe(true);

    const h = new Recorder();
    /** Recorder process -> tab (each process runs one operation at a time). */
    const tabOf = new Map<number, number>();
    let nextProcess = 0;
    const processFor = (tab: number) => {
      tabOf.set(nextProcess, tab);
      return nextProcess++;
    };
    const write = (tab: number, proc: number, key: string, value: string, once: boolean) =>
      h.run(proc, 'write', key, value, () => pages[tab]!.evaluate(([k, v, o]) => (o ? window.peer.writeOnce(k, v) : window.peer.write(k, v)), [key, value, once] as const));
    const read = (tab: number, proc: number, key: string) => h.run(proc, 'read', key, null, () => pages[tab]!.evaluate((k) => window.peer.read(k), key));

    // Every key exists before the cut (written through the full ring).
    const init = processFor(0);
    for (const k of p.keys) {
      const r = await write(0, init, k.key, `${label}.init`, false);
      expect(r?.ok, `initial write of ${k.key}: ${JSON.stringify(r)}`).toBe(true);
    }

    let stop = false;
    let apart = false;
    // Busy keys: in every tab a writer (one attempt per write, unique values) and a reader,
    // from before the cut until the heal.
    const busyLoops = pages.flatMap((_, i) => {
      const [w, r] = [processFor(i), processFor(i)];
      return [
        (async () => {
          for (let n = 0; !stop; n++) await write(i, w, busy[(i + n) % busy.length]!, `${label}.${i}.${n}`, true);
        })(),
        (async () => {
          for (let n = 0; !stop; n++) await read(i, r, busy[(i + 2 * n + 1) % busy.length]!);
        })(),
      ];
    });
    // Fresh keys: once the sides are apart, every tab writes and reads each of them.
    const freshLoops = pages.flatMap((_, i) =>
      fresh.map(async (k) => {
        const proc = processFor(i);
        while (!apart && !stop) await sleep(50);
        for (let n = 0; !stop; n++) {
          if (n % 2 === 0) await write(i, proc, k.key, `${label}.${i}.fresh.${n}`, true);
          else await read(i, proc, k.key);
        }
      }),
    );
    await sleep(1_000); // some traffic in flight when the cut comes

    // The cut: each tab drops the other side (symmetric: set on both ends).
    const dropsBefore = await dropped();
    const tCut = Date.now();
    await cutPages(pages, pages.map((_, i) => (sideOf(i) === 'A' ? idsB : idsA)));
    const cutDone = h.now();
    let apartAt: number | null = null;
    let healAt: number | null = null;
    const printOps = () => {
      const at = (ms: number | null) => (ms === null ? 'never' : `${Math.round(ms - cutDone)}`);
      for (const o of h.ops) {
        const res = o.result === null ? 'none' : o.result.ok ? JSON.stringify(o.result.value) : `${o.result.name}: ${o.result.message.slice(0, 80)}`;
        console.log(`  tab ${tabOf.get(o.process)} (${o.process}) ${o.kind} ${o.key} ${JSON.stringify(o.args)} ${at(o.invokeMs)} .. ${at(o.completeMs)} ms after the cut (apart ${at(apartAt)}, heal ${at(healAt)}): ${o.status} ${res}`);
      }
    };
    /** On a failure: every operation, what every tab sees, and each key's replicas as seen from each side. */
    const diagnose = async (e: unknown): Promise<never> => {
      printOps();
      for (const [i, page] of pages.entries()) console.log(`  tab ${i} (side ${sideOf(i)}) status: ${JSON.stringify(await page.evaluate(() => window.peer.protocolStatus()).catch((x: Error) => x.message))}`);
      for (const k of p.keys) {
        for (const side of [p.a[0]!, p.b[0]!]) {
          console.log(`  replicas of ${k.key} (majority ${k.majority}) from tab ${side}: ${JSON.stringify(await pages[side]!.evaluate((key) => window.peer.replicas(key), k.key).catch((x: Error) => x.message))}`);
        }
      }
      throw e;
    };
    // Both sides must find out by silence: each forms its own ring, and no link crosses the cut.
    await waitForExactRing(p.a.map((t) => pages[t]!), idsA, SEPARATE_TIMEOUT_MS, `side A (${idsA}) to form its own ring`).catch(diagnose);
    await waitForExactRing(p.b.map((t) => pages[t]!), idsB, SEPARATE_TIMEOUT_MS, `side B (${idsB}) to form its own ring`).catch(diagnose);
    await waitFor(async () => (await crossLinks(p)).length === 0, SEPARATE_TIMEOUT_MS, 'no connection across the cut').catch(diagnose);
    const separatedMs = Date.now() - tCut;
    const stages: string[] = [];
    const stage = (what: string) => stages.push(`${what} ${Date.now() - tCut}`);
    apart = true;
    apartAt = h.now();
    // Each side can work on what it holds a majority of: a fresh key is written there.
    const committedApart = (k: PlannedKey) =>
      h.ops.some((o) => o.key === k.key && o.kind === 'write' && o.status === 'ok' && o.invokeMs >= apartAt! && sideOf(tabOf.get(o.process)!) === k.majority);
    await waitFor(async () => fresh.every((k) => k.majority === null || committedApart(k)), SEPARATE_TIMEOUT_MS, 'a write of every fresh key on its majority side').catch(diagnose);
    // ... and cannot work on what it does not: each side is told "unavailable" for a key
    // without a replica majority there, before the heal. (That nothing of the kind succeeds
    // anywhere is checked after the heal.)
    const refusedWhileCut = (side: Side) =>
      h.ops.some(
        (o) => sideOf(tabOf.get(o.process)!) === side && o.result?.ok === false && o.result.name === 'UnavailableError' && o.completeMs! >= cutDone && plannedOf.get(o.key)!.majority !== side,
      );
    const hasMinorityKeys = (side: Side) => p.keys.some((k) => k.majority !== side);
    stage('fresh keys written');
    await waitFor(async () => (['A', 'B'] as const).every((side) => !hasMinorityKeys(side) || refusedWhileCut(side)), SEPARATE_TIMEOUT_MS, 'each side refused for a key without a majority there').catch(diagnose);
    stage('both refused');
    if (Date.now() - tCut < PARTITION_MIN_MS) await sleep(PARTITION_MIN_MS - (Date.now() - tCut));
    // Still apart at the end: no connection was negotiated across the cut meanwhile.
    expect(await crossLinks(p), 'connections across the cut').toEqual([]);
    stage('no cross links');
    expect((await dropped()) - dropsBefore, 'frames dropped by the cut').toBeGreaterThan(0);
    stage('drops counted');

    stop = true;
    healAt = h.now();
    const tHeal = Date.now();
    await healPages(pages);
    await waitForExactRing(pages, ids, ONE_RING_TIMEOUT_MS, `one ring of ${N} after the heal`).catch(diagnose);
    const oneRingMs = Date.now() - tHeal;
    await Promise.all([...busyLoops, ...freshLoops]);

    // While cut, only the side holding a key's replica majority could read or commit it.
    const duringCut = h.ops.filter((o) => o.invokeMs >= cutDone && o.completeMs !== null && o.completeMs < healAt);
    const wrongSide = duringCut.filter((o) => o.status === 'ok' && plannedOf.get(o.key)!.majority !== sideOf(tabOf.get(o.process)!));
    expect(wrongSide, 'operations that succeeded without a replica majority on their side').toEqual([]);
    const summary = (side: Side, kind: 'write' | 'read') => {
      const ops = duringCut.filter((o) => o.kind === kind && sideOf(tabOf.get(o.process)!) === side);
      return `${ops.filter((o) => o.status === 'ok').length} ok/${ops.filter((o) => o.status === 'fail').length} failed`;
    };

    // Every tab reads every key (unavailable while replicas are repaired; nothing else),
    // twice: the second round, after every operation has finished, must agree everywhere.
    const finals: Array<Record<string, Json | null>> = pages.map(() => ({}));
    const readsEnd = Date.now() + FINAL_READS_TIMEOUT_MS;
    for (let round = 0; round < 2; round++) {
      await Promise.all(
        pages.map(async (_, i) => {
          const proc = processFor(i);
          for (const { key } of p.keys) {
            for (;;) {
              const r = await read(i, proc, key);
              if (r?.ok) {
                finals[i]![key] = r.value.found ? r.value.value : null;
                break;
              }
              expect(r?.ok === false && r.name, `final read of ${key} in tab ${i}: ${JSON.stringify(r)}`).toBe('UnavailableError');
              if (Date.now() > readsEnd) throw new Error(`${key} still unavailable in tab ${i} ${FINAL_READS_TIMEOUT_MS} ms after the heal`);
              await sleep(200);
            }
          }
        }),
      );
    }
    const readableMs = Date.now() - tHeal;
    await waitForAuthority(pages, FINAL_READS_TIMEOUT_MS, 'every tab authoritative over its range after the heal');
    const repairedMs = Date.now() - tHeal;

    if (process.env.TABRING_E2E_DEBUG) printOps();
    for (const [i, f] of finals.entries()) expect(f, `final values in tab ${i}`).toEqual(finals[0]);
    const history = h.registerOps();
    const lin = checkLinearizable(history);
    expect(lin, lin.explanation).toMatchObject({ ok: true });
    const lost = checkLostRegisterWrites(history, finals[0]!);
    expect(lost.anomalies).toEqual([]);
    expect(set.log.errors).toEqual([]);
    console.log(
      `${label}: apart ${separatedMs} ms after the cut (then ${stages.join(', ')}), cut for ${tHeal - tCut} ms; while cut, side A writes ${summary('A', 'write')}, reads ${summary('A', 'read')}; ` +
        `side B writes ${summary('B', 'write')}, reads ${summary('B', 'read')}; ${h.ops.filter((o) => o.status === 'unknown').length} outcomes unknown; ` +
        `heal to one ring ${oneRingMs} ms, to every key read everywhere ${readableMs} ms, to every range authoritative ${repairedMs} ms; ${history.length} operations checked`,
    );
  }

  /** Open links (transport) or open connections (page) from a tab to a peer on the other side. */
  async function crossLinks(p: Plan): Promise<string[]> {
    const out: string[] = [];
    for (const [i, page] of pages.entries()) {
      const other = new Set((p.a.includes(i) ? p.b : p.a).map((t) => ids[t]!));
      const s = await status(page);
      for (const c of s.connected) if (other.has(c)) out.push(`tab ${i} link to ${c}`);
      for (const c of s.connections) if (c.open && other.has(c.peer)) out.push(`tab ${i} connection to ${c.peer}`);
    }
    return out;
  }

  /** Frames dropped by the test partition, over every tab. */
  async function dropped(): Promise<number> {
    const all = await Promise.all(pages.map(status));
    return all.reduce((n, s) => n + (s.transport?.dropped_partition_in ?? 0) + (s.transport?.dropped_partition_out ?? 0), 0);
  }

  test('a 3/3 split: only majority sides commit; after the heal one ring, nothing lost, histories linearizable', async () => {
    test.setTimeout(240_000);
    await partitionPhase('split33', 3);
  });

  test('a 4/2 split: only majority sides commit; after the heal one ring, nothing lost, histories linearizable', async () => {
    test.setTimeout(240_000);
    await partitionPhase('split42', 4);
  });
});
