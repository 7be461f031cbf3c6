import { el } from './shared/dom.ts';
import { appHref, startPage } from './shared/page.ts';
import './home.css';

const cards = [
  {
    href: './console.html',
    title: 'Ring console',
    text: 'The ring as a circle: every known peer, this tab, its successor, predecessor and fingers. Store and look up keys and see which peers hold their four replicas, at which version, and whether they are authoritative or locked. Message and transaction rates and latency over time; finger table, open transactions and connections.',
  },
  {
    href: './draw.html',
    title: 'Draw',
    text: 'A shared canvas (DeTransDraw): rectangles, ellipses, lines, freehand and text, each an item. Selecting a shape locks it for you by a transaction; every change shows at once, commits a transaction and shows up live in the other tabs; a change the ring refuses is undone in red.',
  },
  {
    href: './wiki.html',
    title: 'Wiki',
    text: 'A distributed Wikipedia on the Scalaris data model: pages, revisions, categories and backlinks, each save one transaction that detects edit conflicts. History, red links, what links here. Import a real MediaWiki export: 491 pages of the 2006 Wikipedia.',
  },
];

void startPage('home', (client, main) => {
  main.append(
    el('section', { class: 'hero' }, [
      el('h1', {}, ['Every tab is a peer']),
      el('p', { class: 'muted' }, [
        'tabring is a transactional key/value store that lives in the browser tabs that use it: a relaxed ring, four replicas of every item, Paxos Commit over WebRTC, IndexedDB for storage. Open any of these in several tabs: they all join one ring.',
      ]),
      client.kind === 'sandbox'
        ? el('p', { class: 'notice info' }, ['This tab runs a sandbox ring of simulated peers (the browser runtime is not available here), so other tabs will not see its data.'])
        : null,
    ]),
    el(
      'section',
      { class: 'cards' },
      cards.map((c) => el('a', { class: 'card panel', href: appHref(c.href) }, [el('h2', {}, [c.title]), el('p', {}, [c.text])])),
    ),
  );
});
