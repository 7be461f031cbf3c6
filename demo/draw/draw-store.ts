import type { Db, Json } from '../../src/api/index.ts';

/**
 * The shared drawing on the store, after DeTransDraw: every shape is an item, and the
 * board's index lists the shape ids in drawing order (last on top), so a tab that joins
 * late reads the index and then each shape.
 *
 *   draw:<board>:index          shape ids, bottom to top
 *   draw:<board>:shape:<id>     Shape
 *
 * Selecting a shape takes it: a transaction writes this tab as its owner with a lease. Every
 * change (move, resize, recolour, delete) is a transaction that first checks this tab still
 * owns the shape, so two tabs can never both change it. The lease ends on release, or by
 * itself when the owner tab goes away without releasing (the lease is not renewed), and a
 * tab lets go of a shape it has not changed for lock_idle_ms.
 */

export type ShapeKind = 'rect' | 'ellipse' | 'line' | 'path' | 'text';

export interface Owner {
  /** The tab (random per tab). */
  client: string;
  name: string;
  color: string;
  /** Lease end, ms since epoch (tabs on one machine or with synchronised clocks). */
  until: number;
}

export interface Shape {
  id: string;
  kind: ShapeKind;
  /** Bounding box; for a line, its start point and the vector to its end (w, h may be negative). */
  x: number;
  y: number;
  w: number;
  h: number;
  stroke: string;
  fill: string;
  /** Stroke width in canvas pixels. */
  lineWidth: number;
  /** Freehand points, as fractions of the box, so a resize scales them. */
  points?: Array<[number, number]>;
  text?: string;
  owner: Owner | null;
  /** Bumped by every write (changes, takes and releases): a tab keeps the newest state it has seen. */
  rev: number;
}

export type ShapePatch = Partial<Pick<Shape, 'x' | 'y' | 'w' | 'h' | 'stroke' | 'fill' | 'lineWidth' | 'text'>>;

/** How long a taken shape stays taken without renewal. */
export const lock_lease_ms = 20_000;
/** The owner renews its lease this often while the shape stays selected and in use. */
export const lock_renew_ms = 5_000;
/** A selected shape left without a change for this long is let go (its hold must not outlive the user's attention). */
export const lock_idle_ms = 60_000;
/** Shapes on one board: the index is one value (≤ 128 KiB, about 12 bytes an id). */
export const board_shapes_max = 5_000;
/** Freehand points kept per path (a longer stroke is thinned). */
export const path_points_max = 2_000;

export const drawKey = {
  index: (board: string) => `draw:${board}:index`,
  shape: (board: string, id: string) => `draw:${board}:shape:${id}`,
};

/** The shape is taken by another tab (its lease has not ended). */
export class ShapeLockedError extends Error {
  constructor(readonly owner: Owner) {
    super(`${owner.name} is editing this shape`);
    this.name = 'ShapeLockedError';
  }
}

/** This tab no longer owns the shape (its lease ended and someone else took it, or it was deleted). */
export class ShapeLostError extends Error {
  constructor(readonly shapeId: string, why: string) {
    super(why);
    this.name = 'ShapeLostError';
  }
}

export class BoardFullError extends Error {
  constructor() {
    super(`this board holds the most shapes it can (${board_shapes_max}); delete some first`);
    this.name = 'BoardFullError';
  }
}

export interface Me {
  client: string;
  name: string;
  color: string;
}

export function newShapeId(random: () => number = Math.random): string {
  return `${Date.now().toString(36)}${Math.floor(random() * 36 ** 6).toString(36).padStart(6, '0')}`;
}

export class DrawStore {
  constructor(
    private readonly db: Db,
    readonly board: string,
    private readonly me: Me,
    /** The clock leases are measured with (injectable for tests). */
    private readonly now: () => number = Date.now,
  ) {}

  private key(id: string): string {
    return drawKey.shape(this.board, id);
  }

  private lease(): Owner {
    return { ...this.me, until: this.now() + lock_lease_ms };
  }

  /** Whether `owner` is a lease of another tab that has not ended. */
  heldByOther(owner: Owner | null): owner is Owner {
    return owner !== null && owner.client !== this.me.client && owner.until > this.now();
  }

  ownedByMe(s: Shape | undefined): boolean {
    return s !== undefined && s.owner !== null && s.owner.client === this.me.client;
  }

  async index(): Promise<string[]> {
    return ((await this.db.get(drawKey.index(this.board))) as string[] | undefined) ?? [];
  }

  async shape(id: string): Promise<Shape | undefined> {
    return (await this.db.get(this.key(id))) as Shape | undefined;
  }

  /** The whole drawing, bottom to top (what a tab that joins late shows). */
  async load(): Promise<Shape[]> {
    const ids = await this.index();
    const shapes = await Promise.all(ids.map((id) => this.shape(id)));
    return shapes.filter((s): s is Shape => s !== undefined);
  }

  /** Add a shape on top, taken by this tab (it was just drawn here, so it is selected). */
  async create(shape: Omit<Shape, 'owner' | 'rev'>): Promise<Shape> {
    const full: Shape = { ...shape, owner: this.lease(), rev: 1 };
    await this.db.transact(async (tx) => {
      const ids = ((await tx.get(drawKey.index(this.board))) as string[] | undefined) ?? [];
      if (ids.length >= board_shapes_max) throw new BoardFullError();
      tx.write(drawKey.index(this.board), [...ids.filter((x) => x !== shape.id), shape.id]);
      tx.write(this.key(shape.id), full as unknown as Json);
    });
    return full;
  }

  /** Take a shape for this tab (select it). Throws ShapeLockedError when another tab holds it. */
  async grab(id: string): Promise<Shape> {
    return this.db.transact(async (tx) => {
      const s = (await tx.get(this.key(id))) as Shape | undefined;
      if (!s) throw new ShapeLostError(id, 'this shape was deleted');
      if (this.heldByOther(s.owner)) throw new ShapeLockedError(s.owner);
      const next: Shape = { ...s, owner: this.lease(), rev: s.rev + 1 };
      tx.write(this.key(id), next as unknown as Json);
      return next;
    });
  }

  /**
   * Change a shape this tab holds, renewing the lease, or with `release` ending it in the
   * same transaction (the last change of an edit commits and lets go at once). Throws
   * ShapeLostError when this tab no longer holds it.
   */
  async update(id: string, patch: ShapePatch, opts: { release?: boolean } = {}): Promise<Shape> {
    return this.db.transact(async (tx) => {
      const s = (await tx.get(this.key(id))) as Shape | undefined;
      if (!s) throw new ShapeLostError(id, 'this shape was deleted');
      if (!this.ownedByMe(s)) {
        if (this.heldByOther(s.owner)) throw new ShapeLockedError(s.owner);
        throw new ShapeLostError(id, 'your hold on this shape ended; select it again');
      }
      const next: Shape = { ...s, ...patch, owner: opts.release ? null : this.lease(), rev: s.rev + 1 };
      tx.write(this.key(id), next as unknown as Json);
      return next;
    });
  }

  /** Let go of a shape (deselect). Does nothing when this tab does not hold it. */
  async release(id: string): Promise<void> {
    await this.db.transact(async (tx) => {
      const s = (await tx.get(this.key(id))) as Shape | undefined;
      if (!s || !this.ownedByMe(s)) return;
      tx.write(this.key(id), { ...s, owner: null, rev: s.rev + 1 } as unknown as Json);
    });
  }

  /** Delete a shape this tab holds. */
  async remove(id: string): Promise<void> {
    await this.db.transact(async (tx) => {
      const s = (await tx.get(this.key(id))) as Shape | undefined;
      if (s && !this.ownedByMe(s)) {
        if (this.heldByOther(s.owner)) throw new ShapeLockedError(s.owner);
        throw new ShapeLostError(id, 'your hold on this shape ended; select it again');
      }
      const ids = ((await tx.get(drawKey.index(this.board))) as string[] | undefined) ?? [];
      tx.write(drawKey.index(this.board), ids.filter((x) => x !== id));
      tx.delete(this.key(id));
    });
  }

  /** Move a shape this tab holds to the top of the drawing. */
  async bringToFront(id: string): Promise<void> {
    await this.db.transact(async (tx) => {
      const s = (await tx.get(this.key(id))) as Shape | undefined;
      if (!s || !this.ownedByMe(s)) throw new ShapeLostError(id, 'select the shape first');
      const ids = ((await tx.get(drawKey.index(this.board))) as string[] | undefined) ?? [];
      tx.write(drawKey.index(this.board), [...ids.filter((x) => x !== id), id]);
    });
  }
}
