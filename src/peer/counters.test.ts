import { describe, expect, it } from 'vitest';
import { defaultPeerConfig } from './config.ts';
import { PeerContext } from './context.ts';

const env = { now: () => 0, random: () => 0.5 };

describe('per-type message counters', () => {
  it('count what each peer sends and receives, apart from every other peer', () => {
    const a = new PeerContext(1, env, defaultPeerConfig);
    const b = new PeerContext(2, env, defaultPeerConfig);
    for (let i = 0; i < 3; i++) a.send(2, { t: 'ping', seq: i });
    a.sendAfterPersist(2, { t: 'hint' });
    a.drain();
    b.send(1, { t: 'ping', seq: 9 });
    b.drain();
    a.countIn('pong');
    a.countIn('pong');
    expect(a.counters.get('out.ping')).toBe(3);
    expect(a.counters.get('out.hint')).toBe(1);
    expect(a.counters.get('in.pong')).toBe(2);
    expect(b.counters.get('out.ping')).toBe(1);
    expect(b.counters.get('in.pong')).toBe(0);
    expect(a.counters.toJSON()).toMatchObject({ 'in.pong': 2, 'out.hint': 1, 'out.ping': 3 });
    expect(Object.keys(b.counters.toJSON())).toEqual(['out.ping']);
    // The Map-like view the peer and consoles use.
    expect(a.counters.inByType.get('pong')).toBe(2);
    expect(a.counters.inByType.get('ping')).toBeUndefined();
    a.counters.inByType.set('ping', 5);
    expect([...a.counters.inByType]).toEqual(expect.arrayContaining([['ping', 5], ['pong', 2]]));
  });

  it('types beyond the shared table are counted too', () => {
    const a = new PeerContext(1, env, defaultPeerConfig);
    for (let i = 0; i < 100; i++) a.countIn(`kind${i}`);
    a.countIn('kind99');
    expect(a.counters.get('in.kind0')).toBe(1);
    expect(a.counters.get('in.kind99')).toBe(2);
    expect(a.counters.inByType.size).toBe(100);
  });
});
