import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from './protocol.ts';
import { cleanup, eventually, sleep, testServer, TestSocket } from './testing.ts';

afterEach(cleanup);

/** After any abuse, an unrelated well-behaved client must still be served end to end. */
async function expectServes(url: string, room = 'healthy'): Promise<void> {
  const a = await TestSocket.open(url);
  const b = await TestSocket.open(url);
  expect(await a.join(room, 101)).toEqual({ type: 'joined', peers: [] });
  expect(await b.join(room, 102)).toEqual({ type: 'joined', peers: [101] });
  b.send({ type: 'signal', to: 101, data: { ok: true } });
  expect(await a.next()).toEqual({ type: 'signal', from: 102, data: { ok: true } });
  a.close();
  b.close();
}

describe('signaling server: normal operation', () => {
  it('joins, lists peers and relays signals both ways', async () => {
    const server = await testServer();
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}`);
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    expect(await a.join('app', 1)).toEqual({ type: 'joined', peers: [] });
    expect(await b.join('app', 2)).toEqual({ type: 'joined', peers: [1] });
    a.send({ type: 'peers' });
    expect(await a.next()).toEqual({ type: 'peers', peers: [2] });

    const offer = { type: 'offer', sdp: 'v=0\r\n…ünïcödé' };
    b.send({ type: 'signal', to: 1, data: offer });
    expect(await a.next()).toEqual({ type: 'signal', from: 2, data: offer });
    a.send({ type: 'signal', to: 2, data: null });
    expect(await b.next()).toEqual({ type: 'signal', from: 1, data: null });

    a.send({ type: 'ping' });
    expect(await a.next()).toEqual({ type: 'pong' });
    expect(server.stats()).toMatchObject({ connections: 2, rooms: 1, peers: 2, relayed: 2 });
    expect(server.events.filter((e) => e.event === 'join')).toHaveLength(2);
  });

  it('returns at most peers_returned_max peers, most recently seen first', async () => {
    const server = await testServer();
    const sockets: TestSocket[] = [];
    for (let id = 1; id <= 10; id++) {
      const s = await TestSocket.open(server.url);
      await s.join('big', id);
      sockets.push(s);
    }
    // Peer 3 speaks (a ping counts): it becomes the most recently seen.
    sockets[2].send({ type: 'ping' });
    expect(await sockets[2].next()).toEqual({ type: 'pong' });
    const late = await TestSocket.open(server.url);
    expect(await late.join('big', 11)).toEqual({ type: 'joined', peers: [3, 10, 9, 8, 7, 6, 5, 4] });
  });

  it('keeps rooms isolated', async () => {
    const server = await testServer();
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    const c = await TestSocket.open(server.url);
    await a.join('room-a', 1);
    expect(await b.join('room-b', 2)).toEqual({ type: 'joined', peers: [] });
    // The same id in another room is another peer.
    expect(await c.join('room-b', 1)).toEqual({ type: 'joined', peers: [2] });
    b.send({ type: 'signal', to: 1, data: 'hi' });
    expect(await c.next()).toEqual({ type: 'signal', from: 2, data: 'hi' });
    await sleep(50);
    expect(a.pending()).toBe(0);
    c.close();
    await eventually(() => server.stats().peers === 2);
    b.send({ type: 'signal', to: 1, data: 'hi' });
    expect(await b.next()).toMatchObject({ type: 'error', code: 'unknown-peer', re: 'signal', peer: 1 });
    expect(server.stats().rooms).toBe(2);
  });

  it('re-joining identically is idempotent; joining as someone else is refused', async () => {
    const server = await testServer();
    const a = await TestSocket.open(server.url);
    await a.join('r', 1);
    expect(await a.join('r', 1)).toEqual({ type: 'joined', peers: [] });
    expect(await a.join('r', 2)).toMatchObject({ type: 'error', code: 'already-joined', re: 'join' });
    expect(await a.join('other', 1)).toMatchObject({ type: 'error', code: 'already-joined' });
    expect(server.stats().peers).toBe(1);
  });

  it('removes a peer that disconnects', async () => {
    const server = await testServer();
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    await a.join('r', 1);
    await b.join('r', 2);
    a.close();
    await eventually(() => server.stats().peers === 1, 2000, 'peer removed');
    b.send({ type: 'peers' });
    expect(await b.next()).toEqual({ type: 'peers', peers: [] });
    b.send({ type: 'signal', to: 1, data: {} });
    expect(await b.next()).toMatchObject({ type: 'error', code: 'unknown-peer', peer: 1 });
    b.close();
    await eventually(() => server.stats().rooms === 0, 2000, 'empty room dropped');
    expect(server.events.some((e) => e.event === 'leave' && e.fields.peer === 1)).toBe(true);
  });

  it('answers plain HTTP with 426', async () => {
    const server = await testServer();
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`http://127.0.0.1:${server.port}/`, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(426);
  });

  it('close() sends 1001 to every client and resolves promptly', async () => {
    const server = await testServer();
    const a = await TestSocket.open(server.url);
    await a.join('r', 1);
    const started = Date.now();
    await server.close();
    expect(await a.closed).toMatchObject({ code: CloseCode.goingAway });
    expect(Date.now() - started).toBeLessThan(1500);
    await expect(TestSocket.open(server.url)).rejects.toThrow();
  });
});

describe('signaling server: bad input', () => {
  it('answers invalid JSON and wrong shapes with errors and keeps serving', async () => {
    const server = await testServer();
    const s = await TestSocket.open(server.url);
    s.sendRaw('{not json');
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid-json' });
    const bad: unknown[] = [
      [1, 2],
      'join',
      null,
      {},
      { type: 42 },
      { type: 'explode' },
      { type: 'join', room: '', peerId: 1 },
      { type: 'join', room: 'x'.repeat(65), peerId: 1 },
      { type: 'join', room: 'has space', peerId: 1 },
      { type: 'join', room: 'r', peerId: -1 },
      { type: 'join', room: 'r', peerId: 1.5 },
      { type: 'join', room: 'r', peerId: 2 ** 52 },
      { type: 'join', room: 'r', peerId: '1' },
      { type: 'join', room: 'r' },
      { type: 'signal', to: 1 },
      { type: 'signal', to: 'x', data: 1 },
    ];
    for (const message of bad) {
      s.send(message);
      const reply = await s.next();
      expect(reply, JSON.stringify(message)).toMatchObject({ type: 'error', code: 'invalid-message' });
    }
    s.sendRaw('[' .repeat(100) + ']'.repeat(100));
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid-message' });
    s.sendRaw(Buffer.from('{"type":"ping"}'), true);
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid-message', message: expect.stringMatching(/binary/) });
    // Deeply nested signal data would overflow JSON.stringify when relayed.
    s.sendRaw(`{"type":"signal","to":1,"data":${'['.repeat(5000)}${']'.repeat(5000)}}`);
    expect(await s.next()).toMatchObject({ type: 'error', code: 'invalid-message' });

    // Signal and peers need a join first.
    s.send({ type: 'signal', to: 1, data: {} });
    expect(await s.next()).toMatchObject({ type: 'error', code: 'not-joined', re: 'signal' });
    s.send({ type: 'peers' });
    expect(await s.next()).toMatchObject({ type: 'error', code: 'not-joined', re: 'peers' });

    // The same socket is still usable, and so is the server.
    expect(await s.join('r', 5)).toEqual({ type: 'joined', peers: [] });
    expect(s.isClosed).toBe(false);
    await expectServes(server.url);
    expect(server.stats().errors['invalid-message']).toBeGreaterThanOrEqual(bad.length);
  });

  it('refuses oversized messages and signal data, and closes on frames above maxPayload', async () => {
    const server = await testServer();
    const s = await TestSocket.open(server.url);
    await s.join('r', 1);
    const other = await TestSocket.open(server.url);
    await other.join('r', 2);

    // Above message_bytes_max (64 KiB) but below maxPayload: refused, socket kept.
    s.send({ type: 'signal', to: 2, data: 'x'.repeat(100 * 1024) });
    expect(await s.next()).toMatchObject({ type: 'error', code: 'oversized' });
    // Multi-byte characters count as bytes, not characters: 30 000 'é' = 60 000 bytes of
    // data, below the frame limit but above signal_data_bytes_max (16 KiB).
    s.send({ type: 'signal', to: 2, data: 'é'.repeat(30_000) });
    expect(await s.next()).toMatchObject({ type: 'error', code: 'oversized' });
    // Exactly at the data limit is fine (16 KiB of JSON = the string plus its two quotes).
    const atLimit = 'y'.repeat(16 * 1024 - 2);
    s.send({ type: 'signal', to: 2, data: atLimit });
    expect(await other.next()).toEqual({ type: 'signal', from: 1, data: atLimit });
    expect(s.isClosed).toBe(false);

    // Above frame_bytes_max (256 KiB): ws refuses it while receiving and closes with 1009.
    s.sendRaw('z'.repeat(300 * 1024));
    expect(await s.closed).toMatchObject({ code: CloseCode.tooBig });
    await eventually(() => server.stats().peers === 1, 2000, 'oversized sender removed');
    expect(server.stats().closedForAbuse).toBe(1);
    await expectServes(server.url);
  });

  it('rate-limits a flooding socket, then closes it with 1008', async () => {
    const server = await testServer();
    const flooder = await TestSocket.open(server.url);
    const bystander = await TestSocket.open(server.url);
    await bystander.join('r', 2);
    for (let i = 0; i < 500; i++) flooder.send({ type: 'ping' });
    const closed = await flooder.closed;
    expect(closed).toEqual({ code: CloseCode.policy, reason: 'rate limit exceeded' });
    // Drain what arrived before the close: the burst was served, then refusals.
    const frames = [];
    while (flooder.pending() > 0) frames.push(await flooder.next());
    const pongs = frames.filter((f) => f.type === 'pong').length;
    const limited = frames.filter((f) => f.type === 'error' && f.code === 'rate-limited').length;
    expect(pongs).toBeGreaterThanOrEqual(server.limits.messages_burst_max);
    expect(pongs).toBeLessThan(server.limits.messages_burst_max + 10);
    expect(limited).toBe(server.limits.rate_violations_max);
    expect(server.stats().closedForAbuse).toBe(1);
    // One log line per episode (a refill mid-flood may start a second) and one for the
    // close, not one per refused frame.
    const episodes = server.events.filter((e) => e.event === 'rate-limited').length;
    expect(episodes).toBeGreaterThanOrEqual(1);
    expect(episodes).toBeLessThanOrEqual(3);
    expect(server.events.filter((e) => e.event === 'flood-close')).toHaveLength(1);
    // The bystander was not affected.
    bystander.send({ type: 'peers' });
    expect(await bystander.next()).toEqual({ type: 'peers', peers: [] });
    await expectServes(server.url);
  });

  it('a rate-limited socket that slows down is served again', async () => {
    const server = await testServer({ limits: { messages_burst_max: 5, messages_per_second_max: 50, rate_violations_max: 100 } });
    const s = await TestSocket.open(server.url);
    for (let i = 0; i < 8; i++) s.send({ type: 'ping' });
    const frames = [];
    for (let i = 0; i < 8; i++) frames.push(await s.next());
    expect(frames.filter((f) => f.type === 'error' && f.code === 'rate-limited').length).toBeGreaterThanOrEqual(2);
    await sleep(150); // refills about 7 tokens
    s.send({ type: 'ping' });
    expect(await s.next()).toEqual({ type: 'pong' });
    expect(s.isClosed).toBe(false);
  });

  it('refuses a join to a full room, and admits again once someone leaves', async () => {
    const server = await testServer({ limits: { room_peers_max: 2 } });
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    const c = await TestSocket.open(server.url);
    await a.join('r', 1);
    await b.join('r', 2);
    expect(await c.join('r', 3)).toMatchObject({ type: 'error', code: 'room-full', re: 'join' });
    a.close();
    await eventually(() => server.stats().peers === 1);
    expect(await c.join('r', 3)).toEqual({ type: 'joined', peers: [2] });
    await expectServes(server.url);
  });

  it('refuses new rooms past rooms_max and sockets past connections_max', async () => {
    const server = await testServer({ limits: { rooms_max: 1, connections_max: 2 } });
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    await a.join('one', 1);
    expect(await b.join('two', 2)).toMatchObject({ type: 'error', code: 'server-full', re: 'join' });
    expect(await b.join('one', 2)).toEqual({ type: 'joined', peers: [1] });
    const c = await TestSocket.open(server.url);
    expect(await c.next()).toMatchObject({ type: 'error', code: 'server-full' });
    expect(await c.closed).toMatchObject({ code: CloseCode.tryAgainLater });
    b.close();
    await eventually(() => server.stats().connections === 1);
    const d = await TestSocket.open(server.url);
    expect(await d.join('one', 4)).toEqual({ type: 'joined', peers: [1] });
  });

  it('reports an unknown signal target to the sender only', async () => {
    const server = await testServer();
    const a = await TestSocket.open(server.url);
    const b = await TestSocket.open(server.url);
    await a.join('r', 1);
    await b.join('r', 2);
    a.send({ type: 'signal', to: 999, data: { sdp: 'x' } });
    expect(await a.next()).toMatchObject({ type: 'error', code: 'unknown-peer', re: 'signal', peer: 999 });
    a.send({ type: 'signal', to: 2, data: 'after' });
    expect(await b.next()).toEqual({ type: 'signal', from: 1, data: 'after' });
    expect(b.pending()).toBe(0);
  });
});

describe('signaling server: liveness', () => {
  it('gives a duplicate peer id to nobody while the holder is alive', async () => {
    const server = await testServer({ limits: { duplicate_probe_ms: 300 } });
    const holder = await TestSocket.open(server.url);
    const other = await TestSocket.open(server.url);
    await holder.join('r', 7);
    await other.join('r', 8);
    const thief = await TestSocket.open(server.url);
    // The holder answers the probe's ping (ws answers pings automatically).
    expect(await thief.join('r', 7)).toMatchObject({ type: 'error', code: 'duplicate-peer', re: 'join', peer: 7 });
    other.send({ type: 'signal', to: 7, data: 'to-holder' });
    expect(await holder.next()).toEqual({ type: 'signal', from: 8, data: 'to-holder' });
    expect(thief.pending()).toBe(0);
    expect(holder.isClosed).toBe(false);
  });

  it('hands the id of a holder that fails the probe to the newcomer and closes the holder with 4001', async () => {
    const server = await testServer({ limits: { duplicate_probe_ms: 200 } });
    // autoPong off: this holder is alive at TCP level but does not answer, like a frozen tab.
    const holder = await TestSocket.open(server.url, { autoPong: false });
    const other = await TestSocket.open(server.url);
    await holder.join('r', 7);
    await other.join('r', 8);
    const newcomer = await TestSocket.open(server.url);
    const started = Date.now();
    expect(await newcomer.join('r', 7)).toEqual({ type: 'joined', peers: [8] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(await holder.closed).toMatchObject({ code: CloseCode.replaced });
    other.send({ type: 'signal', to: 7, data: 'to-newcomer' });
    expect(await newcomer.next()).toEqual({ type: 'signal', from: 8, data: 'to-newcomer' });
    // The old socket's late close must not evict the newcomer.
    await sleep(50);
    expect(server.stats().peers).toBe(2);
  });

  it('admits the newcomer as soon as a probed holder closes', async () => {
    const server = await testServer({ limits: { duplicate_probe_ms: 5000 } });
    const holder = await TestSocket.open(server.url, { autoPong: false });
    await holder.join('r', 7);
    const newcomer = await TestSocket.open(server.url);
    newcomer.send({ type: 'join', room: 'r', peerId: 7 });
    await eventually(() => server.events.some((e) => e.event === 'duplicate-probe'));
    const started = Date.now();
    holder.close();
    expect(await newcomer.next()).toEqual({ type: 'joined', peers: [] });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('terminates silent sockets after idle_timeout_ms, but not sockets that answer pings', async () => {
    const server = await testServer({ limits: { heartbeat_interval_ms: 50, idle_timeout_ms: 250 } });
    const silent = await TestSocket.open(server.url, { autoPong: false });
    const quiet = await TestSocket.open(server.url); // sends nothing, but answers pings
    await silent.join('r', 1);
    await quiet.join('r', 2);
    expect(await silent.closed).toMatchObject({ code: CloseCode.idle });
    await eventually(() => server.stats().peers === 1);
    await sleep(300);
    expect(quiet.isClosed).toBe(false);
    quiet.send({ type: 'peers' });
    expect(await quiet.next()).toEqual({ type: 'peers', peers: [] });
  });

  it('closes sockets that never join', async () => {
    const server = await testServer({ limits: { heartbeat_interval_ms: 50, join_timeout_ms: 200 } });
    const s = await TestSocket.open(server.url);
    expect(await s.closed).toMatchObject({ code: CloseCode.joinTimeout });
    await eventually(() => server.stats().connections === 0, 2000, 'socket dropped');
  });
});
