import { describe, expect, it } from 'vitest';
import { Rooms } from './rooms.ts';

const limits = { room_peers_max: 3, rooms_max: 2, peers_returned_max: 2 };

describe('Rooms', () => {
  it('lists other peers, most recently seen first, at most peers_returned_max', () => {
    const rooms = new Rooms<string>(limits);
    expect(rooms.join('r', 1, 'a')).toEqual({ ok: true });
    expect(rooms.join('r', 2, 'b')).toEqual({ ok: true });
    expect(rooms.join('r', 3, 'c')).toEqual({ ok: true });
    expect(rooms.peersFor('r', 3)).toEqual([2, 1]);
    expect(rooms.peersFor('r', 99)).toEqual([3, 2]);
    rooms.touch('r', 1);
    expect(rooms.peersFor('r', 3)).toEqual([1, 2]);
    // Joining again with the same member counts as seen.
    expect(rooms.join('r', 2, 'b')).toEqual({ ok: true });
    expect(rooms.peersFor('r', 3)).toEqual([2, 1]);
    expect(rooms.peersFor('nowhere', 1)).toEqual([]);
    expect(rooms.peerCount).toBe(3);
  });

  it('enforces room_peers_max and rooms_max', () => {
    const rooms = new Rooms<string>(limits);
    rooms.join('r', 1, 'a');
    rooms.join('r', 2, 'b');
    rooms.join('r', 3, 'c');
    expect(rooms.join('r', 4, 'd')).toEqual({ ok: false, code: 'room-full' });
    expect(rooms.join('s', 4, 'd')).toEqual({ ok: true });
    expect(rooms.join('t', 5, 'e')).toEqual({ ok: false, code: 'server-full' });
    expect(rooms.roomCount).toBe(2);
    // An emptied room is dropped, which frees a room slot.
    expect(rooms.leave('s', 4, 'd')).toBe(true);
    expect(rooms.roomCount).toBe(1);
    expect(rooms.join('t', 5, 'e')).toEqual({ ok: true });
  });

  it('reports the holder of a duplicate id, and replace hands the id over', () => {
    const rooms = new Rooms<string>(limits);
    rooms.join('r', 1, 'old');
    rooms.join('r', 2, 'b');
    expect(rooms.join('r', 1, 'new')).toEqual({ ok: false, code: 'duplicate-peer', holder: 'old' });
    expect(rooms.replace('r', 1, 'new')).toBe(true);
    expect(rooms.member('r', 1)).toBe('new');
    expect(rooms.peersFor('r', 2)).toEqual([1]);
    expect(rooms.peerCount).toBe(2);
    expect(rooms.replace('r', 9, 'x')).toBe(false);
    expect(rooms.member('r', 9)).toBeUndefined();
  });

  it('leave only removes the current holder (a replaced socket closing late is a no-op)', () => {
    const rooms = new Rooms<string>(limits);
    rooms.join('r', 1, 'old');
    rooms.replace('r', 1, 'new');
    expect(rooms.leave('r', 1, 'old')).toBe(false);
    expect(rooms.member('r', 1)).toBe('new');
    expect(rooms.leave('r', 1, 'new')).toBe(true);
    expect(rooms.leave('r', 1, 'new')).toBe(false);
    expect(rooms.peerCount).toBe(0);
    expect(rooms.roomCount).toBe(0);
    expect(rooms.size('r')).toBe(0);
  });
});
