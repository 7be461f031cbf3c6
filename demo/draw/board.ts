import type { Db } from '../../src/api/index.ts';
import { drawKey, type Shape } from './draw-store.ts';

/**
 * The drawing as this tab shows it: the committed state (kept live with watch on the
 * index and on every shape) with this tab's uncommitted changes laid over it. When a
 * change fails, its overlay is dropped (the shape jumps back) and the shape flashes.
 */
export class LiveBoard {
  private order: string[] = [];
  private readonly committed = new Map<string, Shape>();
  /** This tab's changes not committed yet (drafts, drags, recolours). */
  private readonly overlay = new Map<string, Shape>();
  private readonly watches = new Map<string, Promise<() => Promise<void>>>();
  readonly flashing = new Map<string, number>();
  /** How many changes of each shape were undone here (shown to tests as data-undone). */
  readonly undone = new Map<string, number>();
  private stopIndex: (() => Promise<void>) | null = null;

  constructor(
    private readonly db: Db,
    private readonly board: string,
    private readonly changed: () => void,
  ) {}

  /** Load the whole drawing and start following changes. */
  async start(): Promise<void> {
    // Retried while the ring re-forms: one index watch however many attempts it takes.
    if (!this.stopIndex) this.stopIndex = await this.db.watch(drawKey.index(this.board), (v) => this.setOrder((v as string[] | undefined) ?? []));
    const ids = ((await this.db.get(drawKey.index(this.board))) as string[] | undefined) ?? [];
    this.setOrder(ids);
    await Promise.all(ids.map((id) => this.refresh(id)));
  }

  async stop(): Promise<void> {
    const watches = [...this.watches.values()];
    this.watches.clear();
    const index = this.stopIndex;
    this.stopIndex = null;
    await index?.().catch(() => {});
    await Promise.all(watches.map(async (w) => (await w)().catch(() => {}))).catch(() => {});
  }

  private setOrder(ids: string[]): void {
    this.order = ids;
    const present = new Set(ids);
    for (const id of ids) if (!this.watches.has(id)) this.follow(id);
    for (const [id, stop] of this.watches) {
      if (present.has(id)) continue;
      this.watches.delete(id);
      this.committed.delete(id);
      void stop.then((f) => f()).catch(() => {});
    }
    this.changed();
  }

  private follow(id: string): void {
    const stop = this.db.watch(drawKey.shape(this.board, id), (v) => this.accept(id, v as Shape | undefined));
    stop.catch(() => this.watches.delete(id));
    this.watches.set(id, stop);
    void this.refresh(id);
  }

  private async refresh(id: string): Promise<void> {
    try {
      this.accept(id, (await this.db.get(drawKey.shape(this.board, id))) as Shape | undefined);
    } catch {
      /* the watch will tell */
    }
  }

  /** A committed state of a shape (from a watch, a read or our own commit); older ones are ignored. */
  accept(id: string, s: Shape | undefined): void {
    const cur = this.committed.get(id);
    if (s === undefined) this.committed.delete(id);
    else if (!cur || s.rev >= cur.rev) this.committed.set(id, s);
    this.changed();
  }

  /** Shapes bottom to top, with this tab's pending changes shown; drafts not in the index yet on top. */
  shapes(): Shape[] {
    const out: Shape[] = [];
    for (const id of this.order) {
      const s = this.overlay.get(id) ?? this.committed.get(id);
      if (s) out.push(s);
    }
    for (const [id, s] of this.overlay) if (!this.order.includes(id)) out.push(s);
    return out;
  }

  get(id: string): Shape | undefined {
    return this.overlay.get(id) ?? this.committed.get(id);
  }

  committedShape(id: string): Shape | undefined {
    return this.committed.get(id);
  }

  /** Show a change at once, before its transaction commits. */
  setLocal(s: Shape): void {
    this.overlay.set(s.id, s);
    this.changed();
  }

  /** The transaction committed: its result is now the truth. */
  confirm(s: Shape | undefined, id: string): void {
    this.overlay.delete(id);
    if (s) this.accept(id, s);
    else {
      this.committed.delete(id);
      this.changed();
    }
  }

  /** The transaction failed: back to the committed state, visibly. */
  revert(id: string, flash_ms = 2000): void {
    this.overlay.delete(id);
    this.undone.set(id, (this.undone.get(id) ?? 0) + 1);
    this.flash(id, flash_ms);
  }

  /** Mark a shape in red for a moment (a change undone, a selection refused). */
  flash(id: string, flash_ms: number): void {
    this.flashing.set(id, Date.now() + flash_ms);
    this.changed();
    setTimeout(() => this.changed(), flash_ms + 50);
  }
}
