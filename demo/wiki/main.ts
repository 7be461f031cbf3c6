import type { DemoClient } from '../shared/client.ts';
import { el } from '../shared/dom.ts';
import { describeError } from '../shared/errors.ts';
import { startPage } from '../shared/page.ts';
import { retryUnavailable } from '../shared/retry.ts';
import { aboutView } from './about-view.ts';
import { editorView, type EditorHandle } from './editor.ts';
import { importView } from './import-view.ts';
import { allPagesView, historyView, linksHereView } from './list-views.ts';
import { pageView } from './page-view.ts';
import { href, main_page, parseRoute, type Route } from './router.ts';
import { normalizeTitle } from './titles.ts';
import { key, WikiStore, type PageRecord } from './wiki-store.ts';
import './wiki.css';

/** A view that takes longer than this to load says it is waiting (and for how long). */
const slow_view_ms = 2000;

function sidebar(): HTMLElement {
  const go = el('input', { type: 'search', placeholder: 'Go to page…', 'data-testid': 'goto' });
  const form = el('form', { class: 'goto' }, [go]);
  form.onsubmit = (e) => {
    e.preventDefault();
    const t = normalizeTitle(go.value);
    if (t) location.hash = href.page(t);
    go.value = '';
  };
  return el('aside', { class: 'wiki-side' }, [
    el('div', { class: 'wiki-logo' }, ['Tab', el('span', {}, ['pedia'])]),
    form,
    el('nav', {}, [
      el('a', { href: href.page(main_page) }, ['Main page']),
      el('a', { href: href.all() }, ['All pages']),
      el('a', { href: href.import(), 'data-testid': 'nav-import' }, ['Import']),
      el('a', { href: href.about() }, ['About']),
    ]),
  ]);
}

function tabs(route: Route): HTMLElement | null {
  if (!('title' in route)) return null;
  const t = normalizeTitle(route.title);
  const items: Array<[string, string, boolean]> = [
    ['Read', href.page(t), route.view === 'page' || route.view === 'revision'],
    ['Edit', href.edit(t), route.view === 'edit'],
    ['History', href.history(t), route.view === 'history'],
    ['What links here', href.linksHere(t), route.view === 'linkshere'],
  ];
  return el('div', { class: 'wiki-tabs' }, items.map(([label, h, on]) => el('a', { href: h, class: on ? 'current' : '', 'data-testid': `tab-${label.split(' ')[0]!.toLowerCase()}` }, [label])));
}

void startPage('wiki', async (client: DemoClient, main: HTMLElement) => {
  const store = new WikiStore(client.db);
  const content = el('div', { class: 'wiki-content' });
  main.classList.add('wiki');
  main.append(sidebar(), el('div', { class: 'wiki-main' }, [content]));

  let generation = 0;
  let stopWatch: (() => Promise<void>) | null = null;
  let editor: EditorHandle | null = null;

  /** Watch the shown page: another tab's save re-renders it here (or warns the editor). */
  const watchPage = async (title: string, shownRev: number, gen: number) => {
    const stop = await client.db.watch(key.page(title), (value) => {
      const rec = value as PageRecord | undefined;
      if (gen !== generation || !rec || rec.rev === shownRev) return;
      shownRev = rec.rev;
      if (editor) editor.pageChanged(rec.rev);
      else void show(false);
    });
    if (gen === generation) stopWatch = stop;
    else void stop();
  };

  const show = async (scrollTop = true) => {
    const gen = ++generation;
    const route = parseRoute(location.hash);
    editor = null;
    if (stopWatch) void stopWatch().catch(() => {});
    stopWatch = null;
    try {
      const build = async (): Promise<HTMLElement> => {
        switch (route.view) {
          case 'page':
            return pageView(store, route.title, { followRedirect: route.redirect !== false });
          case 'revision':
            return pageView(store, route.title, { n: route.n });
          case 'edit':
            editor = await editorView(store, route.title);
            return editor.element;
          case 'history':
            return historyView(store, route.title);
          case 'linkshere':
            return linksHereView(store, route.title);
          case 'all':
            return allPagesView(store, route.letter);
          case 'import':
            return importView(store);
          case 'about':
            return aboutView();
        }
      };
      // Right after tabs (re)join, replicas may not answer yet: wait for them, and say so.
      const started = Date.now();
      const slow = setInterval(() => {
        if (gen !== generation) return clearInterval(slow);
        content.replaceChildren(
          el('p', { class: 'notice info', 'data-testid': 'waiting' }, [`Waiting for the peers that hold this page to answer (${Math.round((Date.now() - started) / 1000)} s)… The status at the top shows whether this tab is connected.`]),
        );
      }, slow_view_ms);
      const view = await retryUnavailable(build).finally(() => clearInterval(slow));
      if (gen !== generation) return;
      content.replaceChildren(...[tabs(route), view].filter((x): x is HTMLElement => x !== null));
      if (scrollTop) scrollTo(0, 0);
      if (route.view === 'page' || route.view === 'edit') {
        const shown = view.dataset.title ?? normalizeTitle(route.title);
        const rev = Number(view.dataset.rev ?? (await store.page(shown))?.rev ?? 0);
        await watchPage(shown, rev, gen);
        const rec = await store.page(shown);
        // A save that was interrupted left lists to update: any tab finishes the job.
        if (rec && rec.indexed < rec.rev) void store.finishIndexing(shown).then(() => {
            if (gen === generation && route.view === 'page') void show(false);
          });
      }
    } catch (e) {
      if (gen !== generation) return;
      const again = el('button', { 'data-testid': 'retry' }, ['Try again']);
      again.onclick = () => void show(false);
      content.replaceChildren(el('div', { class: 'notice error', role: 'alert' }, [el('p', {}, [`Could not show this: ${describeError(e)}`]), again]));
    }
  };
  addEventListener('hashchange', () => void show());
  await show();
});
