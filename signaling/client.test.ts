import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Json } from '../src/core/types.ts';
import { SignalingClient, SignalingError, type SignalingClientOptions, type SignalingState, type WebSocketConstructor } from './client.ts';
import { CloseCode } from './protocol.ts';
import { cleanup, eventually, sleep, testServer } from './testing.ts';

// Compile-time: the browser's WebSocket fits the constructor type as well as `ws`'s does.
const browserFits: typeof globalThis.WebSocket extends WebSocketConstructor ? true : false = true;
const wsFits: typeof WebSocket extends WebSocketConstructor ? true : false = true;
void browserFits;
void wsFits;

const clients: SignalingClient[] = [];
const extras: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const stop of extras.splice(0)) await stop();
  await cleanup();
});

function client(url: string, options: Partial<SignalingClientOptions> = {}): SignalingClient {
  const c = new SignalingClient({ url, WebSocket, backoffInitialMs: 50, backoffMaxMs: 200, connectTimeoutMs: 2000, ...options });
  clients.push(c);
  return c;
}

function record(c: SignalingClient): { errors: SignalingError[]; states: SignalingState[] } {
  const log = { errors: [] as SignalingError[], states: [] as SignalingState[] };
  c.onError((e) => log.errors.push(e));
  c.onState((s) => log.states.push(s));
  return log;
}

/** A port with nothing listening: bind one, then release it. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function closeNet(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('signaling client', () => {
  it('joins, lists peers and exchanges signals', async () => {
    const server = await testServer();
    const a = client(server.url);
    const b = client(server.url);
    const got: Array<[number, Json]> = [];
    a.onSignal((from, data) => got.push([from, data]));
    expect(await a.join('app', 1)).toEqual([]);
    expect(await b.join('app', 2)).toEqual([1]);
    expect(a.currentState).toBe('joined');
    expect(await a.peers()).toEqual([2]);
    expect(b.signal(1, { type: 'offer', sdp: 'v=0' })).toBe(true);
    await eventually(() => got.length === 1);
    expect(got[0]).toEqual([2, { type: 'offer', sdp: 'v=0' }]);
  });

  it('reports server refusals of signals as error events naming the peer', async () => {
    const server = await testServer();
    const a = client(server.url);
    const log = record(a);
    await a.join('app', 1);
    a.signal(404, 'hello');
    await eventually(() => log.errors.length === 1);
    expect(log.errors[0]).toMatchObject({ code: 'unknown-peer', peer: 404 });
    expect(a.currentState).toBe('joined');
  });

  it('rejects misuse clearly and without touching the network', async () => {
    const server = await testServer();
    const a = client(server.url);
    await expect(a.peers()).rejects.toMatchObject({ code: 'not-connected' });
    expect(a.signal(2, 'x')).toBe(false);
    await expect(a.join('bad room', 1)).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(a.join('r', -1)).rejects.toMatchObject({ code: 'invalid-argument' });
    await a.join('r', 1);
    expect(() => a.signal(2, 'x'.repeat(20_000))).toThrow(SignalingError);
    expect(() => a.signal(2 ** 52, 'x')).toThrow(/signal target/);
    await expect(a.join('r', 2)).rejects.toMatchObject({ code: 'already-joined' });
    a.close();
    await expect(a.peers()).rejects.toMatchObject({ code: 'not-connected' });
    await expect(a.join('r', 1)).rejects.toMatchObject({ code: 'closed' });
    expect(server.stats().messages).toBe(1);
  });

  it('without a WebSocket implementation, says what to pass', () => {
    if ((globalThis as { WebSocket?: unknown }).WebSocket !== undefined) return; // Node 22+ has one
    expect(() => new SignalingClient({ url: 'ws://127.0.0.1:1' })).toThrow(/options\.WebSocket/);
  });

  it('reports a dead server (nothing listening) as unreachable, fast', async () => {
    const port = await deadPort();
    const c = client(`ws://127.0.0.1:${port}`, { reconnect: false });
    const log = record(c);
    const started = Date.now();
    const err = await c.join('r', 1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SignalingError);
    expect(err).toMatchObject({ code: 'unreachable', message: expect.stringContaining(`127.0.0.1:${port}`) });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(c.currentState).toBe('closed');
    expect(log.errors.map((e) => e.code)).toEqual(['unreachable']);
    expect(log.states).toEqual(['connecting', 'closed']);
  });

  it('times out against a server that accepts TCP but never answers', async () => {
    const sockets = new Set<Socket>();
    const blackhole = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    extras.push(() => closeNet(blackhole, sockets));
    const port = (blackhole.address() as { port: number }).port;
    const c = client(`ws://127.0.0.1:${port}`, { reconnect: false, connectTimeoutMs: 300 });
    const started = Date.now();
    await expect(c.join('r', 1)).rejects.toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('keeps retrying after a failed first join, and joins once the server appears', async () => {
    const port = await deadPort();
    const c = client(`ws://127.0.0.1:${port}`);
    const log = record(c);
    const joined: number[][] = [];
    c.onJoined((peers) => joined.push(peers));
    await expect(c.join('r', 1)).rejects.toMatchObject({ code: 'unreachable' });
    expect(c.currentState).toBe('reconnecting');
    await sleep(150);
    const server = await testServer({ port });
    await eventually(() => joined.length === 1, 3000, 'background join');
    expect(c.currentState).toBe('joined');
    expect(server.stats().peers).toBe(1);
    // Backoff: a few attempts in ~150 ms with 50-200 ms delays, not a tight loop.
    expect(log.errors.length).toBeGreaterThanOrEqual(1);
    expect(log.errors.length).toBeLessThan(10);
  });

  it('join() again retries at once instead of waiting out the backoff', async () => {
    const port = await deadPort();
    const c = client(`ws://127.0.0.1:${port}`, { backoffInitialMs: 10_000, backoffMaxMs: 10_000 });
    await expect(c.join('r', 1)).rejects.toMatchObject({ code: 'unreachable' });
    await testServer({ port });
    const started = Date.now();
    expect(await c.join('r', 1)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
    // Joined already: join() again is a fresh peer list.
    expect(await c.join('r', 1)).toEqual([]);
  });

  it('reconnects and rejoins when the server comes back', async () => {
    const first = await testServer();
    const port = first.port;
    const a = client(first.url);
    const log = record(a);
    const joined: number[][] = [];
    a.onJoined((peers) => joined.push(peers));
    await a.join('app', 1);
    await first.close();
    await eventually(() => log.errors.some((e) => e.code === 'disconnected'), 2000, 'disconnect reported');
    expect(a.currentState).toBe('reconnecting');
    await expect(a.peers()).rejects.toMatchObject({ code: 'not-connected' });

    const second = await testServer({ port });
    await eventually(() => joined.length === 2, 3000, 'rejoin');
    expect(a.currentState).toBe('joined');
    // Reachable through the new server.
    const b = client(second.url);
    const got: Json[] = [];
    a.onSignal((_from, data) => got.push(data));
    expect(await b.join('app', 2)).toEqual([1]);
    b.signal(1, 'welcome back');
    await eventually(() => got.length === 1);
    expect(got).toEqual(['welcome back']);
  });

  it('drops a server that stops answering and reconnects', async () => {
    // A fake server that joins the client and then ignores it, like a host that vanished.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    extras.push(() => new Promise<void>((resolve) => {
      for (const ws of wss.clients) ws.terminate();
      wss.close(() => resolve());
    }));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.on('message', (raw) => {
        if (JSON.parse(raw.toString()).type === 'join') ws.send(JSON.stringify({ type: 'joined', peers: [] }));
      });
    });
    const c = client(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { pingIntervalMs: 100 });
    const log = record(c);
    await c.join('r', 1);
    await eventually(() => log.errors.some((e) => e.code === 'timeout'), 2000, 'silence detected');
    await eventually(() => connections >= 2, 2000, 'reconnected');
  });

  it('stops for good when another connection takes over its peer id', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    extras.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    let connections = 0;
    wss.on('connection', (ws) => {
      connections++;
      ws.once('message', () => {
        ws.send(JSON.stringify({ type: 'joined', peers: [] }));
        ws.close(CloseCode.replaced, 'replaced');
      });
    });
    const c = client(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    const log = record(c);
    await c.join('r', 1);
    await eventually(() => c.currentState === 'closed', 2000, 'closed');
    expect(log.errors.map((e) => e.code)).toEqual(['replaced']);
    await sleep(300);
    expect(connections).toBe(1);
  });

  it('rejects join with the server refusal and retries it', async () => {
    const server = await testServer({ limits: { room_peers_max: 1 } });
    const a = client(server.url);
    await a.join('r', 1);
    const b = client(server.url);
    const joined: number[][] = [];
    b.onJoined((p) => joined.push(p));
    await expect(b.join('r', 2)).rejects.toMatchObject({ code: 'room-full' });
    a.close();
    await eventually(() => joined.length === 1, 3000, 'admitted after a leave');
    expect(joined[0]).toEqual([]);
  });
});
