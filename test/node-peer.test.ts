import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSignalingServer, type SignalingServer } from '../signaling/server.ts';
import { fastConfig } from '../src/runtime/testing.ts';
import { NodePeer, type NodePeerOptions } from '../src/node/node-peer.ts';

/**
 * Node peers over real WebRTC (@roamhq/wrtc) and real files, found through a real
 * signaling server on 127.0.0.1 (free port, stopped by each test).
 */
const quickBootstrap = { stuck_ms: 600, refresh_interval_ms: 300, probe_timeout_ms: 400, signaling_backoff_max_ms: 500 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup(): Promise<{ server: SignalingServer; dir: string; opts: (name: string) => NodePeerOptions; peers: NodePeer[] }> {
  const server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
  const dir = await mkdtemp(join(tmpdir(), 'tabring-node-'));
  const peers: NodePeer[] = [];
  cleanups.push(async () => {
    await Promise.all(peers.map((p) => p.close()));
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  const opts = (name: string): NodePeerOptions => ({
    room: 'node-test',
    signaling: server.url,
    data: join(dir, name),
    config: fastConfig,
    bootstrap: quickBootstrap,
    joinTimeoutMs: 15_000,
  });
  return { server, dir, opts, peers };
}

/** Every live peer sees all the others as connected ring members. */
async function ringOf(peers: NodePeer[], n: number): Promise<boolean> {
  for (const p of peers) {
    const s = p.runtime.driver.snapshot();
    if (s.ring !== 'in' || s.ringSize !== n) return false;
  }
  return true;
}

describe('Node peers over WebRTC and files', () => {
  it('three peers form a ring and serve reads and writes from any of them', async () => {
    const { opts, peers } = await setup();
    for (const name of ['a', 'b', 'c']) peers.push(await NodePeer.start(opts(name)));
    await until(() => ringOf(peers, 3), 10_000, 'a ring of 3');
    for (let i = 0; i < 10; i++) await peers[i % 3]!.db.write(`k${i}`, { i });
    for (let i = 0; i < 10; i++) expect(await peers[(i + 1) % 3]!.db.read(`k${i}`)).toEqual({ i });
    await peers[2]!.db.transact(async (tx) => tx.addOnNr('n', 5));
    expect(await peers[0]!.db.read('n')).toBe(5);
    const s = await peers[0]!.status();
    expect(s.transport.messages_received).toBeGreaterThan(0);
    expect(s.connections.filter((c) => c.open).length).toBe(2);
  });

  it('a restarted peer comes back with its identity and its data', async () => {
    const { opts, peers } = await setup();
    peers.push(await NodePeer.start(opts('a')));
    peers.push(await NodePeer.start(opts('b')));
    await until(() => ringOf(peers, 2), 10_000, 'a ring of 2');
    for (let i = 0; i < 5; i++) await peers[0]!.db.write(`r${i}`, i);
    const idB = peers[1]!.id;
    // Stop both without handover (a power cut, with the files kept), then restart both.
    await Promise.all(peers.map((p) => p.close()));
    const idA = peers[0]!.id;
    peers.length = 0;
    const [a, b] = await Promise.all([NodePeer.start(opts('a')), NodePeer.start(opts('b'))]);
    peers.push(a, b);
    expect(a.id).toBe(idA);
    expect(b.id).toBe(idB);
    expect(a.runtime.driver.restored && b.runtime.driver.restored).toBe(true);
    await until(() => ringOf(peers, 2), 10_000, 'the ring of 2 again');
    for (let i = 0; i < 5; i++) expect(await b.db.read(`r${i}`)).toBe(i);
  });

  it('a graceful leave hands the data over; a peer can host the signaling server itself', async () => {
    const { opts, peers } = await setup();
    const host = await NodePeer.start({ ...opts('host'), signaling: undefined, listen: { port: 0 } });
    peers.push(host);
    expect(host.hosting).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const other = await NodePeer.start({ ...opts('other'), signaling: host.hosting! });
    peers.push(other);
    await until(() => ringOf(peers, 2), 10_000, 'a ring of 2');
    for (let i = 0; i < 5; i++) await other.db.write(`h${i}`, i);
    await other.leave();
    await until(() => ringOf([host], 1), 10_000, 'the host alone');
    for (let i = 0; i < 5; i++) expect(await host.db.read(`h${i}`)).toBe(i);
  });
});
