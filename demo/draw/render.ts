import type { Shape } from './draw-store.ts';
import { handle_half_px, handles, normalBox } from './geometry.ts';

export interface Decorations {
  /** The shape this tab has selected (and whether its hold is confirmed yet). */
  selected: { id: string; confirmed: boolean } | null;
  /** Tab of this page: shapes held by other tabs get their colour and name. */
  myClient: string;
  now: number;
  /** Shapes whose change was just undone: drawn with a red glow until the time given. */
  flashing: ReadonlyMap<string, number>;
}

function path(ctx: CanvasRenderingContext2D, s: Shape): void {
  ctx.beginPath();
  const b = normalBox(s);
  switch (s.kind) {
    case 'rect':
      ctx.rect(b.x, b.y, b.w, b.h);
      break;
    case 'ellipse':
      ctx.ellipse(b.x + b.w / 2, b.y + b.h / 2, Math.max(0.5, b.w / 2), Math.max(0.5, b.h / 2), 0, 0, Math.PI * 2);
      break;
    case 'line':
      ctx.moveTo(s.x, s.y);
      ctx.lineTo(s.x + s.w, s.y + s.h);
      break;
    case 'path':
      (s.points ?? []).forEach(([u, v], i) => (i === 0 ? ctx.moveTo(s.x + u * s.w, s.y + v * s.h) : ctx.lineTo(s.x + u * s.w, s.y + v * s.h)));
      break;
    case 'text':
      break;
  }
}

function drawShape(ctx: CanvasRenderingContext2D, s: Shape): void {
  ctx.lineWidth = s.lineWidth;
  ctx.strokeStyle = s.stroke;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  if (s.kind === 'text') {
    const b = normalBox(s);
    ctx.fillStyle = s.stroke;
    ctx.textBaseline = 'top';
    ctx.font = `${Math.max(8, b.h * 0.8)}px system-ui, sans-serif`;
    ctx.fillText(s.text ?? '', b.x, b.y + b.h * 0.1, Math.max(10, b.w));
    return;
  }
  path(ctx, s);
  if (s.fill !== 'none' && (s.kind === 'rect' || s.kind === 'ellipse')) {
    ctx.fillStyle = s.fill;
    ctx.fill();
  }
  ctx.stroke();
}

function outline(ctx: CanvasRenderingContext2D, s: Shape, color: string, dashed: boolean): void {
  const b = normalBox(s);
  const pad = 4 + s.lineWidth / 2;
  ctx.save();
  ctx.setLineDash(dashed ? [6, 4] : []);
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.strokeRect(b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad);
  ctx.restore();
}

function label(ctx: CanvasRenderingContext2D, s: Shape, text: string, color: string): void {
  const b = normalBox(s);
  ctx.save();
  ctx.font = '12px system-ui, sans-serif';
  const w = ctx.measureText(text).width + 10;
  const y = Math.max(0, b.y - 26);
  ctx.fillStyle = color;
  ctx.fillRect(b.x - 6, y, w, 18);
  ctx.fillStyle = '#fff';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, b.x - 1, y + 9);
  ctx.restore();
}

/** Draw the whole board: shapes bottom to top, then holds, selection and undo flashes. */
export function drawBoard(ctx: CanvasRenderingContext2D, shapes: readonly Shape[], deco: Decorations): void {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  for (const s of shapes) drawShape(ctx, s);
  for (const s of shapes) {
    if (deco.selected?.id === s.id) {
      outline(ctx, s, '#2f6fde', !deco.selected.confirmed);
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = '#2f6fde';
      for (const h of handles(s)) {
        ctx.fillRect(h.x - handle_half_px, h.y - handle_half_px, 2 * handle_half_px, 2 * handle_half_px);
        ctx.strokeRect(h.x - handle_half_px, h.y - handle_half_px, 2 * handle_half_px, 2 * handle_half_px);
      }
    } else if (s.owner && s.owner.client !== deco.myClient && s.owner.until > deco.now) {
      outline(ctx, s, s.owner.color, true);
      label(ctx, s, `${s.owner.name} is editing`, s.owner.color);
    }
  }
  // Last, on top of everything: shapes whose change was just undone, in red.
  for (const s of shapes) {
    const flashUntil = deco.flashing.get(s.id);
    if (flashUntil === undefined || flashUntil <= deco.now) continue;
    const b = normalBox(s);
    const pad = 6 + s.lineWidth / 2;
    ctx.save();
    ctx.fillStyle = 'rgba(229, 62, 62, 0.14)';
    ctx.fillRect(b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad);
    ctx.shadowColor = '#e53e3e';
    ctx.shadowBlur = 12;
    ctx.strokeStyle = '#e53e3e';
    ctx.lineWidth = 3;
    ctx.strokeRect(b.x - pad, b.y - pad, b.w + 2 * pad, b.h + 2 * pad);
    ctx.restore();
  }
}
