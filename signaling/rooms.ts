/**
 * Room membership: which peer ids are in which room, and which member (a socket, in the
 * server; anything in tests) holds each id. Pure and synchronous, no I/O and no clock:
 * "most recently seen" is kept as an order (a touched peer moves to the end), which is all
 * the server needs and makes the behaviour exact under test.
 */
import type { PeerId } from '../src/core/types.ts';
import type { SignalingLimits } from './limits.ts';

export type JoinResult<M> =
  | { ok: true }
  | { ok: false; code: 'room-full' | 'server-full' }
  /** The id is held by another member; the caller decides whether to `replace` it. */
  | { ok: false; code: 'duplicate-peer'; holder: M };

type RoomLimits = Pick<SignalingLimits, 'room_peers_max' | 'rooms_max' | 'peers_returned_max'>;

export class Rooms<M> {
  /** room → (peer id → member). Map order is seen-order: oldest first, most recently seen last. */
  private readonly rooms = new Map<string, Map<PeerId, M>>();
  private peerTotal = 0;

  constructor(private readonly limits: RoomLimits) {}

  /** Adds `peerId` held by `member`. Joining again with the same member is a no-op that counts as seen. */
  join(room: string, peerId: PeerId, member: M): JoinResult<M> {
    const peers = this.rooms.get(room);
    if (peers === undefined) {
      if (this.rooms.size >= this.limits.rooms_max) return { ok: false, code: 'server-full' };
      this.rooms.set(room, new Map([[peerId, member]]));
      this.peerTotal++;
      return { ok: true };
    }
    const holder = peers.get(peerId);
    if (holder !== undefined) {
      if (holder !== member) return { ok: false, code: 'duplicate-peer', holder };
      this.touch(room, peerId);
      return { ok: true };
    }
    if (peers.size >= this.limits.room_peers_max) return { ok: false, code: 'room-full' };
    peers.set(peerId, member);
    this.peerTotal++;
    return { ok: true };
  }

  /** Hands an existing id to a new member (the old one was found dead). Returns false if the id is not there. */
  replace(room: string, peerId: PeerId, member: M): boolean {
    const peers = this.rooms.get(room);
    if (peers === undefined || !peers.has(peerId)) return false;
    peers.delete(peerId);
    peers.set(peerId, member);
    return true;
  }

  /**
   * Removes `peerId` only if `member` still holds it: a replaced socket that closes late
   * must not evict the socket that took its place.
   */
  leave(room: string, peerId: PeerId, member: M): boolean {
    const peers = this.rooms.get(room);
    if (peers === undefined || peers.get(peerId) !== member) return false;
    peers.delete(peerId);
    this.peerTotal--;
    if (peers.size === 0) this.rooms.delete(room);
    return true;
  }

  /** Marks the peer as seen now: it moves to the front of the lists others receive. */
  touch(room: string, peerId: PeerId): void {
    const peers = this.rooms.get(room);
    const member = peers?.get(peerId);
    if (peers === undefined || member === undefined) return;
    peers.delete(peerId);
    peers.set(peerId, member);
  }

  member(room: string, peerId: PeerId): M | undefined {
    return this.rooms.get(room)?.get(peerId);
  }

  /** Up to peers_returned_max peers of the room other than `self`, most recently seen first. */
  peersFor(room: string, self: PeerId): PeerId[] {
    const peers = this.rooms.get(room);
    if (peers === undefined) return [];
    const ids = [...peers.keys()];
    const out: PeerId[] = [];
    for (let i = ids.length - 1; i >= 0 && out.length < this.limits.peers_returned_max; i--) {
      if (ids[i] !== self) out.push(ids[i]);
    }
    return out;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  get peerCount(): number {
    return this.peerTotal;
  }

  size(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }
}
