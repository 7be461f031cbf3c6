import { el } from '../shared/dom.ts';
import notice from './NOTICE.txt?raw';

/** About the wiki demo, with the attribution and licence of the sample content. */
export function aboutView(): HTMLElement {
  return el('article', { class: 'page', 'data-testid': 'about' }, [
    el('h1', {}, ['About this wiki']),
    el('p', {}, [
      'A distributed wiki after Scalaris’ Wikipedia: every page, revision, category list and backlink list is an item of the tabring store, replicated on four peers; saving a page is one transaction that detects concurrent edits.',
    ]),
    el('h2', {}, ['Sample content: attribution and licence']),
    el('pre', { class: 'notice-text' }, [notice]),
  ]);
}

/** The line shown under a page whose text came from the sample export. */
export function wikipediaAttribution(title: string): HTMLElement {
  const history = `https://en.wikipedia.org/w/index.php?title=${encodeURIComponent(title.replace(/ /g, '_'))}&action=history`;
  return el('p', { class: 'muted small attribution' }, [
    'Text from the English Wikipedia (March 2006), by its contributors (',
    el('a', { href: history, rel: 'noopener noreferrer', target: '_blank' }, ['authors']),
    '), under ',
    el('a', { href: 'https://creativecommons.org/licenses/by-sa/3.0/', rel: 'noopener noreferrer', target: '_blank' }, ['CC BY-SA 3.0']),
    '. See About.',
  ]);
}
