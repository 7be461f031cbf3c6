import type { PeerId } from '../core/types.ts';
import type { Rng } from './rng.ts';

/**
 * Fault knobs of the simulated network, each named with its unit. A seed picks them; the
 * same seed picks them the same way.
 */
export interface NetworkKnobs {
  /** Every message takes at least this long. */
  latency_min_ms: number;
  /** Mean of the exponential extra delay; jitter is what reorders messages on one link. */
  latency_jitter_mean_ms: number;
  /** Probability that a message is lost. */
  loss_rate: number;
  /** Probability that a message is delivered twice. */
  duplicate_rate: number;
  /**
   * Probability that a message is held back by reorder_delay_ms (a strong reordering of one
   * message on a link that is otherwise ordered).
   */
  reorder_rate: number;
  reorder_delay_ms: number;
}

export const calmNetwork: NetworkKnobs = {
  latency_min_ms: 1,
  latency_jitter_mean_ms: 1,
  loss_rate: 0,
  duplicate_rate: 0,
  reorder_rate: 0,
  reorder_delay_ms: 0,
};

/**
 * Which directed links are cut. A partition is a set of groups: links between groups are
 * cut both ways. A one-way cut blocks from -> to only. Several cuts may hold at once.
 */
export class Partitions {
  private readonly blocked = new Set<string>();
  /** Group of each peer under the current group partition; peers not listed are in group 0. */
  private group = new Map<PeerId, number>();
  private grouped = false;

  /** Split into groups (every peer not listed stays with the first group). */
  split(groups: ReadonlyArray<ReadonlyArray<PeerId>>): void {
    this.group = new Map();
    groups.forEach((g, i) => g.forEach((p) => this.group.set(p, i)));
    this.grouped = true;
  }

  cutOneWay(from: PeerId, to: PeerId): void {
    this.blocked.add(`${from}>${to}`);
  }

  cut(a: PeerId, b: PeerId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  heal(): void {
    this.blocked.clear();
    this.group = new Map();
    this.grouped = false;
  }

  get active(): boolean {
    return this.grouped || this.blocked.size > 0;
  }

  canSend(from: PeerId, to: PeerId): boolean {
    if (this.grouped && (this.group.get(from) ?? 0) !== (this.group.get(to) ?? 0)) return false;
    return this.blocked.size === 0 || !this.blocked.has(`${from}>${to}`);
  }
}

/**
 * The delay of one copy of a message: latency_min_ms plus exponential jitter, plus
 * reorder_delay_ms for a message held back. A top-level function, not a closure: the
 * simulator calls it for every message.
 */
export function oneDelay(knobs: NetworkKnobs, rng: Rng): number {
  let d = knobs.latency_min_ms + (knobs.latency_jitter_mean_ms > 0 ? rng.exp(knobs.latency_jitter_mean_ms) : 0);
  if (knobs.reorder_rate > 0 && rng.chance(knobs.reorder_rate)) d += knobs.reorder_delay_ms;
  return d;
}

/**
 * Delays (ms) at which copies of one message arrive; empty when it is lost. The simulator
 * inlines the same draws in the same order (loss, first delay, duplicate, second delay)
 * without building this array.
 */
export function deliveryDelays(knobs: NetworkKnobs, rng: Rng): number[] {
  if (knobs.loss_rate > 0 && rng.chance(knobs.loss_rate)) return [];
  const first = oneDelay(knobs, rng);
  if (knobs.duplicate_rate > 0 && rng.chance(knobs.duplicate_rate)) return [first, oneDelay(knobs, rng)];
  return [first];
}
