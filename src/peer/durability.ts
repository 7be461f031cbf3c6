import type { PeerId } from '../core/types.ts';
import type { ClientOp, ClientReply, Envelope } from './io.ts';

/**
 * Which of a drain's held outputs (sendAfterPersist, replies) really must wait until the
 * drain's writes are durable, shared by every runtime (src/runtime/driver.ts and the
 * simulator, so that the seed runner checks the rule the browsers run):
 *
 * - A message to ourselves does not leave the peer, so it need not wait for the disk:
 *   whatever it causes is written in a later batch and held behind it, and batches complete
 *   in order; a crash loses both. (A local TP's vote reaches the local acceptor at once:
 *   one durable write fewer on a commit's critical path.)
 * - A client reply acknowledges a write only for the ops below; answers to reads, look-ups
 *   and status acknowledge nothing of ours and go at once (with several tabs on one disk a
 *   durable write takes tens of ms).
 */
export const ACKNOWLEDGING_OPS: ReadonlySet<ClientOp['op']> = new Set<ClientOp['op']>(['tx_commit', 'kv_put', 'kv_del']);

export interface HeldSplit {
  now: { envelopes: Envelope[]; replies: ClientReply[] };
  held: { envelopes: Envelope[]; replies: ClientReply[] };
}

/** Splits held outputs by the rule above; opOf names the op a reply answers (undefined: unknown). */
export function splitByDurability(self: PeerId, envelopes: readonly Envelope[], replies: readonly ClientReply[], opOf: (reqId: number) => ClientOp['op'] | undefined): HeldSplit {
  const out: HeldSplit = { now: { envelopes: [], replies: [] }, held: { envelopes: [], replies: [] } };
  for (const env of envelopes) (env.to === self ? out.now : out.held).envelopes.push(env);
  for (const r of replies) {
    const op = opOf(r.reqId);
    // An unknown op is treated as acknowledging: waiting is always safe.
    (op !== undefined && !ACKNOWLEDGING_OPS.has(op) ? out.now : out.held).replies.push(r);
  }
  return out;
}
