import type { LiveBoard } from './board.ts';
import type { DrawStore, ShapePatch } from './draw-store.ts';

/**
 * The changes of the selected shape, committed one transaction at a time: while one is in
 * flight, newer changes (a drag goes on) are merged and sent next, so a drag commits as
 * often as the ring allows without queueing up stale positions. Waits for the take
 * (grab) of the shape before the first change. `finish()` ends the edit: what is still
 * pending commits together with the release of the shape, in one transaction.
 */
export class ChangeQueue {
  private pending: ShapePatch | null = null;
  private running: Promise<void> | null = null;
  private releasing = false;
  /** When the last change was pushed (the page lets go of a shape left alone too long). */
  lastChangeAt = Date.now();

  constructor(
    private readonly id: string,
    private readonly grab: Promise<boolean>,
    private readonly store: DrawStore,
    private readonly live: LiveBoard,
    private readonly onFailure: (id: string, e: unknown) => void,
  ) {}

  push(patch: ShapePatch, activity = true): void {
    if (this.releasing) return;
    if (activity) this.lastChangeAt = Date.now();
    this.pending = { ...this.pending, ...patch };
    this.running ??= this.run().finally(() => (this.running = null));
  }

  /** Resolves when every change pushed so far has been committed or has failed. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Commit what is pending and let go of the shape in the same transaction (just let go when
   * nothing is pending). Resolves false when the last change failed (it was undone).
   */
  async finish(): Promise<boolean> {
    if (!(await this.grab)) return true;
    this.releasing = true;
    while (this.running) await this.running;
    const patch = this.pending ?? {};
    this.pending = null;
    try {
      const s = await this.store.update(this.id, patch, { release: true });
      this.live.confirm(s, this.id);
      return true;
    } catch (e) {
      // A hold that ended already (lease over, shape deleted) has nothing to release.
      if (Object.keys(patch).length > 0) this.onFailure(this.id, e);
      return false;
    }
  }

  private async run(): Promise<void> {
    if (!(await this.grab)) {
      this.pending = null;
      return;
    }
    while (this.pending && !this.releasing) {
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
