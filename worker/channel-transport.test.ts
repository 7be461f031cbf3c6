/**
 * The test-only partition switch of ChannelTransport, over fake data channels (the
 * transport itself is tested in real browsers: e2e/transport.spec.ts, e2e/partition.spec.ts).
 */
import { describe, expect, it } from 'vitest';
import { ChannelTransport, FRAME_CHARS_MAX, type PagePort, type WorkerToPage } from './channel-transport.ts';

class FakeChannel {
  readyState: RTCDataChannelState = 'open';
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onbufferedamountlow: (() => void) | null = null;
  other: FakeChannel | null = null;
  /** Frames put on the wire by this end. */
  readonly sent: string[] = [];

  send(data: string): void {
    this.sent.push(data);
    const to = this.other;
    setTimeout(() => to?.readyState === 'open' && to.onmessage?.({ data }), 0);
  }

  close(): void {
    if (this.readyState === 'closed') return;
    this.readyState = 'closed';
    const to = this.other;
    setTimeout(() => to && to.readyState !== 'closed' && ((to.readyState = 'closed'), to.onclose?.()), 0);
  }
}

class FakePort implements PagePort {
  readonly posted: WorkerToPage[] = [];
  postMessage(message: WorkerToPage): void {
    this.posted.push(message);
  }
  addEventListener(): void {}
  removeEventListener(): void {}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

function pair(options: { heartbeat_interval_ms?: number; link_silence_timeout_ms?: number; coalesce_wait_max_ms?: number } = {}) {
  const A = 10;
  const B = 20;
  const ports = { a: new FakePort(), b: new FakePort() };
  const a = new ChannelTransport({ self: A, port: ports.a, heartbeat_interval_ms: 0, ...options });
  const b = new ChannelTransport({ self: B, port: ports.b, heartbeat_interval_ms: 0, ...options });
  const ca = new FakeChannel();
  const cb = new FakeChannel();
  ca.other = cb;
  cb.other = ca;
  a.addChannel(B, ca as unknown as RTCDataChannel, 1);
  b.addChannel(A, cb as unknown as RTCDataChannel, 1);
  const got = { a: [] as string[], b: [] as string[] };
  const down = { a: [] as number[], b: [] as number[] };
  a.onMessage((_, d) => got.a.push(d));
  b.onMessage((_, d) => got.b.push(d));
  a.onLinkDown((p) => down.a.push(p));
  b.onLinkDown((p) => down.b.push(p));
  return { A, B, a, b, ca, cb, got, down, ports };
}

describe('ChannelTransport partition switch (test-only)', () => {
  it('drops messages both ways without closing the channel, and heals', async () => {
    const t = pair();
    t.a.send(t.B, 'before');
    await until(() => t.got.b.length === 1);
    t.a.setPartition({ in: [t.B], out: [t.B] });
    t.b.setPartition({ in: [t.A], out: [t.A] });
    t.a.send(t.B, 'lost a->b');
    t.b.send(t.A, 'lost b->a');
    await sleep(20);
    expect(t.got).toEqual({ a: [], b: ['before'] });
    expect(t.ca.readyState).toBe('open');
    expect(t.a.connectedPeers()).toEqual([t.B]);
    expect(t.a.stats().dropped_partition_out).toBe(1);
    expect(t.a.heal()).toEqual({ in: [], out: [] });
    t.b.heal();
    t.a.send(t.B, 'after');
    t.b.send(t.A, 'after too');
    await until(() => t.got.b.length === 2 && t.got.a.length === 1);
    expect(t.got).toEqual({ a: ['after too'], b: ['before', 'after'] });
  });

  it('a one-way cut drops only that direction, at the receiver', async () => {
    const t = pair();
    t.b.setPartition({ in: [t.A], out: [] });
    t.a.send(t.B, 'lost');
    t.b.send(t.A, 'arrives');
    await until(() => t.got.a.length === 1);
    await sleep(20);
    expect(t.got.b).toEqual([]);
    expect(t.ca.sent).toEqual(['mlost']); // it left a: the receiver's transport dropped it
    expect(t.b.stats().dropped_partition_in).toBe(1);
    expect(t.b.allowsSignal(t.A, 'in')).toBe(false);
    expect(t.b.allowsSignal(t.A, 'out')).toBe(true);
  });

  it('heartbeats are dropped too: both links fall silent and go down, as in a real cut', async () => {
    const t = pair({ heartbeat_interval_ms: 20, link_silence_timeout_ms: 150 });
    t.a.send(t.B, 'x');
    await sleep(100); // heartbeats keep an idle link alive
    expect(t.down).toEqual({ a: [], b: [] });
    t.a.setPartition({ in: [t.B], out: [t.B] });
    t.b.setPartition({ in: [t.A], out: [t.A] });
    const sentBefore = t.ca.sent.length;
    await until(() => t.down.a.length === 1 && t.down.b.length === 1, 3_000);
    expect(t.ca.sent.length).toBe(sentBefore); // not even a heartbeat left
    expect(t.a.stats().links_silent + t.b.stats().links_silent).toBeGreaterThanOrEqual(1);
    await t.a.close();
    await t.b.close();
  });

  it('no new connection is requested to an out-cut peer; after the heal one is', async () => {
    const port = new FakePort();
    const a = new ChannelTransport({ self: 1, port, heartbeat_interval_ms: 0 });
    a.setPartition({ in: [], out: [2] });
    a.send(2, 'lost');
    expect(port.posted).toEqual([]);
    expect(a.stats().dropped_partition_messages).toBe(1);
    a.heal();
    a.send(2, 'queued');
    expect(port.posted).toEqual([{ kind: 'connect', peer: 2 }]);
    await a.close();
  });

  it('heal drops a link that never opened (its negotiation lost its signals)', async () => {
    const port = new FakePort();
    const a = new ChannelTransport({ self: 1, port, heartbeat_interval_ms: 0 });
    const downs: number[] = [];
    a.onLinkDown((p) => downs.push(p));
    a.setPartition({ in: [2], out: [] }); // one-way: connecting is allowed, its signals from 2 are not
    a.send(2, 'waits');
    expect(port.posted).toEqual([{ kind: 'connect', peer: 2 }]);
    a.heal();
    expect(downs).toEqual([2]);
    expect(port.posted.at(-1)).toMatchObject({ kind: 'disconnect', peer: 2 });
    await a.close();
  });

  it('a message in pieces is dropped whole, even when the cut heals between its pieces', async () => {
    const t = pair();
    const big = 'y'.repeat(FRAME_CHARS_MAX * 2 + 10); // three frames: f, f, m
    t.b.setPartition({ in: [t.A], out: [] });
    // Deliver the frames by hand, healing after the first piece.
    const frames: string[] = [];
    t.ca.other = null;
    t.a.send(t.B, big);
    frames.push(...t.ca.sent);
    expect(frames.map((f) => f[0])).toEqual(['f', 'f', 'm']);
    t.cb.onmessage!({ data: frames[0] });
    t.b.heal();
    t.cb.onmessage!({ data: frames[1] });
    t.cb.onmessage!({ data: frames[2] });
    t.cb.onmessage!({ data: 'mnext' });
    expect(t.got.b).toEqual(['next']);
  });
});

describe('ChannelTransport coalescing while a channel is busy', () => {
  it('messages sent while the channel holds unsent data leave together, in order, once it drains', async () => {
    const t = pair();
    t.a.send(t.B, 'first'); // idle channel: at once
    expect(t.ca.sent).toEqual(['mfirst']);
    t.ca.bufferedAmount = 100; // the browser has not handed 'first' to SCTP yet
    t.a.send(t.B, '{"n":2}');
    t.a.send(t.B, '{"n":3}');
    expect(t.ca.sent).toEqual(['mfirst']);
    t.ca.bufferedAmount = 0;
    t.ca.onbufferedamountlow!();
    expect(t.ca.sent).toEqual(['mfirst', 'b{"n":2}\u0000{"n":3}']);
    await until(() => t.got.b.length === 3);
    expect(t.got.b).toEqual(['first', '{"n":2}', '{"n":3}']);
    expect(t.a.stats().batches_sent).toBe(1);
  });

  it('pieces of a large message and messages holding U+0000 are never joined; order is kept', async () => {
    const t = pair();
    t.ca.bufferedAmount = 1;
    const big = 'z'.repeat(FRAME_CHARS_MAX + 5);
    for (const m of ['a', 'b', big, 'c', 'has\u0000nul', 'd', 'e']) t.a.send(t.B, m);
    t.ca.bufferedAmount = 0;
    t.ca.onbufferedamountlow!();
    expect(t.ca.sent.map((f) => f[0])).toEqual(['b', 'f', 'm', 'm', 'm', 'b']); // [a,b] big c nul [d,e]
    await until(() => t.got.b.length === 7);
    expect(t.got.b).toEqual(['a', 'b', big, 'c', 'has\u0000nul', 'd', 'e']);
  });

  it('a channel that never reports being drained is drained by the fallback timer', async () => {
    const t = pair({ coalesce_wait_max_ms: 10 });
    t.ca.bufferedAmount = 1;
    t.a.send(t.B, 'x');
    t.a.send(t.B, 'y');
    expect(t.ca.sent).toEqual([]);
    await until(() => t.got.b.length === 2);
    expect(t.got.b).toEqual(['x', 'y']);
  });

  it('without a bufferedamountlow event (the Node binding) a busy channel sends at once', async () => {
    class NoEventChannel extends FakeChannel {}
    delete (NoEventChannel.prototype as { onbufferedamountlow?: unknown }).onbufferedamountlow;
    const port = new FakePort();
    const a = new ChannelTransport({ self: 1, port, heartbeat_interval_ms: 0 });
    const ch = new NoEventChannel();
    delete (ch as { onbufferedamountlow?: unknown }).onbufferedamountlow;
    a.addChannel(2, ch as unknown as RTCDataChannel, 1);
    ch.bufferedAmount = 1000;
    a.send(2, 'now');
    expect(ch.sent).toEqual(['mnow']);
    await a.close();
  });

  it('garbage in a batch is dropped and counted; the rest is delivered', async () => {
    const t = pair();
    t.cb.onmessage!({ data: 'b{"ok":1}\u0000\u0000{"ok":2}' });
    expect(t.got.b).toEqual(['{"ok":1}', '{"ok":2}']);
    expect(t.b.stats().dropped_garbage).toBe(1);
  });
});
