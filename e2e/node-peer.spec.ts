import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, openPeers, test, type PeerSet } from './harness.ts';
import { PEER_PAGE, connectPeer, status, waitFor } from './pages/peer-driver.ts';
import { NodePeer } from '../src/node/node-peer.ts';
import { keyPosition } from '../src/core/hash.ts';
import { ID_SPACE } from '../src/core/id.ts';
import type { Json, PeerId } from '../src/core/types.ts';
import { RangeSet, type Interval } from '../src/replication/ranges.ts';
import { replicaPositions } from '../src/replication/replicas.ts';

/**
 * An always-on Node peer (real WebRTC through @roamhq/wrtc, real files) among browser tabs.
 * The Node peer hosts the signaling server itself (127.0.0.1, free port, stopped with it):
 * it is every tab's first contact. Two tabs leave gracefully and the last one just closes;
 * then each key is readable from the Node peer alone exactly when it holds a majority
 * (3 of r = 4) of the key's replicas, and reported unavailable otherwise (with balanced
 * ids and these departures it holds 3 of most keys; 4 tabs closing at once would leave it
 * 1, and every read unavailable). New tabs then join through it and read everything back;
 * when they close at once, the Node peer keeps at most half of the circle and reports every
 * key it holds no majority of as unavailable.
 *
 * Every wait is on a condition the peers report (ring pointers, authority over their own
 * ranges), polled, never a sleep; on a timeout the message holds what every peer sees.
 * Budgets are generous for a loaded 2-core machine; on a quiet one the test takes about a
 * minute.
 */
const R = 4;
const KEYS = Array.from({ length: 12 }, (_, i) => `k${i}`);
/** console.error the browser prints once the Node peer (its signaling server) is gone at the end. */
const SERVER_GONE = /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/' failed/;
const WAIT_MS = 60_000;

/** One peer's view: ring pointers, links, and the ranges it is responsible for without trusted data. */
interface View {
  label: string;
  id: PeerId;
  ring: string;
  ringSize: number;
  pred: PeerId | null;
  succs: PeerId[];
  connected: PeerId[];
  items: number;
  empty: Interval[];
  stale: Interval[];
  extra: string;
}

async function nodeView(node: NodePeer): Promise<View> {
  const d = node.runtime.driver.snapshot();
  const store = node.runtime.driver.peer.store;
  return { label: 'node', id: d.id, ring: d.ring, ringSize: d.ringSize, pred: d.pred, succs: d.succs, connected: d.connected, items: d.items, empty: store.empty.intervals(), stale: store.stale.intervals(), extra: '' };
}

async function tabView(page: Page): Promise<View> {
  const s = await status(page);
  const p = (await page.evaluate(() => window.peer.protocolStatus())) as { emptyRanges?: Interval[]; staleRanges?: Interval[] } | null;
  return {
    label: 'tab',
    id: s.peerId,
    ring: s.ring,
    ringSize: s.ringSize,
    pred: s.pred,
    succs: s.succs,
    connected: s.connected,
    items: s.items,
    empty: p?.emptyRanges ?? [],
    stale: p?.staleRanges ?? [],
    extra: `webrtc ${JSON.stringify(s.connections.map((c) => [c.peer, c.open ? 'open' : 'opening']))}`,
  };
}

async function views(pages: Page[], node: NodePeer): Promise<View[]> {
  return [await nodeView(node), ...(await Promise.all(pages.map(tabView)))];
}

/** Every peer is in a ring of n and sees its neighbours connected. */
function ringOf(vs: View[], n: number): boolean {
  return vs.every((v) => v.ring === 'in' && v.ringSize === n && v.pred !== null && [v.pred, ...v.succs].every((p) => p === v.id || v.connected.includes(p)));
}

/** Every peer holds its own range (pred, self] with trusted data: replicas answer reads. */
function authoritative(vs: View[]): boolean {
  return vs.every((v) => v.pred !== null && v.pred !== v.id && !new RangeSet(v.empty).intersects(v.pred, v.id) && !new RangeSet(v.stale).intersects(v.pred, v.id));
}

/** A peer's position as a fraction of the circle from `origin` (the Node peer). */
function rel(origin: PeerId, id: PeerId): string {
  return ((((id - origin) % ID_SPACE) + ID_SPACE) % ID_SPACE / ID_SPACE).toFixed(3);
}

function describeViews(vs: View[]): string {
  const o = vs[0]!.id;
  const iv = (xs: Interval[]) => xs.map(([a, b]) => `(${rel(o, a < 0 ? ID_SPACE - 1 : a)},${rel(o, b)}]`).join(' ') || '-';
  return vs
    .map(
      (v) =>
        `  ${v.label} ${v.id} @${rel(o, v.id)}: ${v.ring}, ring size ${v.ringSize}, pred ${v.pred === null ? '-' : rel(o, v.pred)}, succs [${v.succs.map((x) => rel(o, x)).join(' ')}], ` +
        `connected [${v.connected.map((x) => rel(o, x)).join(' ')}], items ${v.items}, empty ${iv(v.empty)}, stale ${iv(v.stale)} ${v.extra}`,
    )
    .join('\n');
}

/** waitFor; on a timeout the message says what every peer sees. */
async function waitOn(what: string | (() => string), pages: Page[], node: NodePeer, check: (vs: View[]) => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  try {
    await waitFor(async () => check(await views(pages, node)), timeoutMs, typeof what === 'string' ? what : 'it');
  } catch {
    const vs = await views(pages, node).catch(() => null);
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}\n${vs ? describeViews(vs) : '(no views)'}`);
  }
}

/**
 * Replicas of `key` that live at the Node peer: positions it is responsible for with trusted
 * data (an entry alone is not enough: a repair that cannot finish still merges what it saw).
 * Only a repair from a majority of the other slots adds to this count, so "3 or more" and
 * "2 or fewer" do not change while the Node peer is alone.
 */
function heldByNode(node: NodePeer, key: string): number {
  const store = node.runtime.driver.peer.store;
  return replicaPositions(keyPosition(key), R).filter((pos) => store.authoritative(pos)).length;
}

async function readFromNode(node: NodePeer, key: string): Promise<{ ok: true; value: Json } | { ok: false; name: string }> {
  try {
    return { ok: true, value: await node.db.read(key) };
  } catch (e) {
    return { ok: false, name: e instanceof Error ? e.name : String(e) };
  }
}

test('3 tabs and a Node peer: the Node peer keeps what it holds a majority of, and new tabs join through it', async ({ server: vite }) => {
  test.setTimeout(300_000); // about 60 s on a quiet machine; the rest is for a loaded one
  const t0 = Date.now();
  const phase = (what: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
  const dir = await mkdtemp(join(tmpdir(), 'tabring-e2e-node-'));
  let node: NodePeer | null = null;
  const sets: PeerSet[] = [];
  try {
    node = await NodePeer.start({ room: 'mixed', data: join(dir, 'node'), listen: { port: 0 }, joinTimeoutMs: WAIT_MS });
    const n = node;
    const signaling = n.hosting!;
    const tabs = await openPeers(vite.url, PEER_PAGE, 3, 1);
    sets.push(tabs);
    const pages = tabs.peers.map((p) => p.page);
    // One after the other: each new tab places itself in the largest gap it is told of, so
    // the four ids are balanced and every key's 4 replicas sit on 4 distinct peers.
    for (const page of pages) await connectPeer(page, { room: 'mixed', signaling, storage: 'memory', joinTimeoutMs: WAIT_MS });
    await waitOn('a ring of 3 tabs and the Node peer, every peer authoritative over its range', pages, n, (vs) => ringOf(vs, 4) && authoritative(vs));
    phase('ring of 4, every range authoritative');

    // Writes through the tabs: the ring is settled, so each succeeds at its first attempt.
    for (const [i, key] of KEYS.entries()) {
      const r = await pages[i % 3]!.evaluate(([k, v]) => window.peer.write(k, v), [key, i] as const);
      if (!r.ok) throw new Error(`write ${key}: ${JSON.stringify(r)}\n${describeViews(await views(pages, n))}`);
    }
    for (const key of KEYS) expect(await readFromNode(n, key)).toEqual({ ok: true, value: KEYS.indexOf(key) });
    phase('written, and read from the Node peer');

    // The tabs go: the Node peer's predecessor and then the next one leave gracefully (their
    // ranges move to the Node peer with their data), the last tab just closes (no handover).
    const byId = new Map<number, Page>();
    for (const page of pages) byId.set((await status(page)).peerId, page);
    for (let left = 0; left < 2; left++) {
      const pred = n.runtime.driver.snapshot().pred!;
      await byId.get(pred)!.evaluate(() => window.peer.leave());
      byId.delete(pred);
      await waitOn(`a ring of ${3 - left} after a leave`, [...byId.values()], n, (vs) => ringOf(vs, 3 - left));
    }
    await tabs.close();
    sets.length = 0;
    await waitOn('the Node peer alone', [], n, (vs) => vs[0]!.ring === 'in' && vs[0]!.ringSize === 1 && vs[0]!.pred === n.id);
    phase('the Node peer alone');

    const held = new Map(KEYS.map((k) => [k, heldByNode(n, k)]));
    const results = await Promise.all(KEYS.map((k) => readFromNode(n, k)));
    const readable: string[] = [];
    for (const [i, key] of KEYS.entries()) {
      if (held.get(key)! > R / 2) {
        expect(results[i], `${key}: the Node peer holds ${held.get(key)} of ${R} replicas`).toEqual({ ok: true, value: i });
        readable.push(key);
      } else expect(results[i], `${key}: the Node peer holds ${held.get(key)} of ${R} replicas`).toEqual({ ok: false, name: 'UnavailableError' });
    }
    expect(readable.length, 'keys readable from the Node peer alone').toBeGreaterThan(0);
    console.log(`Node peer alone: ${readable.length} of ${KEYS.length} keys readable; replicas held per key: ${[...held.values()].join(' ')}`);
    console.log(describeViews(await views([], n)));

    // New tabs (fresh storage) join through the Node peer and read back everything it could
    // read: the Node peer hands them its authoritative ranges with their data.
    const fresh = await openPeers(vite.url, PEER_PAGE, 2, 1);
    sets.push(fresh);
    fresh.log.allow.push(SERVER_GONE);
    const freshPages = fresh.peers.map((p) => p.page);
    for (const page of freshPages) await connectPeer(page, { room: 'mixed', signaling, storage: 'memory', joinTimeoutMs: WAIT_MS });
    await waitOn('a ring of 2 new tabs and the Node peer', freshPages, n, (vs) => ringOf(vs, 3));
    phase('ring of 2 new tabs and the Node peer');
    console.log(describeViews(await views(freshPages, n)));
    for (const page of freshPages) {
      for (const key of readable) {
        const want = KEYS.indexOf(key);
        let last = '';
        // Polled: a handover in flight makes a replica answer "unknown" for a moment.
        await waitOn(() => `${key} read back by a new tab (last answer ${last})`, freshPages, n, async () => {
          const r = await page.evaluate((k) => window.peer.read(k), key);
          last = JSON.stringify(r);
          return r.ok && r.value.found && r.value.value === want;
        });
      }
    }
    phase('read back by the new tabs');
    expect(fresh.log.errors).toEqual([]);

    // Both new tabs close at once (no handover): the Node peer keeps only its own range, at
    // most half of the circle (the first new tab sits opposite it), so it holds at most 2 of
    // any key's 4 replicas: those reads are unavailable, never "not found" or an old value.
    await fresh.close();
    sets.length = 0;
    await waitOn('the Node peer alone again', [], n, (vs) => vs[0]!.ring === 'in' && vs[0]!.ringSize === 1 && vs[0]!.pred === n.id);
    const heldAfter = new Map(KEYS.map((k) => [k, heldByNode(n, k)]));
    const after = await Promise.all(KEYS.map((k) => readFromNode(n, k)));
    for (const [i, key] of KEYS.entries()) {
      const why = `${key} after the new tabs closed: the Node peer holds ${heldAfter.get(key)} of ${R} replicas`;
      if (heldAfter.get(key)! > R / 2) expect(after[i], why).toEqual({ ok: true, value: i });
      else expect(after[i], why).toEqual({ ok: false, name: 'UnavailableError' });
    }
    expect([...heldAfter.values()].filter((h) => h <= R / 2).length, 'keys the Node peer alone holds no majority of').toBeGreaterThan(0);
    phase(`the Node peer alone again: replicas held per key ${[...heldAfter.values()].join(' ')}`);
  } finally {
    for (const s of sets) await s.close();
    await node?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
