/**
 * Page titles as MediaWiki treats them: underscores are spaces, runs of spaces collapse,
 * the first letter is upper case (case="first-letter"), a known namespace prefix is
 * normalised too ("category:foo" is "Category:Foo").
 */

/** Namespaces the renderer knows. Links with other prefixes of this shape are interlanguage links. */
export const namespaces = ['Category', 'Image', 'File', 'Media', 'Template', 'Wikipedia', 'Help', 'User', 'Talk', 'Special', 'Portal', 'Project', 'MediaWiki', 'User talk', 'Wikipedia talk', 'Image talk', 'Template talk', 'Category talk', 'Help talk', 'Portal talk'] as const;

const nsByLower = new Map(namespaces.map((n) => [n.toLowerCase(), n]));

/** Titles are at most 255 bytes in MediaWiki; we keep the same bound (keys stay far below 1 KiB). */
export const title_bytes_max = 255;

function upperFirst(s: string): string {
  if (s.length === 0) return s;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  return first.toUpperCase() + s.slice(first.length);
}

/** The canonical form of a title, or '' when nothing is left. */
export function normalizeTitle(raw: string): string {
  let t = raw.replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
  if (t.startsWith(':')) t = t.slice(1).trim();
  const colon = t.indexOf(':');
  if (colon > 0) {
    const ns = nsByLower.get(t.slice(0, colon).trim().toLowerCase());
    if (ns) return `${ns}:${upperFirst(t.slice(colon + 1).trim())}`;
  }
  return upperFirst(t);
}

/** The namespace of a normalised title ('' for articles). */
export function namespaceOf(title: string): string {
  const colon = title.indexOf(':');
  if (colon <= 0) return '';
  const ns = nsByLower.get(title.slice(0, colon).toLowerCase());
  return ns ?? '';
}

/** Whether a link prefix names another language's wiki ("de:Anarchismus"), not a page here. */
export function isInterlanguage(raw: string): boolean {
  const m = /^\s*([a-z]{2,3}(?:-[a-z]{2,8})*|simple)\s*:/.exec(raw);
  return m !== null && !nsByLower.has(m[1]!);
}

/** Category name → title of its category page. */
export function categoryTitle(name: string): string {
  return `Category:${normalizeTitle(name)}`;
}
