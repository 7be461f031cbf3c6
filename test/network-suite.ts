/**
 * The one suite every NetworkAdapter must pass (MemoryNetwork in Node, the data-channel
 * transport in a real browser, the Node WebRTC peer).
 *
 * It imports no test framework: the caller injects describe/it (Vitest's work as they
 * are; the browser page brings a tiny runner), and assertions are local functions that
 * throw. So the same file runs under Vitest and inside a browser worker under Playwright.
 */
import type { PeerId } from '../src/core/types.ts';
import { MESSAGE_BYTES_MAX, type NetworkAdapter } from '../src/adapters/network.ts';

export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void>, timeoutMs?: number): void;
}

/**
 * Makes `n` fresh adapters that can reach each other (links may open lazily). The suite
 * never queues more than 100 messages (1 MiB) for a peer before its link is open.
 */
export type MakeMany = (n: number) => Promise<NetworkAdapter[]>;

export interface SuiteOptions {
  /** How long a link-down may take to be reported after the other side closes. */
  link_down_within_ms?: number;
  /** How long ordinary deliveries may take (covers lazy link setup). */
  delivery_within_ms?: number;
  /** A peer id that no adapter uses. */
  unknown_peer?: PeerId;
  /** Per-test timeout given to it(). */
  test_timeout_ms?: number;
}

export function networkSuite(name: string, makeMany: MakeMany, t: TestApi, options: SuiteOptions = {}): void {
  const linkDownMs = options.link_down_within_ms ?? 5_000;
  const deliveryMs = options.delivery_within_ms ?? 15_000;
  const unknownPeer = options.unknown_peer ?? 2 ** 52 - 1;
  const testMs = options.test_timeout_ms ?? 60_000;

  /** Runs `body` with `n` adapters and always closes them. */
  async function withPeers(n: number, body: (peers: NetworkAdapter[]) => Promise<void>): Promise<void> {
    const peers = await makeMany(n);
    check(peers.length === n, `makeMany(${n}) gave ${peers.length} adapters`);
    check(new Set(peers.map((p) => p.self)).size === n, 'adapters must have distinct ids');
    try {
      await body(peers);
    } finally {
      await Promise.all(peers.map((p) => p.close().catch(() => undefined)));
    }
  }

  t.describe(`NetworkAdapter: ${name}`, () => {
    t.it('delivers in order in both directions at once (links open lazily from both ends)', async () => {
      await withPeers(2, async ([a, b]) => {
        // Stays under the 100 messages an adapter must queue while a link opens.
        const count = 100;
        const atA = collect(a);
        const atB = collect(b);
        // Both sides start sending in the same task: a real transport must resolve the glare.
        for (let i = 0; i < count; i++) {
          a.send(b.self, `a${i}`);
          b.send(a.self, `b${i}`);
        }
        await waitFor(() => atA.length >= count && atB.length >= count, deliveryMs, 'both streams');
        equal(atB.map((m) => m.data), range(count).map((i) => `a${i}`), 'a->b order');
        equal(atA.map((m) => m.data), range(count).map((i) => `b${i}`), 'b->a order');
        check(atB.every((m) => m.from === a.self) && atA.every((m) => m.from === b.self), 'from ids');
        await waitFor(
          () => a.connectedPeers().includes(b.self) && b.connectedPeers().includes(a.self),
          deliveryMs,
          'connectedPeers lists the other side',
        );
      });
    }, testMs);

    t.it('has no cross-talk among four peers', async () => {
      await withPeers(4, async (peers) => {
        const per = 50;
        const inboxes = peers.map((p) => collect(p));
        for (let i = 0; i < per; i++) {
          for (const src of peers) {
            for (const dst of peers) if (src !== dst) src.send(dst.self, `${src.self}>${dst.self}#${i}`);
          }
        }
        const expected = per * (peers.length - 1);
        await waitFor(() => inboxes.every((box) => box.length >= expected), deliveryMs, 'all inboxes full');
        await sleep(50); // anything extra would show up now
        peers.forEach((dst, d) => {
          const box = inboxes[d]!;
          equal(box.length, expected, `inbox of ${dst.self}`);
          for (const src of peers) {
            if (src === dst) continue;
            const got = box.filter((m) => m.from === src.self).map((m) => m.data);
            equal(got, range(per).map((i) => `${src.self}>${dst.self}#${i}`), `${src.self} -> ${dst.self}`);
          }
        });
      });
    }, testMs);

    t.it('rejects an oversized send with NetworkError("oversized") and carries the largest message', async () => {
      await withPeers(2, async ([a, b]) => {
        const atB = collect(b);
        const ascii = 'x'.repeat(MESSAGE_BYTES_MAX);
        const euro = '€'.repeat(Math.floor(MESSAGE_BYTES_MAX / 3)); // 3 bytes each
        const emoji = '😀'.repeat(MESSAGE_BYTES_MAX / 4); // 4 bytes, 2 UTF-16 units each
        throwsNetworkError(() => a.send(b.self, ascii + 'y'), 'oversized', 'ASCII one byte over');
        throwsNetworkError(() => a.send(b.self, euro + '€'), 'oversized', '3-byte chars over');
        throwsNetworkError(() => a.send(b.self, emoji + 'z'), 'oversized', '4-byte chars over');
        // A too-large send must not poison the link.
        a.send(b.self, ascii);
        a.send(b.self, euro);
        a.send(b.self, emoji);
        a.send(b.self, 'after');
        await waitFor(() => atB.length >= 4, deliveryMs, 'four large messages');
        check(atB[0]!.data === ascii, 'ASCII of exactly MESSAGE_BYTES_MAX arrives intact');
        check(atB[1]!.data === euro, '3-byte characters arrive intact');
        check(atB[2]!.data === emoji, 'surrogate pairs arrive intact');
        equal(atB[3]!.data, 'after', 'small message after large ones');
      });
    }, testMs);

    t.it('does not throw on a send to an unknown peer, and keeps working', async () => {
      await withPeers(2, async ([a, b]) => {
        const atB = collect(b);
        for (let i = 0; i < 10; i++) a.send(unknownPeer, `lost ${i}`);
        a.send(b.self, 'still here');
        await waitFor(() => atB.length >= 1, deliveryMs, 'message after sends to an unknown peer');
        equal(atB.map((m) => m.data), ['still here'], 'only the real message');
      });
    }, testMs);

    t.it('reports link down when the other side closes; sends to it do not throw', async () => {
      await withPeers(2, async ([a, b]) => {
        const atB = collect(b);
        const downAtA: PeerId[] = [];
        a.onLinkDown((p) => downAtA.push(p));
        a.send(b.self, 'hello');
        await waitFor(() => atB.length === 1, deliveryMs, 'first message');
        await waitFor(() => a.connectedPeers().includes(b.self), deliveryMs, 'link listed as open');
        await b.close();
        await waitFor(() => downAtA.includes(b.self), linkDownMs, 'link-down at a');
        check(!a.connectedPeers().includes(b.self), 'closed peer no longer listed');
        a.send(b.self, 'into the void'); // must not throw
        await sleep(20);
        equal(atB.length, 1, 'nothing delivered to a closed adapter');
      });
    }, testMs);

    t.it('throws NetworkError("closed") on a send from a closed adapter', async () => {
      await withPeers(2, async ([a, b]) => {
        await a.close();
        throwsNetworkError(() => a.send(b.self, 'x'), 'closed', 'send after close');
        equal(a.connectedPeers(), [], 'a closed adapter has no links');
        await a.close(); // closing twice is harmless
      });
    }, testMs);

    t.it('delivers 10,000 messages complete and in order over an open link', async () => {
      await withPeers(2, async ([a, b]) => {
        const count = 10_000;
        const atB = collect(b);
        const pad = '.'.repeat(90);
        // Open the link first: only a bounded number of messages waits for a link to open.
        a.send(b.self, 'warm-up');
        await waitFor(() => atB.length === 1, deliveryMs, 'warm-up message');
        atB.length = 0;
        for (let i = 0; i < count; i++) a.send(b.self, `${i}${pad}`);
        await waitFor(() => atB.length >= count, deliveryMs * 2, `${count} messages`);
        for (let i = 0; i < count; i++) {
          if (atB[i]!.data !== `${i}${pad}`) throw new Error(`message ${i} is ${atB[i]!.data.slice(0, 20)}`);
        }
        await sleep(20);
        equal(atB.length, count, 'no extra messages');
      });
    }, testMs * 2);

    t.it('delivers messages sent to itself, in order', async () => {
      await withPeers(1, async ([a]) => {
        const atA = collect(a);
        for (let i = 0; i < 10; i++) a.send(a.self, `self ${i}`);
        equal(atA.length, 0, 'delivery is never inside send()');
        await waitFor(() => atA.length >= 10, deliveryMs, 'messages to self');
        equal(atA.map((m) => m.data), range(10).map((i) => `self ${i}`), 'self messages');
        check(atA.every((m) => m.from === a.self), 'from is self');
        check(!a.connectedPeers().includes(a.self), 'no link to oneself');
      });
    }, testMs);

    t.it('carries unicode unchanged', async () => {
      await withPeers(2, async ([a, b]) => {
        const samples = [
          '',
          'plain ascii',
          'héllo wörld',
          '日本語のテキスト',
          '😀👩‍👩‍👧‍👦🏳️‍🌈',
          'e\u0301 combining',
          'עברית mixed العربية',
          '\u0000nul\u0000',
          'line\u2028sep\u2029para',
          '\ufeffbom',
          '{"json":"\\u0000","k":[1,2]}',
          '\u{10FFFF}\u{1F600}',
        ];
        const atB = collect(b);
        for (const s of samples) a.send(b.self, s);
        await waitFor(() => atB.length >= samples.length, deliveryMs, 'unicode samples');
        equal(atB.map((m) => m.data), samples, 'unicode samples');
      });
    }, testMs);
  });
}

// ---- helpers (no framework) ----

interface Received {
  from: PeerId;
  data: string;
}

function collect(adapter: NetworkAdapter): Received[] {
  const box: Received[] = [];
  adapter.onMessage((from, data) => box.push({ from, data }));
  return box;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 300)} but got ${a.slice(0, 300)}`);
}

function throwsNetworkError(fn: () => void, code: string, what: string): void {
  try {
    fn();
  } catch (err) {
    // Compare by name, not instanceof: in a browser the suite and adapter may be bundled apart.
    const e = err as { name?: unknown; code?: unknown };
    if (e.name === 'NetworkError' && e.code === code) return;
    throw new Error(`${what}: expected NetworkError(${code}) but got ${String(err)}`);
  }
  throw new Error(`${what}: expected NetworkError(${code}) but nothing was thrown`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}
