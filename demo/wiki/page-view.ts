import { el } from '../shared/dom.ts';
import { formatTime } from '../shared/format.ts';
import { wikipediaAttribution } from './about-view.ts';
import { href, main_page } from './router.ts';
import { namespaceOf, normalizeTitle } from './titles.ts';
import type { Page, WikiStore } from './wiki-store.ts';
import { analyse, render } from './wikitext.ts';

/** Rendered wikitext with red links: looks up which linked pages exist first. */
export async function renderWithLinks(store: WikiStore, text: string): Promise<{ html: string; categories: string[]; languages: string[] }> {
  const { links } = analyse(text);
  const existing = await store.existing(links);
  return render(text, { exists: (t) => existing.has(t), href: href.page });
}

function htmlBlock(html: string, cls: string): HTMLElement {
  const d = el('div', { class: cls });
  // The renderer escapes all text and writes every tag itself (see wikitext.ts).
  d.innerHTML = html;
  return d;
}

function categoryBar(categories: string[]): HTMLElement | null {
  if (categories.length === 0) return null;
  return el('div', { class: 'catlinks', 'data-testid': 'categories' }, [
    el('strong', {}, [categories.length === 1 ? 'Category: ' : 'Categories: ']),
    ...categories.flatMap((c, i) => [i > 0 ? ' · ' : '', el('a', { href: href.page(`Category:${c}`) }, [c])]),
  ]);
}

/** A page (or an old revision of it): title, tabs, rendered text, categories. */
export async function pageView(store: WikiStore, title: string, opts: { n?: number; followRedirect?: boolean; from?: string } = {}): Promise<HTMLElement> {
  const t = normalizeTitle(title);
  const page = await store.load(t, opts.n);
  if (page && page.record.redirect && opts.followRedirect !== false && opts.n === undefined && !opts.from) {
    return pageView(store, page.record.redirect, { from: t });
  }
  const parts: Array<Node | null> = [];
  if (opts.from) parts.push(el('p', { class: 'muted small redirected' }, ['(Redirected from ', el('a', { href: href.noRedirect(opts.from) }, [opts.from]), ')']));
  if (!page) {
    parts.push(await missingPage(store, t));
  } else {
    parts.push(revisionNote(page, opts.n));
    if (page.record.indexed < page.record.rev) parts.push(el('p', { class: 'notice info small', 'data-testid': 'indexing' }, ['Category and backlink lists of this page are being brought up to date…']));
    const r = await renderWithLinks(store, page.text);
    parts.push(htmlBlock(r.html, 'wikitext'));
    if (r.languages.length) parts.push(el('p', { class: 'muted small languages' }, [`Other languages: ${r.languages.join(', ')}`]));
    parts.push(categoryBar(r.categories));
    if (page.record.history.some((h) => h.comment.startsWith('import'))) parts.push(wikipediaAttribution(page.record.title));
  }
  if (namespaceOf(t) === 'Category') parts.push(await categoryMembers(store, t.slice('Category:'.length)));
  return el('article', { class: 'page', 'data-testid': 'page', 'data-title': t, 'data-rev': page?.record.rev ?? 0 }, [el('h1', { 'data-testid': 'page-title' }, [t]), ...parts]);
}

function revisionNote(page: Page, n: number | undefined): HTMLElement | null {
  const r = page.revision;
  if (n === undefined || n === page.record.rev) {
    return el('p', { class: 'muted small byline' }, [`Revision ${r.n} · ${formatTime(r.time)} · by ${r.author}`, r.comment ? ` · “${r.comment}”` : '']);
  }
  return el('p', { class: 'notice info small' }, [
    `An old revision (${r.n} of ${page.record.rev}) by ${r.author}, ${formatTime(r.time)}. `,
    el('a', { href: href.page(page.record.title) }, ['See the current one']),
  ]);
}

async function missingPage(store: WikiStore, title: string): Promise<HTMLElement> {
  const backlinks = await store.linksHere(title);
  const shown = 20;
  return el('div', { class: 'missing', 'data-testid': 'missing-page' }, [
    el('p', {}, ['There is no page with this title yet. ', el('a', { href: href.edit(title), class: 'create' }, ['Create it']), '.']),
    title === main_page
      ? el('p', { class: 'notice info' }, [
          'This wiki is empty or has no main page. Write one, or ',
          el('a', { href: href.import(), 'data-testid': 'welcome-import' }, ['import the sample of the 2006 Wikipedia']),
          ' (491 pages) and browse it from ',
          el('a', { href: href.all() }, ['All pages']),
          '.',
        ])
      : null,
    backlinks.length
      ? el('p', { class: 'muted' }, [
          `${backlinks.length} page${backlinks.length === 1 ? ' links' : 's link'} here: `,
          ...backlinks.slice(0, shown).flatMap((b, i) => [i ? ', ' : '', el('a', { href: href.page(b) }, [b])]),
          backlinks.length > shown ? [' … ', el('a', { href: href.linksHere(title) }, ['all of them'])] : '',
        ].flat())
      : null,
  ]);
}

async function categoryMembers(store: WikiStore, name: string): Promise<HTMLElement> {
  const members = await store.categoryMembers(name);
  return el('section', { class: 'category-members', 'data-testid': 'category-members' }, [
    el('h2', {}, [`Pages in category “${name}”`]),
    members.length
      ? el('ul', { class: 'columns' }, members.map((m) => el('li', {}, [el('a', { href: href.page(m) }, [m])])))
      : el('p', { class: 'muted' }, ['This category has no pages.']),
  ]);
}
