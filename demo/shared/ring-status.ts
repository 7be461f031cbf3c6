import type { DemoClient, RingSummary } from './client.ts';
import { el } from './dom.ts';
import { describeError } from './errors.ts';
import { formatBytes, shortId } from './format.ts';

/** How often the status bar asks the runtime for news. */
const status_poll_ms = 1000;

/**
 * The ring status in the header of every page: a coloured dot (green: in the ring, amber:
 * joining, red: offline), peers seen and connected, this tab's id, storage used. Its title
 * lists the connected peers.
 */
export function mountRingStatus(slot: HTMLElement, client: DemoClient): void {
  const render = (s: RingSummary | null, problem?: string) => {
    slot.dataset.state = s?.state ?? 'offline';
    slot.dataset.peerId = s?.peerId === null || s?.peerId === undefined ? '' : String(s.peerId);
    const parts: Array<Node | string> = [el('span', { class: 'dot' })];
    if (client.kind === 'sandbox') parts.push(el('span', { class: 'kind', title: 'A ring of simulated peers inside this tab; nothing is shared with other tabs.' }, ['sandbox']));
    if (!s) {
      parts.push(el('span', {}, [problem ?? 'Offline']));
    } else {
      const state = s.state === 'in' ? 'In the ring' : s.state === 'joining' ? 'Joining…' : s.state === 'connecting' ? 'Connecting…' : 'Offline';
      parts.push(
        el('span', {}, [state]),
        el('span', { 'data-testid': 'peers-seen' }, [`${s.ringSize} peer${s.ringSize === 1 ? '' : 's'} seen`]),
        el('span', { 'data-testid': 'peers-connected' }, [`${s.connected.length} connected`]),
        el('span', { class: 'mono', title: `this tab's peer id: ${s.peerId ?? 'none yet'}` }, [`you ${shortId(s.peerId)}`]),
      );
      if (s.storageBytes !== null) parts.push(el('span', {}, [formatBytes(s.storageBytes)]));
      slot.title = s.connected.length ? `Connected to ${s.connected.map(shortId).join(', ')}` : 'No open connections';
    }
    slot.replaceChildren(...parts);
  };
  const poll = async () => {
    try {
      render(await client.summary());
    } catch (e) {
      render(null, describeError(e));
    }
  };
  void poll();
  setInterval(() => void poll(), status_poll_ms);
}
