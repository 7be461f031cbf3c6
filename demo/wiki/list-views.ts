import { el } from '../shared/dom.ts';
import { formatBytes, formatTime } from '../shared/format.ts';
import { href } from './router.ts';
import { normalizeTitle } from './titles.ts';
import type { WikiStore } from './wiki-store.ts';

/** Revision history of a page, newest first. */
export async function historyView(store: WikiStore, title: string): Promise<HTMLElement> {
  const t = normalizeTitle(title);
  const rec = await store.page(t);
  const head = el('h1', {}, [`History of “${t}”`]);
  if (!rec) return el('article', { class: 'page' }, [head, el('p', { class: 'muted' }, ['This page does not exist.'])]);
  const rows = rec.history.map((h) =>
    el('tr', {}, [
      el('td', {}, [el('a', { href: href.revision(t, h.n) }, [`#${h.n}`])]),
      el('td', {}, [formatTime(h.time)]),
      el('td', {}, [h.author]),
      el('td', {}, [formatBytes(h.bytes)]),
      el('td', { class: 'muted' }, [h.comment]),
    ]),
  );
  const older = rec.rev - rec.history.length;
  return el('article', { class: 'page', 'data-testid': 'history' }, [
    head,
    el('table', { class: 'data' }, [el('tr', {}, ['Revision', 'Time', 'Author', 'Size', 'Summary'].map((h) => el('th', {}, [h]))), ...rows]),
    older > 0 ? el('p', { class: 'muted small' }, [`${older} older revision${older === 1 ? '' : 's'}: open them by number, e.g. `, el('a', { href: href.revision(t, 1) }, ['revision 1']), '.']) : null,
  ]);
}

/** Pages that link to a title (it need not exist). */
export async function linksHereView(store: WikiStore, title: string): Promise<HTMLElement> {
  const t = normalizeTitle(title);
  const list = await store.linksHere(t);
  return el('article', { class: 'page', 'data-testid': 'links-here' }, [
    el('h1', {}, ['What links here: ', el('a', { href: href.page(t) }, [t])]),
    list.length
      ? el('ul', { class: 'columns' }, list.map((s) => el('li', {}, [el('a', { href: href.page(s) }, [s])])))
      : el('p', { class: 'muted' }, ['No page links here.']),
  ]);
}

const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');

/** All pages, one starting letter at a time (the title index is kept per letter). */
export async function allPagesView(store: WikiStore, letter = 'A'): Promise<HTMLElement> {
  const titles = await store.titlesStartingWith(letter);
  return el('article', { class: 'page', 'data-testid': 'all-pages' }, [
    el('h1', {}, ['All pages']),
    el('p', { class: 'letters' }, letters.map((l) => el('a', { href: href.all(l), class: l === letter ? 'current' : '' }, [l]))),
    titles.length
      ? el('ul', { class: 'columns' }, titles.map((s) => el('li', {}, [el('a', { href: href.page(s) }, [s])])))
      : el('p', { class: 'muted' }, [`No page starts with “${letter}”.`]),
  ]);
}
