/** The wiki's places, kept in the URL's hash so the ring options in its query stay put. */
export type Route =
  | { view: 'page'; title: string; redirect?: boolean }
  | { view: 'edit'; title: string }
  | { view: 'history'; title: string }
  | { view: 'revision'; title: string; n: number }
  | { view: 'linkshere'; title: string }
  | { view: 'all'; letter?: string }
  | { view: 'import' }
  | { view: 'about' };

export const main_page = 'Main Page';

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  const [view = '', ...rest] = parts;
  const arg = decodeURIComponent(rest.join('/'));
  switch (view) {
    case 'edit':
      return { view: 'edit', title: arg || main_page };
    case 'history':
      return { view: 'history', title: arg || main_page };
    case 'rev': {
      const slash = arg.lastIndexOf('/');
      return { view: 'revision', title: arg.slice(0, slash), n: Number(arg.slice(slash + 1)) || 1 };
    }
    case 'linkshere':
      return { view: 'linkshere', title: arg || main_page };
    case 'all':
      return { view: 'all', ...(arg ? { letter: arg } : {}) };
    case 'import':
      return { view: 'import' };
    case 'about':
      return { view: 'about' };
    case 'wiki':
      return { view: 'page', title: arg || main_page };
    case 'noredirect':
      return { view: 'page', title: arg || main_page, redirect: false };
    default:
      return { view: 'page', title: main_page };
  }
}

const enc = (t: string) => encodeURIComponent(t).replace(/%20/g, '_').replace(/%3A/gi, ':').replace(/%2F/gi, '/');

export const href = {
  page: (t: string) => `#/wiki/${enc(t)}`,
  noRedirect: (t: string) => `#/noredirect/${enc(t)}`,
  edit: (t: string) => `#/edit/${enc(t)}`,
  history: (t: string) => `#/history/${enc(t)}`,
  revision: (t: string, n: number) => `#/rev/${enc(t)}/${n}`,
  linksHere: (t: string) => `#/linkshere/${enc(t)}`,
  all: (letter?: string) => (letter ? `#/all/${enc(letter)}` : '#/all'),
  import: () => '#/import',
  about: () => '#/about',
};
