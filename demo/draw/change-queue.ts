import type { LiveBoard } from './board.ts';
import type { DrawStore, ShapePatch } from './draw-store.ts';

/**
 * The changes of the selected shape, committed one transaction at a time: while one is in
 * flight, newer changes (a drag goes on) are merged and sent next, so a drag commits as
 * often as the ring allows without queueing up stale positions. Waits for the take
 * (grab) of the shape before the first change.
 */
export class ChangeQueue {
  private pending: ShapePatch | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly id: string,
    private readonly grab: Promise<boolean>,
    private readonly store: DrawStore,
    private readonly live: LiveBoard,
    private readonly onFailure: (id: string, e: unknown) => void,
  ) {}

  push(patch: ShapePatch): void {
    this.pending = { ...this.pending, ...patch };
    this.running ??= this.run().finally(() => (this.running = null));
  }

  /** Resolves when every change pushed so far has been committed or has failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async run(): Promise<void> {
    if (!(await this.grab)) {
      this.pending = null;
      return;
    }
    while (this.pending) {
      const patch = this.pending;
      this.pending = null;
      try {
        const s = await this.store.update(this.id, patch);
        if (this.pending) this.live.accept(this.id, s);
        else this.live.confirm(s, this.id);
      } catch (e) {
        this.pending = null;
        this.onFailure(this.id, e);
        return;
      }
    }
  }
}
