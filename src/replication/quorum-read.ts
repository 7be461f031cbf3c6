import { keyPosition } from '../core/hash.ts';
import type { MsgOf } from '../core/messages.ts';
import type { Json, PeerId } from '../core/types.ts';
import type { PeerContext } from '../peer/context.ts';
import type { Router } from '../routing/router.ts';
import { emptyItem } from './item.ts';
import { majority, replicaPositions } from './replicas.ts';

export type ReadResult =
  | { ok: true; ver: number; val: Json; ex: boolean }
  | { ok: false; code: 'unavailable'; message: string };

interface Pending {
  key: string;
  positions: PeerId[];
  replies: Map<number, MsgOf<'rep_read_reply'>>;
  from: Map<number, PeerId>;
  attempts: number;
  timer: number;
  cb: (r: ReadResult) => void;
  startedAt: number;
}

/**
 * Majority quorum reads. Ask all r replicas; with a majority of authoritative answers the
 * highest version is the value. Two rules keep this linearizable:
 * - "not found" only when a majority of authoritative replicas says so ("unknown" answers
 *   from replicas without data never count);
 * - an answer showing a prepared but undecided write newer than every version seen means
 *   that write may already be committed and acknowledged: ask again shortly, until it is
 *   decided. A majority read always meets such a write, because the write was prepared on
 *   a majority.
 * Replicas that answered an older version get the newer state pushed (read repair).
 */
export class QuorumReads {
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;

  constructor(
    private readonly ctx: PeerContext,
    private readonly router: Router,
  ) {}

  read(key: string, cb: (r: ReadResult) => void): void {
    const r = this.ctx.config.replication_factor;
    const p: Pending = {
      key,
      positions: replicaPositions(keyPosition(key), r),
      replies: new Map(),
      from: new Map(),
      attempts: 0,
      timer: 0,
      cb,
      startedAt: this.ctx.now(),
    };
    this.send(p);
  }

  private send(p: Pending, delayMs = 0): void {
    if (delayMs > 0) {
      p.timer = this.ctx.timers.schedule(this.ctx.now() + delayMs, () => this.send(p));
      return;
    }
    p.attempts++;
    const reqId = this.nextReq++;
    p.replies = new Map();
    p.from = new Map();
    this.pending.set(reqId, p);
    p.positions.forEach((pos, i) => this.router.routeFast(pos, { k: 'rep_read', reqId, key: p.key, i }));
    p.timer = this.ctx.timers.schedule(this.ctx.now() + this.ctx.config.read_timeout_ms, () => {
      if (this.pending.get(reqId) !== p) return;
      this.pending.delete(reqId);
      if (p.attempts >= this.ctx.config.read_attempts_max) {
        const ok = [...p.replies.values()].filter((x) => x.status === 'ok').length;
        p.cb({ ok: false, code: 'unavailable', message: `${ok} of ${p.positions.length} replicas of "${p.key}" answered with data; a majority is needed` });
      } else this.send(p);
    });
  }

  onReply(from: PeerId, msg: MsgOf<'rep_read_reply'>): void {
    this.router.learn(msg.range, from);
    const p = this.pending.get(msg.reqId);
    if (!p || p.replies.has(msg.i)) return;
    p.replies.set(msg.i, msg);
    p.from.set(msg.i, from);
    const oks = [...p.replies.values()].filter((x) => x.status === 'ok');
    const r = p.positions.length;
    if (oks.length < (this.ctx.config.mutants.read_one_replica ? 1 : majority(r))) return;
    let best = oks[0]!;
    for (const x of oks) if (x.ver > best.ver) best = x;
    const maxLocked = Math.max(...oks.map((x) => x.lockedNv));
    if (maxLocked > best.ver) {
      // An undecided write that may already be committed: wait for its decision.
      this.pending.delete(msg.reqId);
      this.ctx.timers.cancel(p.timer);
      this.ctx.counters.add('read.waited_on_lock');
      if (this.ctx.now() - p.startedAt > this.ctx.config.read_timeout_ms * this.ctx.config.read_attempts_max) {
        p.cb({ ok: false, code: 'unavailable', message: `"${p.key}" is locked by an undecided transaction` });
        return;
      }
      p.attempts = 0;
      this.send(p, this.ctx.config.read_lock_wait_ms);
      return;
    }
    this.pending.delete(msg.reqId);
    this.ctx.timers.cancel(p.timer);
    // Read repair: push the newest committed state to replicas that answered an older one.
    for (const x of oks) {
      if (x.ver < best.ver && x.lockedNv === 0) {
        this.ctx.counters.add('read.repair');
        this.router.routeFast(p.positions[x.i]!, { k: 'rep_repair', key: p.key, i: x.i, item: { ...emptyItem(), val: best.val, ex: best.ex, ver: best.ver } });
      }
    }
    p.cb({ ok: true, ver: best.ver, val: best.val, ex: best.ex });
  }
}
