import { svg } from '../shared/dom.ts';
import { shortId } from '../shared/format.ts';
import type { PeerStatus, ReplicaInfo } from '../shared/client.ts';

/** Size of the identifier circle (2^52, src/core/id.ts). */
const id_space = 2 ** 52;
const view_px = 440;
const radius_px = 160;
const centre = view_px / 2;

export interface RingPicture {
  status: PeerStatus | null;
  /** Every peer this tab knows of (status fields plus open connections). */
  connected: number[];
  /** A looked-up key: its position and where its replicas are. */
  key: { name: string; position: number; replicas: ReplicaInfo[] } | null;
}

function at(id: number, r = radius_px): { x: number; y: number } {
  // 0 at the top, clockwise, as rings are drawn in the papers.
  const a = (id / id_space) * 2 * Math.PI - Math.PI / 2;
  return { x: centre + r * Math.cos(a), y: centre + r * Math.sin(a) };
}

/** Peers this tab knows, with the roles they play for it. */
export function knownPeers(p: RingPicture): Map<number, Set<string>> {
  const roles = new Map<number, Set<string>>();
  const add = (id: number | null | undefined, role: string) => {
    if (id === null || id === undefined) return;
    if (!roles.has(id)) roles.set(id, new Set());
    roles.get(id)!.add(role);
  };
  const s = p.status;
  if (s) {
    add(s.id, 'self');
    add(s.pred, 'pred');
    s.succs.forEach((id, i) => add(id, i === 0 ? 'succ' : 'succ-list'));
    s.fingers.forEach((id) => add(id, 'finger'));
    s.suspected.forEach((id) => add(id, 'suspected'));
  }
  p.connected.forEach((id) => add(id, 'connected'));
  return roles;
}

const colours: Record<string, string> = { self: '#2f6fde', succ: '#1c8a4a', pred: '#805ad5', finger: '#dd6b20', 'succ-list': '#38a169', suspected: '#c53030', connected: '#5d6778' };

function mainRole(r: Set<string>): string {
  for (const k of ['self', 'suspected', 'succ', 'pred', 'succ-list', 'finger', 'connected']) if (r.has(k)) return k;
  return 'connected';
}

/** The ring as a circle: every known peer, this tab, successor, predecessor, fingers, a key's replicas. */
export function ringSvg(p: RingPicture): SVGSVGElement {
  const root = svg('svg', { viewBox: `0 0 ${view_px} ${view_px}`, class: 'ring', role: 'img', 'aria-label': 'the ring' });
  root.append(svg('circle', { cx: centre, cy: centre, r: radius_px, fill: 'none', stroke: '#dde1e8', 'stroke-width': 2 }));
  // Quarter marks inside the circle (peer labels go outside): with r = 4, the replicas of a
  // key sit a quarter apart.
  for (let q = 0; q < 4; q++) {
    const a = at((q * id_space) / 4, radius_px - 6);
    const b = at((q * id_space) / 4, radius_px + 6);
    root.append(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: '#c5cbd6', 'stroke-width': 1.5 }));
    const t = at((q * id_space) / 4, radius_px - 16);
    root.append(svg('text', { x: t.x, y: t.y, 'text-anchor': 'middle', 'dominant-baseline': 'middle', class: 'tick' }, [`${q}/4`]));
  }
  const roles = knownPeers(p);
  const self = p.status?.id;
  if (self !== undefined) {
    const a = at(self);
    for (const f of p.status!.fingers) {
      const b = at(f);
      root.append(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colours.finger!, 'stroke-width': 1.2, 'stroke-dasharray': '4 3', opacity: 0.7 }));
    }
    const succ = p.status!.succs[0];
    if (succ !== undefined) {
      const b = at(succ);
      root.append(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colours.succ!, 'stroke-width': 2.5 }));
    }
    if (p.status!.pred !== null) {
      const b = at(p.status!.pred);
      root.append(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: colours.pred!, 'stroke-width': 2.5 }));
    }
  }
  if (p.key) {
    for (const r of p.key.replicas) {
      const pos = at(r.position, radius_px - 26);
      if (r.peer !== null) {
        const h = at(r.peer);
        root.append(svg('line', { x1: pos.x, y1: pos.y, x2: h.x, y2: h.y, stroke: '#b83280', 'stroke-width': 1.5 }));
      }
      root.append(
        svg('rect', { x: pos.x - 5, y: pos.y - 5, width: 10, height: 10, fill: '#b83280', transform: `rotate(45 ${pos.x} ${pos.y})` }, [svg('title', {}, [`replica ${r.slot} of “${p.key.name}”`])]),
      );
    }
  }
  for (const [id, r] of roles) {
    const c = at(id);
    const role = mainRole(r);
    const big = role === 'self';
    const node = svg('g', { class: 'peer', 'data-peer': id, 'data-roles': [...r].join(' ') }, [
      svg('circle', { cx: c.x, cy: c.y, r: big ? 10 : 7, fill: colours[role] ?? '#5d6778', stroke: '#fff', 'stroke-width': 2 }),
      svg('title', {}, [`${shortId(id)} (${id}): ${[...r].join(', ')}`]),
    ]);
    const lbl = at(id, radius_px + (big ? 18 : 15));
    const anchor = lbl.x > centre + 8 ? 'start' : lbl.x < centre - 8 ? 'end' : 'middle';
    node.append(svg('text', { x: lbl.x, y: lbl.y, 'text-anchor': anchor, 'dominant-baseline': 'middle', class: `peer-label${big ? ' self' : ''}` }, [shortId(id)]));
    root.append(node);
  }
  return root;
}

export function legend(): HTMLElement {
  const items: Array<[string, string]> = [
    ['self', 'this tab'],
    ['succ', 'successor'],
    ['pred', 'predecessor'],
    ['succ-list', 'successor list'],
    ['finger', 'finger'],
    ['suspected', 'suspected'],
    ['connected', 'connected only'],
  ];
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const [k, label] of items) {
    const li = document.createElement('li');
    li.innerHTML = `<span class="dot" style="background:${colours[k]}"></span>`;
    li.append(label);
    ul.append(li);
  }
  const li = document.createElement('li');
  li.innerHTML = '<span class="diamond"></span>';
  li.append('replica of a key');
  ul.append(li);
  return ul;
}
