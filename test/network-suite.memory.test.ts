import { describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../src/adapters/memory-network.ts';
import type { PeerId } from '../src/core/types.ts';
import { networkSuite } from './network-suite.ts';

let nextId = 1;

networkSuite(
  'MemoryNetwork',
  async (n) => {
    const hub = new MemoryNetwork();
    return Array.from({ length: n }, () => hub.adapter(nextId++));
  },
  { describe, it },
  { link_down_within_ms: 1_000, delivery_within_ms: 5_000 },
);

describe('MemoryNetwork specifics', () => {
  const tick = () => new Promise((r) => setTimeout(r, 5));

  it('delivers asynchronously, never inside send()', async () => {
    const hub = new MemoryNetwork();
    const a = hub.adapter(1);
    const b = hub.adapter(2);
    const got: string[] = [];
    b.onMessage((_from, data) => got.push(data));
    a.send(2, 'x');
    expect(got).toEqual([]);
    await tick();
    expect(got).toEqual(['x']);
  });

  it('counts sends to unknown peers', async () => {
    const hub = new MemoryNetwork();
    const a = hub.adapter(1);
    a.send(99, 'x');
    a.send(98, 'y');
    expect(hub.stats().dropped_unknown_peer).toBe(2);
  });

  it('cut drops messages and reports link down on both sides; heal lets links reopen', async () => {
    const hub = new MemoryNetwork();
    const a = hub.adapter(1);
    const b = hub.adapter(2);
    const downs: Array<[PeerId, PeerId]> = [];
    a.onLinkDown((p) => downs.push([1, p]));
    b.onLinkDown((p) => downs.push([2, p]));
    const got: string[] = [];
    b.onMessage((_f, d) => got.push(d));
    a.send(2, 'before');
    expect(a.connectedPeers()).toEqual([2]);
    hub.cut(1, 2); // 'before' is still in flight: it must be dropped too
    a.send(2, 'during');
    await tick();
    expect(got).toEqual([]);
    expect(downs.sort()).toEqual([[1, 2], [2, 1]]);
    expect(a.connectedPeers()).toEqual([]);
    expect(hub.stats().dropped_cut).toBe(2);
    hub.heal(1, 2);
    a.send(2, 'after');
    await tick();
    expect(got).toEqual(['after']);
    expect(b.connectedPeers()).toEqual([1]);
  });

  it('lets a peer id be reused after close, and refuses a duplicate', async () => {
    const hub = new MemoryNetwork();
    const a = hub.adapter(1);
    expect(() => hub.adapter(1)).toThrow();
    await a.close();
    expect(() => hub.adapter(1)).not.toThrow();
    expect(() => hub.adapter(-1)).toThrow();
    expect(() => hub.adapter(2 ** 52)).toThrow();
  });
});
