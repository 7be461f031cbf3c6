import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MemoryNetwork } from '../adapters/memory-network.ts';
import { MemoryStorage, MemoryVolume } from '../adapters/memory-storage.ts';
import { Db } from '../api/db.ts';
import type { Json, PeerId } from '../core/types.ts';
import { startSignalingServer, type SignalingServer } from '../../signaling/server.ts';
import { TestSocket } from '../../signaling/testing.ts';
import type { WebSocketConstructor } from '../../signaling/client.ts';
import { driverLink } from './driver.ts';
import { fastConfig } from './testing.ts';
import { RuntimePeer } from './runtime-peer.ts';

/**
 * Bootstrap against the real signaling server (127.0.0.1, a free port, stopped by each
 * test), peers on MemoryNetwork: the server is only used to find the ring.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

const quickBootstrap = { stuck_ms: 600, refresh_interval_ms: 300, probe_timeout_ms: 400, signaling_backoff_max_ms: 500 };
const silentLog = () => {};

interface World {
  server: SignalingServer;
  hub: MemoryNetwork;
  volume: MemoryVolume;
  peers: RuntimePeer[];
  open(name: string): Promise<RuntimePeer>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await Promise.all(w.peers.map((p) => p.close()));
    await w.server.close().catch(() => {});
  }
});

async function world(): Promise<World> {
  const server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: silentLog });
  const hub = new MemoryNetwork();
  const volume = new MemoryVolume();
  const w: World = {
    server,
    hub,
    volume,
    peers: [],
    async open(name) {
      const p = await RuntimePeer.open({
        room: 'test-room',
        signaling: server.url,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        storage: new MemoryStorage(name, { volume }),
        network: (id) => hub.adapter(id),
        config: fastConfig,
        bootstrap: quickBootstrap,
      });
      w.peers.push(p);
      return p;
    },
  };
  worlds.push(w);
  return w;
}

/** Follows successor pointers from one member: the ring it sees. */
function ringFrom(peers: RuntimePeer[], start: RuntimePeer): PeerId[] {
  const byId = new Map(peers.map((p) => [p.id, p]));
  const seen: PeerId[] = [];
  let at: PeerId | undefined = start.id;
  while (at !== undefined && !seen.includes(at)) {
    seen.push(at);
    at = byId.get(at)?.driver.peer.ring.succ;
  }
  return seen.sort((a, b) => a - b);
}

function oneRing(peers: RuntimePeer[]): boolean {
  const live = peers.filter((p) => !p.driver.isClosed);
  if (!live.every((p) => p.driver.ringStatus === 'in')) return false;
  const ids = live.map((p) => p.id).sort((a, b) => a - b);
  return live.every((p) => JSON.stringify(ringFrom(live, p)) === JSON.stringify(ids));
}

describe('RuntimePeer bootstrap through the signaling server', () => {
  it('peers that all start at once form exactly one ring, with balanced ids', async () => {
    const w = await world();
    const peers = await Promise.all(Array.from({ length: 6 }, (_, i) => w.open(`p${i}`)));
    await Promise.all(peers.map((p) => p.start()));
    await until(() => oneRing(peers), 15_000, 'one ring of 6');
    const created = peers.reduce((n, p) => n + p.counters.rings_created, 0);
    expect(created).toBe(1);
    if (process.env.TABRING_DEBUG) console.log(peers.map((p) => p.counters));
  });

  it('one by one: the first creates, the others join; ids halve the largest gap', async () => {
    const w = await world();
    const peers: RuntimePeer[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await w.open(`s${i}`);
      peers.push(p);
      await p.start();
      await p.waitJoined(5_000);
    }
    expect(oneRing(peers)).toBe(true);
    // Balanced placement: 4 peers about a quarter of the circle apart.
    const ids = peers.map((p) => p.id).sort((a, b) => a - b);
    const gaps = ids.map((id, i) => ((ids[(i + 1) % 4]! - id + 2 ** 52) % 2 ** 52) / 2 ** 52);
    for (const g of gaps) expect(g).toBeGreaterThan(0.2);
  });

  it('signals go through the server before joining and through the ring after; the ring outlives the server', async () => {
    const w = await world();
    const peers: RuntimePeer[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await w.open(`g${i}`);
      peers.push(p);
      await p.start();
      await p.waitJoined(5_000);
    }
    await until(() => oneRing(peers), 10_000, 'one ring');
    const inbox: Array<[PeerId, PeerId, Json]> = [];
    for (const p of peers) p.onSignal((from, data) => inbox.push([p.id, from, data]));
    const [a, b] = [peers[0]!, peers[2]!];
    a.sendSignal(b.id, { hello: 1 });
    // A member's signal may also take the server (rate-limited copy): whichever copy comes
    // first is delivered; the overlay copy must arrive too.
    await until(() => inbox.some(([to, from]) => to === b.id && from === a.id), 3_000, 'signal');
    await until(() => b.counters.signals_in_overlay === 1, 3_000, 'overlay signal');
    expect(a.counters.signals_out_overlay).toBe(1);
    // A joiner's signals go through the server, and the answer goes back the same way.
    const late = await w.open('late');
    late.onSignal((from, data) => inbox.push([late.id, from, data]));
    await late.start();
    late.sendSignal(a.id, { offer: 'x' });
    await until(() => inbox.some(([to, from]) => to === a.id && from === late.id), 3_000, 'server signal');
    a.sendSignal(late.id, { answer: 'y' });
    await until(() => inbox.some(([to, from]) => to === late.id && from === a.id), 3_000, 'answer via server');
    expect(a.counters.signals_out_server).toBeGreaterThanOrEqual(1);
    expect(b.counters.signals_duplicate + late.counters.signals_duplicate).toBeGreaterThan(0);
    await late.waitJoined(5_000);
    // Server gone: the ring keeps serving and signaling.
    await w.server.close();
    const db = new Db(driverLink(peers[1]!.driver));
    await db.write('after-server', 1);
    expect(await new Db(driverLink(peers[3]!.driver)).read('after-server')).toBe(1);
    inbox.length = 0;
    late.sendSignal(b.id, { again: true });
    await until(() => inbox.some(([to, from]) => to === b.id && from === late.id), 3_000, 'overlay signal without server');
  });

  it('a whole ring that restarts at once comes back as one ring with its data', async () => {
    const w = await world();
    const names = ['r0', 'r1', 'r2', 'r3'];
    const first: RuntimePeer[] = [];
    for (const n of names) {
      const p = await w.open(n);
      first.push(p);
      await p.start();
      await p.waitJoined(5_000);
    }
    await until(() => oneRing(first) && first.every((p) => p.driver.peer.store.empty.empty), 10_000, 'ring with authority');
    const db = new Db(driverLink(first[0]!.driver));
    for (let i = 0; i < 10; i++) await db.write(`d${i}`, i);
    const ids = first.map((p) => p.id).sort((a, b) => a - b);
    await Promise.all(first.map((p) => p.close()));
    w.peers.length = 0;
    const again = await Promise.all(names.map((n) => w.open(n)));
    expect(again.map((p) => p.id).sort((a, b) => a - b)).toEqual(ids);
    await Promise.all(again.map((p) => p.start()));
    await until(() => oneRing(again), 15_000, 'one ring again');
    const db2 = new Db(driverLink(again[3]!.driver));
    const end = Date.now() + 10_000;
    for (let i = 0; i < 10; i++) {
      for (;;) {
        try {
          expect(await db2.read(`d${i}`)).toBe(i);
          break;
        } catch (e) {
          // Unavailable until a majority of each key's replica holders repaired: never not-found.
          expect((e as Error).name).toBe('UnavailableError');
          if (Date.now() > end) throw e;
          await sleep(100);
        }
      }
    }
  });

  it('joiners that only see each other (and a silent room member) elect one ring creator; silence never creates', async () => {
    const w = await world();
    // A room member that never answers: a tab that cannot be reached, or a dead socket.
    const silent = await TestSocket.open(w.server.url);
    expect((await silent.join('test-room', 5)).type).toBe('joined');
    const a = await w.open('a');
    await a.start(); // sees only the silent one: joins it, in vain
    const b = await w.open('b');
    await b.start(); // sees a (joining) and the silent one
    await sleep(1_500); // several stuck rounds: the silent member blocks any creation
    expect(a.driver.ringStatus).toBe('joining');
    expect(b.driver.ringStatus).toBe('joining');
    expect(a.counters.stuck_rounds + b.counters.stuck_rounds).toBeGreaterThan(0);
    silent.close();
    await until(() => oneRing([a, b]), 10_000, 'one ring of the two joiners');
    expect(a.counters.rings_created + b.counters.rings_created).toBe(1);
    const creator = a.counters.rings_created === 1 ? a : b;
    expect(creator.id).toBe(Math.min(a.id, b.id));
  });

  it('a new peer cannot find a ring without the server, and says so', async () => {
    const w = await world();
    await w.server.close();
    await expect(
      RuntimePeer.open({
        room: 'test-room',
        signaling: w.server.url,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        storage: new MemoryStorage('x'),
        network: (id) => w.hub.adapter(id),
        bootstrap: { signaling_wait_ms: 1_000, signaling_connect_timeout_ms: 500 },
      }),
    ).rejects.toThrow(/cannot find the ring/);
  });
});
