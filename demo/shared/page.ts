import type { DemoClient } from './client.ts';
import { connectDemo, demoOptions, runtimeAvailable, type DemoOptions } from './connect-demo.ts';
import { describeError } from './errors.ts';
import { mountRingStatus } from './ring-status.ts';
import { el } from './dom.ts';
import './style.css';

export type AppName = 'home' | 'console' | 'draw' | 'wiki';

const apps: Array<{ name: AppName; href: string; label: string }> = [
  { name: 'home', href: './index.html', label: 'Overview' },
  { name: 'console', href: './console.html', label: 'Console' },
  { name: 'draw', href: './draw.html', label: 'Draw' },
  { name: 'wiki', href: './wiki.html', label: 'Wiki' },
];

/** A link to another demo page that keeps this page's ring options (room, signaling). */
export function appHref(href: string): string {
  return href + location.search;
}

/** The header every page shows: name, navigation, and the ring status on the right. */
function header(current: AppName): { bar: HTMLElement; statusSlot: HTMLElement } {
  const statusSlot = el('div', { class: 'ring-status', 'data-state': 'connecting', 'data-testid': 'ring-status' }, [el('span', { class: 'dot' }), el('span', {}, ['Connecting…'])]);
  const nav = el(
    'nav',
    {},
    apps.map((a) => el('a', { href: appHref(a.href), class: a.name === current ? 'current' : '' }, [a.label])),
  );
  const bar = el('header', { class: 'topbar' }, [el('a', { class: 'brand', href: appHref('./index.html') }, ['tab', el('span', {}, ['ring'])]), nav, statusSlot]);
  return { bar, statusSlot };
}

/**
 * Build the page frame, connect to the ring, then hand the client to the app. While
 * connecting the page says so; when connecting fails it says why and offers a retry or a
 * sandbox ring inside this tab.
 */
export async function startPage(current: AppName, run: (client: DemoClient, main: HTMLElement) => void | Promise<void>): Promise<void> {
  const { bar, statusSlot } = header(current);
  const main = el('main', {});
  document.body.replaceChildren(bar, main, el('div', { class: 'toast-area', id: 'toasts' }));
  const opts = demoOptions();
  await attempt(opts, main, statusSlot, run);
}

async function attempt(opts: DemoOptions, main: HTMLElement, statusSlot: HTMLElement, run: (client: DemoClient, main: HTMLElement) => void | Promise<void>): Promise<void> {
  const where = opts.sandbox || !runtimeAvailable() ? 'Starting a sandbox ring in this tab…' : `Joining ring “${opts.room}” through ${opts.signaling}…`;
  main.replaceChildren(el('div', { class: 'boot' }, [el('div', { class: 'spinner' }), el('p', {}, [where])]));
  let client: DemoClient;
  try {
    client = await connectDemo(opts);
  } catch (e) {
    statusSlot.dataset.state = 'offline';
    statusSlot.lastElementChild!.textContent = 'Not connected';
    const retry = el('button', { class: 'primary' }, ['Try again']);
    const sandbox = el('button', {}, ['Use a sandbox ring in this tab']);
    retry.onclick = () => void attempt(opts, main, statusSlot, run);
    sandbox.onclick = () => void attempt({ ...opts, sandbox: true }, main, statusSlot, run);
    main.replaceChildren(
      el('div', { class: 'boot' }, [
        el('h2', {}, ['Could not join the ring']),
        el('p', { class: 'notice error', 'data-testid': 'connect-error' }, [describeError(e)]),
        el('p', { class: 'muted small' }, [`Is the signaling server running at ${opts.signaling}? (npm start runs it.)`]),
        el('div', { class: 'row', style: 'justify-content:center' }, [retry, sandbox]),
      ]),
    );
    return;
  }
  mountRingStatus(statusSlot, client);
  addEventListener('pagehide', () => void client.close());
  main.replaceChildren();
  (window as unknown as { demoClient: DemoClient }).demoClient = client;
  await run(client, main);
  document.body.dataset.ready = 'true';
}

/** A short message in the corner that goes away by itself. */
export function toast(text: string, kind: 'ok' | 'error' | 'info' = 'info', ms = 5000): void {
  const area = document.getElementById('toasts');
  if (!area) return;
  const t = el('div', { class: `notice toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, [text]);
  area.append(t);
  setTimeout(() => t.remove(), ms);
}
