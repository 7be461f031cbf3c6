import type { Page } from '@playwright/test';
import type { PeerId } from '../src/core/types.ts';
import { networkSuite } from '../test/network-suite.ts';
import { expect, openPeers, test, type PeerSet } from './harness.ts';
import { MiniRunner } from './pages/mini-runner.ts';
import type { LinkMode, RttResult, SuiteMode } from './pages/transport.ts';

/**
 * The browser transport for real: WebRTC between Chromium contexts (and processes), the
 * connection negotiated on the page by ConnectionManager, the data path in a Worker
 * (ChannelTransport) over a channel moved into it, or relayed through the page.
 * Signals go page -> Playwright -> page; no server. Round trips are printed as JSON, never
 * asserted.
 */
const PAGE = '/e2e/pages/transport.html';

// Registration only collects names; the tests run inside the page's worker.
const listing = new MiniRunner();
networkSuite('ChannelTransport in a real browser', async () => [], listing);

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => 'transport' in window);
}

test.describe('network suite in a real browser worker', () => {
  for (const mode of ['moved', 'relay', 'mixed'] as SuiteMode[]) {
    for (const name of listing.names()) {
      test(`${mode}: ${name}`, async ({ openPage, context }) => {
        await context.grantPermissions(['camera', 'microphone']); // loopback ICE candidates
        const page = await openPage(PAGE);
        await ready(page);
        const result = await page.evaluate(([m, n]) => window.transport.runSuiteTest(m, n), [mode, name] as const);
        expect(result.ok, result.error).toBe(true);
      });
    }
  }
});

// ---- peers as separate browser contexts ----

interface Started {
  set: PeerSet;
  ids: PeerId[];
  call<T>(i: number, cmd: string, args?: Record<string, unknown>): Promise<T>;
  state(i: number): Promise<WorkerState>;
}

interface WorkerState {
  self: PeerId;
  stats: Record<string, number>;
  connected: PeerId[];
  link_downs: Array<{ peer: PeerId; at_ms: number }>;
  now_ms: number;
}

/** Starts one peer per page; Playwright carries each signal to the page it is addressed to. */
async function startPeers(set: PeerSet, modes: LinkMode[]): Promise<Started> {
  const ids = set.peers.map((_, i) => (i % 2 === 0 ? 7 + i : 2 ** 52 - 1 - i)); // small and huge ids
  const pages = new Map(ids.map((id, i) => [id, set.peers[i]!.page]));
  for (const [i, peer] of set.peers.entries()) {
    await ready(peer.page);
    await peer.page.exposeFunction('__tabringSignal', async (to: PeerId, data: unknown) => {
      const target = pages.get(to);
      if (target === undefined || target.isClosed()) return;
      await target.evaluate(([from, d]) => window.transport.signal(from, d), [ids[i]!, data] as const).catch(() => {});
    });
    await peer.page.evaluate((o) => window.transport.start(o), { self: ids[i]!, mode: modes[i]! });
  }
  const call = <T>(i: number, cmd: string, args: Record<string, unknown> = {}): Promise<T> =>
    set.peers[i]!.page.evaluate(([c, a]) => window.transport.call(c, a), [cmd, args] as const) as Promise<T>;
  return { set, ids, call, state: (i) => call<WorkerState>(i, 'state') };
}

async function mesh(s: Started, round: string, count = 200, only?: number[]): Promise<void> {
  const members = only ?? s.ids.map((_, i) => i);
  const peers = members.map((i) => s.ids[i]!);
  await Promise.all(members.map((i) => s.call(i, 'mesh', { peers, count, round, timeout_ms: 20_000 })));
  for (const i of members) {
    const others = peers.filter((p) => p !== s.ids[i]).sort((a, b) => a - b);
    expect((await s.state(i)).connected).toEqual(others);
  }
}

async function rtt(s: Started, from: number, to: number): Promise<RttResult> {
  return s.call<RttResult>(from, 'rtt', { peer: s.ids[to], samples: 500, warmup: 50, bytes: 100 });
}

/** Raw garbage from peer `from` (moved channel) to `to`, which must drop it, count it and keep serving. */
async function garbage(s: Started, from: number, to: number): Promise<Record<string, number>> {
  const before = (await s.state(to)).stats;
  await s.call(from, 'garbage', { peer: s.ids[to], marker: 'after garbage' });
  await s.call(to, 'wait-message', { from: s.ids[from], data: 'after garbage', timeout_ms: 10_000 });
  const after = (await s.state(to)).stats;
  const delta = (k: string) => after[k]! - before[k]!;
  expect(delta('dropped_garbage')).toBe(5); // 2 binary, 3 untagged texts
  expect(delta('dropped_oversized')).toBe(1); // 17 pieces of 16 KiB
  // The empty message and the marker. (The 100-byte 'm' frame after the pieces is the last
  // piece of the oversized message, so it goes with it.)
  expect(delta('messages_received')).toBe(2);
  expect((await s.state(to)).connected).toContain(s.ids[from]);
  return { dropped_garbage: delta('dropped_garbage'), dropped_oversized: delta('dropped_oversized') };
}

/** Waits for peer `at` to report `peer` down; returns how long after `t0` (worker clock) it did. */
/** Malformed and stale signals are dropped and counted, never thrown, and harm no connection. */
async function badSignals(page: Page, from: PeerId, self: PeerId): Promise<Record<string, number>> {
  const counts = await page.evaluate(
    ([from, self]) => {
      const stats = () => window.transport.pageState().stats as Record<string, number>;
      const before = stats();
      const offer = (sdp: unknown) => ({ tr: 1, type: 'signal', src: 'ab12', data: { type: 'offer', sdp } });
      const malformed: Array<[unknown, unknown]> = [
        [from, null],
        [from, 'a string'],
        [from, 42],
        [from, []],
        [from, { tr: 2, type: 'request', src: 'ab12' }],
        [from, { tr: 1, type: 'request', src: 'NOT-HEX' }],
        [from, { tr: 1, type: 'request', src: 'a'.repeat(100) }],
        [from, { tr: 1, type: 'bogus', src: 'ab12' }],
        [from, { tr: 1, type: 'signal', src: 'ab12' }],
        [from, { tr: 1, type: 'signal', src: 'ab12', dst: 7, data: { type: 'answer', sdp: 'v=0' } }],
        [from, offer('')],
        [from, offer(12)],
        [from, offer('x'.repeat(70_000))],
        [from, { tr: 1, type: 'signal', src: 'ab12', data: { type: 'renegotiate', renegotiate: true } }],
        [from, { tr: 1, type: 'signal', src: 'ab12', data: { type: 'candidate', candidate: null } }],
        [from, { tr: 1, type: 'signal', src: 'ab12', data: { type: 'candidate', candidate: { candidate: 1 } } }],
        [from, { tr: 1, type: 'signal', src: 'ab12', data: { type: 'candidate', candidate: { candidate: '', sdpMLineIndex: -1 } } }],
        ['7', { tr: 1, type: 'request', src: 'ab12' }],
        [-1, { tr: 1, type: 'request', src: 'ab12' }],
        [2 ** 52, { tr: 1, type: 'request', src: 'ab12' }],
        [self, { tr: 1, type: 'request', src: 'ab12' }],
      ];
      for (const [f, d] of malformed) window.transport.signal(f, d);
      // Well formed but for an attempt of ours that is not the current one.
      window.transport.signal(from, { tr: 1, type: 'signal', src: 'ab12', dst: 'cd34', data: { type: 'answer', sdp: 'v=0' } });
      const after = stats();
      return {
        sent: malformed.length,
        signals_malformed: after['signals_malformed']! - before['signals_malformed']!,
        signals_stale: after['signals_stale']! - before['signals_stale']!,
      };
    },
    [from, self] as const,
  );
  expect(counts.signals_malformed).toBe(counts.sent);
  expect(counts.signals_stale).toBe(1);
  return counts;
}

async function linkDownSeenWithin(s: Started, at: number, peer: PeerId, timeoutMs: number, t0: number): Promise<number> {
  await expect
    .poll(async () => (await s.state(at)).link_downs.some((d) => d.peer === peer), { timeout: timeoutMs, intervals: [50] })
    .toBe(true);
  const down = (await s.state(at)).link_downs.find((d) => d.peer === peer)!;
  return Math.round(down.at_ms - t0);
}

function report(what: string, data: unknown): void {
  console.log(JSON.stringify({ transport: what, ...(data as object) }));
}

test.describe('peers in separate browser contexts', () => {
  test('two peers, channels moved into the workers: mesh, round trip, garbage, close', async ({ server }) => {
    const set = await openPeers(server.url, PAGE, 2);
    try {
      const s = await startPeers(set, ['moved', 'moved']);
      await mesh(s, 'one');
      for (const p of set.peers) {
        const { connections } = await p.page.evaluate(() => window.transport.pageState());
        expect(connections).toMatchObject([{ open: true, relay: false }]);
      }
      report('rtt moved channel, 2 contexts, one browser', await rtt(s, 0, 1));
      report('bad signals dropped', await badSignals(set.peers[1]!.page, s.ids[0]!, s.ids[1]!));
      await mesh(s, 'after bad signals', 50);
      report('garbage dropped', await garbage(s, 0, 1));
      await mesh(s, 'after garbage', 50);
      // Closing the tab (pagehide closes its connections) reaches the other side at once.
      const t0 = (await s.state(0)).now_ms;
      await set.peers[1]!.page.close({ runBeforeUnload: true });
      report('link down after closing the other tab', { ms: await linkDownSeenWithin(s, 0, s.ids[1]!, 3_000, t0) });
      expect(set.log.errors).toEqual([]);
    } finally {
      await set.close();
    }
  });

  test('two peers relaying through their pages', async ({ server }) => {
    const set = await openPeers(server.url, PAGE, 2);
    try {
      const s = await startPeers(set, ['relay', 'relay']);
      await mesh(s, 'one');
      const { connections } = await set.peers[0]!.page.evaluate(() => window.transport.pageState());
      expect(connections).toMatchObject([{ open: true, relay: true }]);
      report('rtt relay, 2 contexts, one browser', await rtt(s, 0, 1));
      expect(set.log.errors).toEqual([]);
    } finally {
      await set.close();
    }
  });

  test('a moving peer and a relaying peer interoperate; garbage through the relay is dropped', async ({ server }) => {
    const set = await openPeers(server.url, PAGE, 2);
    try {
      const s = await startPeers(set, ['moved', 'relay']);
      await mesh(s, 'one');
      report('rtt moved <-> relay, 2 contexts, one browser', await rtt(s, 0, 1));
      await garbage(s, 0, 1);
      await mesh(s, 'two', 50);
      expect(set.log.errors).toEqual([]);
    } finally {
      await set.close();
    }
  });

  test('four peers: full mesh, one leaves, the rest carry on', async ({ server }) => {
    const set = await openPeers(server.url, PAGE, 4);
    try {
      const s = await startPeers(set, ['moved', 'moved', 'relay', 'moved']);
      await mesh(s, 'one');
      const t0 = await Promise.all([0, 1, 2].map(async (i) => (await s.state(i)).now_ms));
      await set.peers[3]!.page.close({ runBeforeUnload: true });
      for (const i of [0, 1, 2]) await linkDownSeenWithin(s, i, s.ids[3]!, 3_000, t0[i]!);
      await mesh(s, 'two', 100, [0, 1, 2]);
      expect(set.log.errors).toEqual([]);
    } finally {
      await set.close();
    }
  });
});

test.describe('peers in two browser processes', () => {
  test('round trips moved and relayed; a killed browser is detected by heartbeats', async ({ server }) => {
    // Peers 0 and 2 in the first browser, 1 and 3 in the second.
    const set = await openPeers(server.url, PAGE, 4, 2);
    try {
      const s = await startPeers(set, ['moved', 'moved', 'relay', 'relay']);
      await mesh(s, 'one', 100, [0, 1]);
      await mesh(s, 'two', 100, [2, 3]);
      report('rtt moved channel, 2 browser processes', await rtt(s, 0, 1));
      report('rtt relay, 2 browser processes', await rtt(s, 2, 3));
      // A browser that dies runs no pagehide: only the heartbeat silence (5 s) notices.
      const t0 = Date.now();
      const t0Worker = (await s.state(0)).now_ms;
      await set.browsers[1]!.close();
      const ms = await linkDownSeenWithin(s, 0, s.ids[1]!, 20_000, t0Worker);
      const { links_silent } = (await s.state(0)).stats;
      report('link down after the other browser process exits', { ms, wall_ms: Date.now() - t0, by_heartbeat: links_silent === 1 });
      expect(set.log.errors).toEqual([]);
    } finally {
      await set.close();
    }
  });
});
