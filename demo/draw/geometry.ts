import type { Shape } from './draw-store.ts';

export interface Point {
  x: number;
  y: number;
}

/** Hit tolerance around thin shapes, in canvas pixels. */
export const hit_slop_px = 6;
/** Half the size of a resize handle, in canvas pixels. */
export const handle_half_px = 6;

/** The box with positive width and height. */
export function normalBox(s: Pick<Shape, 'x' | 'y' | 'w' | 'h'>): { x: number; y: number; w: number; h: number } {
  return { x: Math.min(s.x, s.x + s.w), y: Math.min(s.y, s.y + s.h), w: Math.abs(s.w), h: Math.abs(s.h) };
}

function distToSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/** Whether p is on the shape (inside a filled or boxy one, near a line or stroke). */
export function hits(s: Shape, p: Point): boolean {
  const slop = hit_slop_px + s.lineWidth / 2;
  if (s.kind === 'line') return distToSegment(p, { x: s.x, y: s.y }, { x: s.x + s.w, y: s.y + s.h }) <= slop;
  const b = normalBox(s);
  const inside = p.x >= b.x - slop && p.x <= b.x + b.w + slop && p.y >= b.y - slop && p.y <= b.y + b.h + slop;
  if (!inside) return false;
  if (s.kind === 'ellipse') {
    const rx = b.w / 2 + slop;
    const ry = b.h / 2 + slop;
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    return ((p.x - cx) / rx) ** 2 + ((p.y - cy) / ry) ** 2 <= 1;
  }
  if (s.kind === 'path' && s.points && s.points.length > 1) {
    const pts = s.points.map(([u, v]) => ({ x: s.x + u * s.w, y: s.y + v * s.h }));
    for (let i = 1; i < pts.length; i++) if (distToSegment(p, pts[i - 1]!, pts[i]!) <= slop) return true;
    return false;
  }
  return true;
}

/** The top-most shape under p. */
export function shapeAt(shapes: readonly Shape[], p: Point): Shape | undefined {
  for (let i = shapes.length - 1; i >= 0; i--) if (hits(shapes[i]!, p)) return shapes[i];
  return undefined;
}

/** Resize handles: the box corners, or a line's two ends. Index 0 is the (x, y) corner. */
export function handles(s: Shape): Point[] {
  if (s.kind === 'line') return [{ x: s.x, y: s.y }, { x: s.x + s.w, y: s.y + s.h }];
  return [
    { x: s.x, y: s.y },
    { x: s.x + s.w, y: s.y },
    { x: s.x + s.w, y: s.y + s.h },
    { x: s.x, y: s.y + s.h },
  ];
}

export function handleAt(s: Shape, p: Point): number {
  return handles(s).findIndex((h) => Math.abs(h.x - p.x) <= handle_half_px + 2 && Math.abs(h.y - p.y) <= handle_half_px + 2);
}

/** The box after dragging handle i to p (the opposite corner stays put). */
export function resized(s: Shape, i: number, p: Point): Pick<Shape, 'x' | 'y' | 'w' | 'h'> {
  if (s.kind === 'line') {
    return i === 0 ? { x: p.x, y: p.y, w: s.x + s.w - p.x, h: s.y + s.h - p.y } : { x: s.x, y: s.y, w: p.x - s.x, h: p.y - s.y };
  }
  const corners = handles(s);
  const opposite = corners[(i + 2) % 4]!;
  return { x: opposite.x, y: opposite.y, w: p.x - opposite.x, h: p.y - opposite.y };
}

/** Fit freehand points (canvas coordinates) into a box with points as fractions of it. */
export function pathFromPoints(points: Point[], maxPoints: number): Pick<Shape, 'x' | 'y' | 'w' | 'h' | 'points'> {
  const step = Math.max(1, Math.ceil(points.length / maxPoints));
  const kept = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  const xs = kept.map((p) => p.x);
  const ys = kept.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  const w = Math.max(1, Math.max(...xs) - x);
  const h = Math.max(1, Math.max(...ys) - y);
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  return { x, y, w, h, points: kept.map((p) => [round((p.x - x) / w), round((p.y - y) / h)]) };
}
