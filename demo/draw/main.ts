import type { DemoClient } from '../shared/client.ts';
import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { startPage, toast } from '../shared/page.ts';
import { retryUnavailable } from '../shared/retry.ts';
import { LiveBoard } from './board.ts';
import { DrawStore, lock_idle_ms, lock_lease_ms, lock_renew_ms, newShapeId, path_points_max, ShapeLockedError, type Shape, type ShapeKind, type ShapePatch } from './draw-store.ts';
import { handleAt, pathFromPoints, resized, shapeAt, type Point } from './geometry.ts';
import { drawBoard } from './render.ts';
import { ChangeQueue } from './change-queue.ts';
import { identity, rememberName } from './identity.ts';
import './draw.css';

/** Logical size of the canvas (shapes are stored in these units; the page scales it to fit). */
export const canvas_width_px = 1000;
export const canvas_height_px = 640;
/** A drag shorter than this is a click. */
const click_slop_px = 3;

type Tool = 'select' | ShapeKind;
const tools: Array<[Tool, string, string]> = [
  ['select', '↖', 'Select, move and resize (V)'],
  ['rect', '▭', 'Rectangle (R)'],
  ['ellipse', '◯', 'Ellipse (E)'],
  ['line', '╱', 'Line (L)'],
  ['path', '✎', 'Freehand (P)'],
  ['text', 'T', 'Text (T): click where it goes'],
];

void startPage('draw', async (client: DemoClient, main: HTMLElement) => {
  const board = new URLSearchParams(location.search).get('board') ?? 'main';
  const me = identity();
  const store = new DrawStore(client.db, board, me);
  const canvas = el('canvas', { width: canvas_width_px, height: canvas_height_px, class: 'board', 'data-testid': 'canvas' });
  const ctx = canvas.getContext('2d')!;
  /** Width of a text shape: its text at the size drawBoard writes it (render.ts: 0.8 of the box height). */
  const textWidth = (text: string, height: number): number => {
    ctx.save();
    ctx.font = `${Math.max(8, height * 0.8)}px system-ui, sans-serif`;
    const w = ctx.measureText(text).width;
    ctx.restore();
    return Math.max(20, Math.ceil(w) + 4);
  };
  const layers = el('ul', { class: 'layers', 'data-testid': 'layers' });
  const selectionInfo = el('p', { class: 'small muted', 'data-testid': 'selection' }, ['Nothing selected.']);

  let tool: Tool = 'select';
  let selected: { id: string; confirmed: boolean; grab: Promise<boolean> } | null = null;
  let queue: ChangeQueue | null = null;
  let drag:
    | { kind: 'move'; start: Point; origin: Shape; moved: boolean }
    | { kind: 'resize'; handle: number; origin: Shape }
    | { kind: 'draft'; start: Point; shape: Shape; points: Point[] }
    | null = null;

  let frame = 0;
  const live = new LiveBoard(client.db, board, () => {
    if (!frame) frame = requestAnimationFrame(paint);
  });

  // ---------------------------------------------------------------- toolbar
  const stroke = el('input', { type: 'color', value: '#1d2430', title: 'Line colour', 'data-testid': 'stroke' });
  const fill = el('input', { type: 'color', value: '#9ec5fe', title: 'Fill colour', 'data-testid': 'fill' });
  const noFill = el('input', { type: 'checkbox', title: 'No fill' });
  const width = el('select', { title: 'Line width' }, [1, 2, 4, 8, 12].map((w) => el('option', { value: w, selected: w === 2 }, [`${w}px`])));
  const textInput = el('input', { type: 'text', value: 'Hello', size: 12, title: 'What the text tool writes; with a text selected, its text', 'data-testid': 'text-input' });
  const delBtn = el('button', { class: 'danger', title: 'Delete the selected shape (Del)', 'data-testid': 'delete' }, ['Delete']);
  const frontBtn = el('button', { title: 'Bring the selected shape to the front' }, ['To front']);
  const nameInput = el('input', { type: 'text', value: me.name, size: 10, maxlength: 40, 'data-testid': 'my-name' });
  nameInput.onchange = () => {
    // Shown to others from this tab's next hold on (the leases carry the name).
    me.name = nameInput.value.trim() || me.name;
    nameInput.value = me.name;
    rememberName(me.name);
  };
  const toolButtons = tools.map(([t, icon, title]) =>
    el('button', { class: `tool${t === tool ? ' on' : ''}`, title, 'data-tool': t, 'data-testid': `tool-${t}` }, [icon]),
  );
  const setTool = (t: Tool) => {
    tool = t;
    for (const b of toolButtons) b.classList.toggle('on', b.dataset.tool === t);
    canvas.style.cursor = t === 'select' ? 'default' : 'crosshair';
  };
  toolButtons.forEach((b) => (b.onclick = () => setTool(b.dataset.tool as Tool)));
  const style = () => ({ stroke: stroke.value, fill: noFill.checked ? 'none' : fill.value, lineWidth: Number(width.value) });

  main.classList.add('draw');
  main.append(
    el('div', { class: 'draw-toolbar panel' }, [
      el('div', { class: 'row' }, toolButtons),
      el('div', { class: 'row' }, [el('label', { class: 'small' }, ['Line ', stroke]), el('label', { class: 'small' }, ['Fill ', fill]), el('label', { class: 'small' }, [noFill, ' none']), width]),
      el('label', { class: 'small row' }, ['Text ', textInput]),
      el('div', { class: 'row' }, [frontBtn, delBtn]),
      el('span', { class: 'grow' }),
      el('label', { class: 'small me', style: `border-color:${me.color}`, title: 'The name other tabs see on the shapes you hold' }, ['You are ', nameInput]),
    ]),
    el('div', { class: 'draw-body' }, [
      el('div', { class: 'board-wrap panel' }, [canvas]),
      el('aside', { class: 'panel side' }, [
        el('h3', {}, ['Shapes']),
        selectionInfo,
        layers,
        el('p', { class: 'small muted' }, [
          'Selecting a shape takes it for you (a transaction); others see who holds it and cannot change it. Each move, resize, recolour or delete commits a transaction; you see it at once, and a change the ring refuses is undone with a red flash. ',
          `Your hold ends when you let go (click elsewhere, Esc: the last change and the release commit together), after ${lock_idle_ms / 1000} s without a change, or ${lock_lease_ms / 1000} s after your tab goes away.`,
        ]),
      ]),
    ]),
  );

  // ---------------------------------------------------------------- painting
  function paint(): void {
    frame = 0;
    const shapes = live.shapes();
    drawBoard(ctx, shapes, { selected: selected && { id: selected.id, confirmed: selected.confirmed }, myClient: me.client, now: Date.now(), flashing: live.flashing });
    renderLayers(shapes);
  }
  const repaint = () => {
    if (!frame) frame = requestAnimationFrame(paint);
  };

  function renderLayers(shapes: Shape[]): void {
    const now = Date.now();
    layers.replaceChildren(
      ...shapes
        .slice()
        .reverse()
        .map((s) => {
          const held = s.owner && s.owner.until > now ? s.owner : null;
          const mine = held?.client === me.client;
          const li = el(
            'li',
            {
              'data-id': s.id,
              'data-kind': s.kind,
              'data-owner': held ? held.name : '',
              'data-mine': String(mine),
              'data-box': `${Math.round(s.x)},${Math.round(s.y)},${Math.round(s.w)},${Math.round(s.h)}`,
              'data-stroke': s.stroke,
              'data-fill': s.fill,
              'data-line-width': s.lineWidth,
              'data-text': s.text,
              // Set while a change of this shape that failed is shown undone (red glow on the canvas).
              'data-flash': String((live.flashing.get(s.id) ?? 0) > now),
              'data-undone': live.undone.get(s.id) ?? 0,
              class: selected?.id === s.id ? 'selected' : '',
            },
            [
              el('span', { class: 'swatch', style: `background:${s.fill === 'none' ? '#fff' : s.fill};border-color:${s.stroke}` }),
              el('span', { class: 'grow' }, [s.kind === 'text' ? `“${s.text ?? ''}”` : s.kind]),
              held ? el('span', { class: 'holder', style: `color:${held.color}` }, [mine ? 'you' : held.name]) : null,
            ],
          );
          li.onclick = () => void select(s.id);
          return li;
        }),
    );
    if (selected) {
      const s = live.get(selected.id);
      selectionInfo.textContent = s ? `Selected: ${s.kind}${selected.confirmed ? ' (held by you)' : ' (taking it…)'}` : 'Nothing selected.';
    } else selectionInfo.textContent = 'Nothing selected.';
  }

  // ---------------------------------------------------------------- selection and changes
  const onFailure = (id: string, e: unknown) => {
    live.revert(id);
    if (e instanceof ShapeLockedError || (e instanceof Error && e.name === 'ShapeLostError')) {
      if (selected?.id === id) {
        selected = null;
        queue = null;
      }
      toast(`Undone: ${describeError(e)}.`, 'error');
    } else toast(`Undone: ${describeError(e)}`, 'error');
    repaint();
  };

  /** Let go of the selected shape: its pending change and the release commit in one transaction. */
  async function deselect(): Promise<void> {
    const was = selected;
    const q = queue;
    selected = null;
    queue = null;
    repaint();
    if (!was || !q) return;
    await q.finish();
  }

  /** The toolbar shows the style of the selected shape, so a control changes what it shows. */
  function showStyle(s: Shape): void {
    stroke.value = s.stroke;
    if (s.fill !== 'none') fill.value = s.fill;
    noFill.checked = s.fill === 'none';
    width.value = String(s.lineWidth);
    if (![...width.options].some((o) => o.value === width.value)) width.append(el('option', { value: s.lineWidth }, [`${s.lineWidth}px`]));
    if (s.kind === 'text') textInput.value = s.text ?? '';
  }

  /** Take a shape for this tab; the UI acts at once and is undone if the take fails. */
  async function select(id: string): Promise<boolean> {
    if (selected?.id === id) return true;
    const s = live.committedShape(id);
    if (s && store.heldByOther(s.owner)) {
      live.flash(id, 1000);
      toast(`${s.owner!.name} is editing this shape; wait until they let go.`, 'error');
      return false;
    }
    void deselect();
    if (s) showStyle(s);
    const grab = store.grab(id).then(
      (taken) => {
        live.accept(id, taken);
        if (selected?.id === id) selected.confirmed = true;
        repaint();
        return true;
      },
      (e: unknown) => {
        if (selected?.id === id) {
          selected = null;
          queue = null;
        }
        onFailure(id, e);
        return false;
      },
    );
    selected = { id, confirmed: false, grab };
    queue = new ChangeQueue(id, grab, store, live, onFailure);
    repaint();
    return true;
  }

  /** Change the selected shape: shown at once, committed by the queue. */
  function change(patch: ShapePatch): void {
    if (!selected || !queue) return;
    const cur = live.get(selected.id);
    if (!cur) return;
    live.setLocal({ ...cur, ...patch });
    queue.push(patch);
  }

  async function removeSelected(): Promise<void> {
    if (!selected || !queue) return;
    const id = selected.id;
    const q = queue;
    selected = null;
    queue = null;
    await q.idle();
    try {
      await store.remove(id);
      live.confirm(undefined, id);
    } catch (e) {
      onFailure(id, e);
    }
  }

  setInterval(() => {
    if (selected?.confirmed && queue) {
      if (Date.now() - queue.lastChangeAt >= lock_idle_ms) {
        // Nobody touched it for a while: let others have it (a hold ends on commit or by time).
        toast(`Let go of the selected shape after ${lock_idle_ms / 1000} s without a change.`, 'info');
        void deselect();
      } else queue.push({}, false); // renew the hold before its lease ends
    }
    repaint(); // leases of others end by time
  }, lock_renew_ms);

  // ---------------------------------------------------------------- pointer
  const toCanvas = (e: PointerEvent): Point => {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height };
  };

  canvas.onpointerdown = (e) => {
    canvas.setPointerCapture(e.pointerId);
    // Keys (Delete, Esc, tool letters) act on the drawing again, not on a toolbar field.
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    const p = toCanvas(e);
    if (tool === 'select') {
      const cur = selected ? live.get(selected.id) : undefined;
      if (cur && selected) {
        const h = handleAt(cur, p);
        if (h >= 0) {
          drag = { kind: 'resize', handle: h, origin: cur };
          return;
        }
      }
      const hit = shapeAt(live.shapes(), p);
      if (!hit) {
        void deselect();
        return;
      }
      void select(hit.id).then((ok) => {
        if (!ok && drag?.kind === 'move' && drag.origin.id === hit.id) drag = null;
      });
      drag = { kind: 'move', start: p, origin: hit, moved: false };
      return;
    }
    void deselect();
    const base = { id: newShapeId(), kind: tool, x: p.x, y: p.y, w: 0, h: 0, ...style(), owner: null, rev: 0 } satisfies Shape;
    if (tool === 'text') {
      const text = textInput.value.trim() || 'Text';
      const size = 28;
      void create({ ...base, y: p.y - size / 2, w: textWidth(text, size), h: size, text, fill: 'none' });
      return;
    }
    drag = { kind: 'draft', start: p, shape: base, points: [p] };
  };

  canvas.onpointermove = (e) => {
    if (!drag) return;
    const p = toCanvas(e);
    if (drag.kind === 'move') {
      const dx = p.x - drag.start.x;
      const dy = p.y - drag.start.y;
      if (!drag.moved && Math.hypot(dx, dy) < click_slop_px) return;
      drag.moved = true;
      if (selected?.id === drag.origin.id) change({ x: drag.origin.x + dx, y: drag.origin.y + dy });
    } else if (drag.kind === 'resize') {
      change(resized(drag.origin, drag.handle, p));
    } else {
      const d = drag;
      if (d.shape.kind === 'path') {
        d.points.push(p);
        live.setLocal({ ...d.shape, ...pathFromPoints(d.points, path_points_max) });
      } else live.setLocal({ ...d.shape, w: p.x - d.start.x, h: p.y - d.start.y });
    }
  };

  canvas.onpointerup = () => {
    const d = drag;
    drag = null;
    if (d?.kind !== 'draft') return;
    const draft = live.get(d.shape.id);
    if (!draft || (Math.abs(draft.w) < click_slop_px && Math.abs(draft.h) < click_slop_px)) {
      live.confirm(undefined, d.shape.id);
      return;
    }
    void create(draft.kind === 'line' ? draft : { ...draft, ...normal(draft) });
  };

  const normal = (s: Shape) => ({ x: Math.min(s.x, s.x + s.w), y: Math.min(s.y, s.y + s.h), w: Math.abs(s.w), h: Math.abs(s.h) });

  async function create(draft: Shape): Promise<void> {
    live.setLocal(draft);
    try {
      const { owner: _o, rev: _r, ...fields } = draft;
      const s = await store.create(fields);
      live.confirm(s, s.id);
      selected = { id: s.id, confirmed: true, grab: Promise.resolve(true) };
      queue = new ChangeQueue(s.id, selected.grab, store, live, onFailure);
      setTool('select');
    } catch (e) {
      onFailure(draft.id, e);
    }
  }

  // ---------------------------------------------------------------- style changes and keys
  // Each control changes only its own property of the selected shape.
  stroke.oninput = () => change({ stroke: stroke.value });
  fill.oninput = () => {
    noFill.checked = false;
    change({ fill: fill.value });
  };
  noFill.onchange = () => change({ fill: noFill.checked ? 'none' : fill.value });
  width.onchange = () => change({ lineWidth: Number(width.value) });
  textInput.oninput = () => {
    const s = selected ? live.get(selected.id) : undefined;
    if (s?.kind !== 'text') return;
    const text = textInput.value || ' ';
    change({ text, w: textWidth(text, Math.abs(s.h)) });
  };
  delBtn.onclick = () => void removeSelected();
  frontBtn.onclick = () => {
    if (selected) void store.bringToFront(selected.id).catch((e: unknown) => toast(describeError(e), 'error'));
  };
  window.addEventListener('keydown', (e: KeyboardEvent) => {
    if (e.target instanceof HTMLInputElement) return;
    if (e.key === 'Delete' || e.key === 'Backspace') void removeSelected();
    else if (e.key === 'Escape') void deselect();
    else {
      const t = ({ v: 'select', r: 'rect', e: 'ellipse', l: 'line', p: 'path', t: 'text' } as Record<string, Tool>)[e.key.toLowerCase()];
      if (t) setTool(t);
    }
  });
  addEventListener('pagehide', () => {
    if (selected) void store.release(selected.id).catch(() => {});
  });

  const load = async (): Promise<void> => {
    try {
      await retryUnavailable(() => live.start());
    } catch (e) {
      const again = el('button', {}, ['Try again']);
      const notice = el('div', { class: 'notice error', role: 'alert' }, [el('p', {}, [`Could not load the drawing: ${describeError(e)}`]), again]);
      again.onclick = () => {
        notice.remove();
        void live.stop().then(load);
      };
      main.prepend(notice);
    }
    repaint();
  };
  await load();
});
