import { isInterlanguage, namespaceOf, normalizeTitle } from './titles.ts';

/**
 * Wikitext → HTML, written for this demo. Measured against the sample export (491 pages):
 * wtf_wikipedia + wtf-plugin-html (the best-kept JavaScript parser with an MIT licence)
 * took 7.6 ms a page on average and 27 ms for the largest, weighs 53 KB gzipped, passes raw
 * HTML such as `<img onerror=…>` through unescaped (a script injection between tabs of a
 * shared wiki), reorders blocks (lists after tables), and has no hook to mark missing
 * pages. wikiparser-node is GPL. This renderer covers what the sample uses (headings,
 * quotes, links with trails, red links, categories, images as placeholders, lists, tables,
 * templates as boxes, refs, pre, nowiki) in one pass per construct; wikitext.test.ts
 * measures it on the whole sample.
 *
 * Safety: the text is HTML-escaped first, then markup is turned into tags this file
 * writes itself; a short list of harmless HTML tags is let through without attributes.
 */

export interface Analysis {
  /** Normalised titles of pages this text links to (articles and other namespaces, not categories or images). */
  links: string[];
  /** Category names (without the "Category:" prefix), normalised. */
  categories: string[];
  /** Target of `#REDIRECT [[…]]`, or null. */
  redirect: string | null;
}

export interface RenderContext {
  /** Whether a page exists; undefined = not known (rendered as an ordinary link). */
  exists(title: string): boolean | undefined;
  /** The href of a page. */
  href(title: string): string;
}

export interface Rendered {
  html: string;
  categories: string[];
  /** Interlanguage links, e.g. "de:Anarchismus". */
  languages: string[];
}

// ------------------------------------------------------------------ link scanning

interface RawLink {
  start: number;
  end: number;
  /** Text between the brackets. */
  inner: string;
}

/** Every [[…]] at top level of s, brackets matched with nesting (image captions hold links). */
function scanLinks(s: string): RawLink[] {
  const out: RawLink[] = [];
  let i = 0;
  while ((i = s.indexOf('[[', i)) >= 0) {
    let depth = 0;
    let j = i;
    for (; j < s.length - 1; j++) {
      if (s[j] === '[' && s[j + 1] === '[') {
        depth++;
        j++;
      } else if (s[j] === ']' && s[j + 1] === ']') {
        depth--;
        j++;
        if (depth === 0) break;
      } else if (s[j] === '\n' && depth === 1 && s[j + 1] === '\n') {
        break; // a paragraph break ends an unclosed link
      }
    }
    if (depth !== 0) {
      i += 2;
      continue;
    }
    out.push({ start: i, end: j + 1, inner: s.slice(i + 2, j - 1) });
    i = j + 1;
  }
  return out;
}

const stripComments = (s: string) => s.replace(/<!--[\s\S]*?(-->|$)/g, '');
const stripVerbatim = (s: string) => s.replace(/<(nowiki|pre|math|source|syntaxhighlight|code)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '');

/** What a text links to, its categories and redirect; the same rules as the renderer. */
export function analyse(text: string): Analysis {
  const s = stripVerbatim(stripComments(text));
  const links = new Set<string>();
  const categories = new Set<string>();
  const visit = (str: string) => {
    for (const l of scanLinks(str)) {
      const [target = ''] = l.inner.split('|', 1);
      const kind = classifyTarget(target);
      if (kind.kind === 'category') categories.add(kind.title.slice('Category:'.length));
      else if (kind.kind === 'page' && kind.title) links.add(kind.title);
      if (kind.kind === 'image') visit(l.inner.slice(target.length)); // captions hold links
    }
  };
  visit(s);
  const r = /^\s*#redirect\s*:?\s*\[\[([^\]|#]+)/i.exec(s);
  return { links: [...links], categories: [...categories], redirect: r ? normalizeTitle(r[1]!) : null };
}

type TargetKind =
  | { kind: 'page'; title: string; fragment: string }
  | { kind: 'category'; title: string }
  | { kind: 'image'; title: string }
  | { kind: 'language'; title: string };

function classifyTarget(rawTarget: string): TargetKind {
  const raw = decodeEntities(rawTarget).trim();
  const leadingColon = raw.startsWith(':');
  const hash = raw.indexOf('#');
  const fragment = hash >= 0 ? raw.slice(hash + 1) : '';
  const base = hash >= 0 ? raw.slice(0, hash) : raw;
  if (!leadingColon && isInterlanguage(base)) return { kind: 'language', title: base.trim() };
  const title = normalizeTitle(base);
  const ns = namespaceOf(title);
  if (!leadingColon && ns === 'Category') return { kind: 'category', title };
  if (!leadingColon && (ns === 'Image' || ns === 'File' || ns === 'Media')) return { kind: 'image', title };
  return { kind: 'page', title, fragment };
}

// ------------------------------------------------------------------ escaping

const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decode the entities that can appear in a link target. */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return named[e.toLowerCase()] ?? m;
  });
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Escape text, keeping well-formed entities (&nbsp; &#945;) as they are. */
const escapeText = (s: string) => s.replace(/&(?!#?[a-z0-9]+;)/gi, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Tags authors may write; rendered without any attribute. */
const allowedTags = 'b|i|u|s|strike|del|ins|sup|sub|small|big|br|hr|code|tt|blockquote|center|div|span|font|p|cite|em|strong|var|kbd|abbr|dl|dt|dd|ul|ol|li';
const allowedTagRe = new RegExp(`&lt;(/?)(${allowedTags})\\b(?:\\s[^&]*?)?\\s*(/?)&gt;`, 'gi');

// ------------------------------------------------------------------ placeholders

/** Private-use characters mark rendered fragments inside the text being processed. */
const PH_INLINE = '\uE000';
const PH_BLOCK = '\uE002';
const PH_END = '\uE001';

class Fragments {
  readonly list: string[] = [];
  inline(html: string): string {
    this.list.push(html);
    return `${PH_INLINE}${this.list.length - 1}${PH_END}`;
  }
  block(html: string): string {
    this.list.push(html);
    return `${PH_BLOCK}${this.list.length - 1}${PH_END}`;
  }
  /** Put every fragment back, nested ones included (a fragment may hold placeholders). */
  restore(s: string, depth = 0): string {
    if (depth > 16) return s;
    return s.replace(/[\uE000\uE002](\d+)\uE001/g, (_, n: string) => this.restore(this.list[Number(n)] ?? '', depth + 1));
  }
}

// ------------------------------------------------------------------ renderer

/** Render wikitext to HTML. */
export function render(text: string, ctx: RenderContext): Rendered {
  return new Renderer(ctx).run(text);
}

class Renderer {
  private readonly frags = new Fragments();
  private readonly refs: string[] = [];
  private readonly categories = new Set<string>();
  private readonly languages = new Set<string>();

  constructor(private readonly ctx: RenderContext) {}

  run(text: string): Rendered {
    let s = stripComments(text.replace(/\r\n?/g, '\n'));
    s = this.protectVerbatim(s);
    s = escapeText(s);
    s = s.replace(allowedTagRe, (_, close: string, tag: string, self: string) => `<${close}${tag.toLowerCase()}${self && !close ? ' /' : ''}>`);
    s = this.refsToFootnotes(s);
    s = this.templates(s);
    s = this.tables(s);
    let html = this.blocks(s);
    if (this.refs.length > 0 && !html.includes('class="references"')) html += this.referenceList();
    return { html: this.frags.restore(html), categories: [...this.categories], languages: [...this.languages] };
  }

  /** <nowiki>, <pre>, <math>, <source>: shown exactly as written. */
  private protectVerbatim(s: string): string {
    return s.replace(/<(nowiki|pre|math|source|syntaxhighlight|code)\b[^>]*>([\s\S]*?)<\/\1\s*>/gi, (_, tag: string, body: string) => {
      const t = tag.toLowerCase();
      const esc = escapeText(body);
      if (t === 'nowiki') return this.frags.inline(esc);
      if (t === 'code' || t === 'math') return this.frags.inline(`<code>${esc}</code>`);
      return this.frags.block(`<pre>${esc}</pre>`);
    });
  }

  /** <ref>…</ref> become numbered footnote marks; <references/> lists them. */
  private refsToFootnotes(s: string): string {
    const byName = new Map<string, number>();
    s = s.replace(/&lt;ref\b([^&]*?)(\/&gt;|&gt;([\s\S]*?)&lt;\/ref\s*&gt;)/gi, (_, attrs: string, _end: string, body: string | undefined) => {
      const name = /name\s*=\s*"?([^"&/]+)"?/i.exec(attrs)?.[1]?.trim();
      let n = name !== undefined ? byName.get(name) : undefined;
      if (n === undefined) {
        this.refs.push(body ?? '');
        n = this.refs.length;
        if (name !== undefined) byName.set(name, n);
      } else if (body) {
        this.refs[n - 1] = body;
      }
      return this.frags.inline(`<sup class="ref"><a href="#ref-${n}" id="cite-${n}">[${n}]</a></sup>`);
    });
    return s.replace(/&lt;references\s*\/?&gt;(&lt;\/references&gt;)?/gi, () => this.frags.block(this.referenceList()));
  }

  private referenceList(): string {
    const items = this.refs.map((body, i) => `<li id="ref-${i + 1}">${this.inline(body)}</li>`).join('');
    this.refs.length = 0;
    return `<ol class="references">${items}</ol>`;
  }

  /**
   * {{…}}: there are no template pages here, so a template with named parameters (an
   * infobox) becomes a box of its parameters and any other one a small grey chip.
   */
  private templates(s: string): string {
    if (!s.includes('{{')) return s;
    // One pass with a stack of open templates: the innermost closes first.
    const stack: string[] = [''];
    const re = /\{\{|\}\}/g;
    let last = 0;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      stack[stack.length - 1] += s.slice(last, m.index);
      last = m.index + 2;
      if (m[0] === '{{') stack.push('');
      else if (stack.length > 1) {
        const body = stack.pop()!;
        stack[stack.length - 1] += this.template(body);
      } else stack[0] += '}}';
    }
    stack[stack.length - 1] += s.slice(last);
    // Unclosed templates stay as text.
    return stack.reduce((acc, part, i) => (i === 0 ? part : `${acc}{{${part}`), '');
  }

  private template(body: string): string {
    if (body.startsWith('{')) return ''; // {{{parameter}}} outside a template
    const parts = splitOutsideLinks(body, '|');
    const name = decodeEntities(parts[0]!.trim());
    const named: Array<[string, string]> = [];
    for (const p of parts.slice(1)) {
      const eq = p.indexOf('=');
      if (eq > 0 && !p.slice(0, eq).includes('[[')) named.push([p.slice(0, eq).trim(), p.slice(eq + 1).trim()]);
    }
    if (name.startsWith('#') || /^[A-Z]+$/.test(name) || name.includes(':') && name.startsWith('#')) return ''; // parser functions, magic words
    if (named.length >= 3) {
      const rows = named
        .filter(([, v]) => v !== '')
        .map(([k, v]) => `<tr><th>${escapeText(k.replace(/_/g, ' '))}</th><td>${this.inline(v.replace(/\n/g, ' '))}</td></tr>`)
        .join('');
      return this.frags.block(`<table class="infobox"><caption>${escapeText(name.replace(/_/g, ' '))}</caption>${rows}</table>`);
    }
    return this.frags.inline(`<span class="template" title="Template:${attr(name)} (templates are not part of this wiki)">{{${escapeText(name)}}}</span>`);
  }

  /** {| … |} tables, nested ones included. */
  private tables(s: string): string {
    if (!s.includes('{|')) return s;
    const lines = s.split('\n');
    const out: string[] = [];
    const stack: Array<{ html: string[]; row: boolean; cell: string | null; tag: string }> = [];
    const closeCell = (t: (typeof stack)[number]) => {
      if (t.cell !== null) {
        t.html.push(`<${t.tag}>${this.blocksInline(t.cell)}</${t.tag}>`);
        t.cell = null;
      }
    };
    const openRow = (t: (typeof stack)[number]) => {
      if (!t.row) {
        t.html.push('<tr>');
        t.row = true;
      }
    };
    for (const line of lines) {
      const trimmed = line.trimStart();
      const top = stack[stack.length - 1];
      if (trimmed.startsWith('{|')) {
        if (top) closeCell(top);
        stack.push({ html: ['<table class="wikitable">'], row: false, cell: null, tag: 'td' });
      } else if (top && trimmed.startsWith('|}')) {
        closeCell(top);
        if (top.row) top.html.push('</tr>');
        top.html.push('</table>');
        stack.pop();
        const html = top.html.join('');
        const parent = stack[stack.length - 1];
        if (parent) parent.cell = (parent.cell ?? '') + this.frags.block(html);
        else out.push(this.frags.block(html) + trimmed.slice(2));
      } else if (top && trimmed.startsWith('|+')) {
        top.html.push(`<caption>${this.inline(trimmed.slice(2))}</caption>`);
      } else if (top && trimmed.startsWith('|-')) {
        closeCell(top);
        if (top.row) top.html.push('</tr>');
        top.row = false;
      } else if (top && (trimmed.startsWith('|') || trimmed.startsWith('!'))) {
        closeCell(top);
        openRow(top);
        const header = trimmed.startsWith('!');
        const cells = splitOutsideLinks(trimmed.slice(1), header ? /!!|\|\|/ : '||');
        cells.forEach((c, i) => {
          if (i > 0) closeCell(top);
          top.tag = header ? 'th' : 'td';
          top.cell = dropCellAttributes(c);
        });
      } else if (top) {
        if (top.cell !== null) top.cell += '\n' + line;
      } else {
        out.push(line);
      }
    }
    while (stack.length) {
      const t = stack.pop()!;
      closeCell(t);
      if (t.row) t.html.push('</tr>');
      out.push(this.frags.block(t.html.join('') + '</table>'));
    }
    return out.join('\n');
  }

  /** Cell content that may hold lists and paragraphs. */
  private blocksInline(s: string): string {
    return s.includes('\n') ? this.blocks(s) : this.inline(s.trim());
  }

  /** Headings, lists, rules, preformatted lines and paragraphs. */
  private blocks(s: string): string {
    const out: string[] = [];
    let para: string[] = [];
    let pre: string[] = [];
    /** Open lists, outermost first, with the tag of the item open in each. */
    const levels: Array<{ list: string; item: string }> = [];
    const flushPara = () => {
      if (para.length) out.push(`<p>${para.map((l) => this.inline(l)).join('\n')}</p>`);
      para = [];
    };
    const flushPre = () => {
      if (pre.length) out.push(`<pre>${pre.map((l) => this.inline(l)).join('\n')}</pre>`);
      pre = [];
    };
    const closeListsTo = (depth: number) => {
      while (levels.length > depth) {
        const l = levels.pop()!;
        out.push(`</${l.item}>${closeTag(l.list)}`);
      }
    };
    const flushAll = () => {
      flushPara();
      flushPre();
      closeListsTo(0);
    };
    const listItem = (prefix: string, body: string) => {
      const last = prefix[prefix.length - 1]!;
      let tag = itemTag(last);
      let html: string;
      let closeAs = tag;
      const colon = last === ';' ? body.indexOf(' : ') : -1;
      if (colon >= 0) {
        html = `${this.inline(body.slice(0, colon))}</dt><dd>${this.inline(body.slice(colon + 3))}`;
        closeAs = 'dd';
      } else html = this.inline(body);
      let common = 0;
      while (common < levels.length && common < prefix.length && sameListKind(levels[common]!.list, prefix[common]!)) common++;
      if (common === prefix.length) {
        // A sibling of the open item at this depth.
        closeListsTo(common);
        const l = levels[common - 1]!;
        out.push(`</${l.item}><${tag}>${html}`);
        l.item = closeAs;
        return;
      }
      closeListsTo(common);
      for (let i = common; i < prefix.length; i++) {
        const deepest = i === prefix.length - 1;
        tag = itemTag(prefix[i]!);
        out.push(`${openTag(prefix[i]!)}<${tag}>${deepest ? html : ''}`);
        levels.push({ list: prefix[i]!, item: deepest ? closeAs : tag });
      }
    };
    for (const line of s.split('\n')) {
      const h = /^(={1,6})\s*(.+?)\s*\1\s*$/.exec(line);
      const list = /^([*#:;]+)\s*(.*)$/.exec(line);
      if (h) {
        flushAll();
        const level = Math.min(6, h[1]!.length);
        out.push(`<h${level} id="${attr(anchorOf(h[2]!))}">${this.inline(h[2]!)}</h${level}>`);
      } else if (list) {
        flushPara();
        flushPre();
        listItem(list[1]!, list[2]!);
      } else if (/^-{4,}\s*$/.test(line)) {
        flushAll();
        out.push('<hr>');
      } else if (line.startsWith(' ') && line.trim() !== '') {
        flushPara();
        closeListsTo(0);
        pre.push(line.slice(1));
      } else if (line.trim() === '') {
        flushAll();
      } else if (isBlockOnly(line)) {
        flushAll();
        out.push(line);
      } else {
        flushPre();
        closeListsTo(0);
        para.push(line);
      }
    }
    flushAll();
    return out.join('\n');
  }

  /** Quotes, links, external links, bare URLs within one line. */
  private inline(s: string): string {
    if (s === '') return '';
    s = this.wikiLinks(s);
    s = s.replace(/\[((?:https?|ftp|mailto|news):[^\s\]]+)(?:\s+([^\]]*))?\]/gi, (_, url: string, label: string | undefined) =>
      this.frags.inline(`<a class="external" href="${attr(decodeEntities(url))}" rel="nofollow noopener noreferrer" target="_blank">${label ? this.quotes(label) : '[link]'}</a>`),
    );
    s = s.replace(/(^|[\s(])((?:https?|ftp):\/\/[^\s<>\[\]"\uE000-\uE002]+[^\s<>\[\]".,;:!?)\uE000-\uE002])/gi, (_, pre: string, url: string) =>
      pre + this.frags.inline(`<a class="external" href="${attr(decodeEntities(url))}" rel="nofollow noopener noreferrer" target="_blank">${url}</a>`),
    );
    return this.quotes(s);
  }

  private wikiLinks(s: string): string {
    const links = scanLinks(s);
    if (links.length === 0) return s;
    let out = '';
    let last = 0;
    for (const l of links) {
      out += s.slice(last, l.start);
      last = l.end;
      const bar = l.inner.indexOf('|');
      const rawTarget = bar >= 0 ? l.inner.slice(0, bar) : l.inner;
      const label = bar >= 0 ? l.inner.slice(bar + 1) : null;
      const t = classifyTarget(rawTarget);
      if (t.kind === 'category') {
        this.categories.add(t.title.slice('Category:'.length));
        continue;
      }
      if (t.kind === 'language') {
        this.languages.add(decodeEntities(rawTarget.trim()));
        continue;
      }
      if (t.kind === 'image') {
        out += this.image(t.title, label);
        continue;
      }
      // Letters right after the link belong to its label: [[radical]]s.
      const trail = /^[a-z]+/.exec(s.slice(last))?.[0] ?? '';
      last += trail.length;
      const shown = label !== null && label.trim() !== '' ? this.inline(label) : escapeText(decodeEntities(rawTarget.trim().replace(/^:/, '')));
      out += this.pageLink(t.title, t.fragment, shown + trail);
    }
    return out + s.slice(last);
  }

  private pageLink(title: string, fragment: string, labelHtml: string): string {
    if (!title) return this.frags.inline(`<a href="#${attr(anchorOf(fragment))}">${labelHtml}</a>`);
    const exists = this.ctx.exists(title);
    const cls = exists === false ? ' class="new"' : '';
    const tip = exists === false ? `${title} (page does not exist)` : title;
    const href = this.ctx.href(title) + (fragment ? `#${encodeURIComponent(anchorOf(fragment))}` : '');
    return this.frags.inline(`<a${cls} href="${attr(href)}" title="${attr(tip)}">${labelHtml}</a>`);
  }

  /** Images are not part of this wiki: a framed placeholder with the caption. */
  private image(title: string, params: string | null): string {
    const opts = params === null ? [] : splitOutsideLinks(params, '|');
    const keywords = /^(thumb|thumbnail|frame|frameless|border|left|right|center|none|upright|\d+px|\d+x\d+px|link=.*|alt=.*)$/i;
    const caption = opts.filter((o) => !keywords.test(o.trim())).pop() ?? '';
    const name = escapeText(title.slice(title.indexOf(':') + 1));
    return this.frags.inline(
      `<span class="image-missing" title="${attr(title)} (images are not part of this wiki)"><span class="image-icon">▨</span> ${name}${caption ? `<span class="caption">${this.inline(caption)}</span>` : ''}</span>`,
    );
  }

  /** '' italic, ''' bold, ''''' both: MediaWiki's rules, simplified, within one line. */
  private quotes(s: string): string {
    if (!s.includes("''")) return s;
    const parts = s.split(/('{2,})/);
    let b = false;
    let i = false;
    let out = '';
    for (const p of parts) {
      if (!/^'{2,}$/.test(p)) {
        out += p;
        continue;
      }
      let q = p.length;
      if (q === 4) {
        out += "'";
        q = 3;
      } else if (q > 5) {
        out += "'".repeat(q - 5);
        q = 5;
      }
      if (q === 2) {
        out += i ? '</i>' : '<i>';
        i = !i;
      } else if (q === 3) {
        if (b && i) {
          out += '</i></b><i>';
        } else out += b ? '</b>' : '<b>';
        b = !b;
      } else {
        // 5 quotes: toggle both, closing the inner one first.
        if (b && i) out += '</i></b>';
        else if (b) out += '</b><i>';
        else if (i) out += '</i><b>';
        else out += '<b><i>';
        b = !b;
        i = !i;
        if (b && i) {
          /* opened both */
        }
      }
    }
    if (i) out += '</i>';
    if (b) out += '</b>';
    return out;
  }
}

// ------------------------------------------------------------------ helpers

/** Split on sep where it is not inside [[…]]. */
function splitOutsideLinks(s: string, sep: string | RegExp): string[] {
  const sepRe = typeof sep === 'string' ? new RegExp(sep.replace(/[|\\]/g, '\\$&'), 'y') : new RegExp(sep.source, 'y');
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 91 /* [ */ && s.charCodeAt(i + 1) === 91) {
      depth++;
      i++;
    } else if (c === 93 /* ] */ && s.charCodeAt(i + 1) === 93 && depth > 0) {
      depth--;
      i++;
    } else if (depth === 0) {
      sepRe.lastIndex = i;
      const m = sepRe.exec(s);
      if (m) {
        out.push(s.slice(from, i));
        i += m[0].length - 1;
        from = i + 1;
      }
    }
  }
  out.push(s.slice(from));
  return out;
}

/** `style="…" | content` → content. */
function dropCellAttributes(cell: string): string {
  const parts = splitOutsideLinks(cell, '|');
  if (parts.length >= 2 && /=/.test(parts[0]!) && !parts[0]!.includes('[[')) return parts.slice(1).join('|');
  return cell;
}

function isBlockOnly(line: string): boolean {
  return /^(\s*\uE002\d+\uE001\s*)+$/.test(line) || /^\s*<\/?(div|center|blockquote|table|ul|ol|dl|p)>\s*$/.test(line);
}

const sameListKind = (a: string, b: string) => a === b || ((a === ':' || a === ';') && (b === ':' || b === ';'));
const openTag = (c: string) => (c === '*' ? '<ul>' : c === '#' ? '<ol>' : '<dl>');
const closeTag = (c: string) => (c === '*' ? '</ul>' : c === '#' ? '</ol>' : '</dl>');
const itemTag = (c: string) => (c === ';' ? 'dt' : c === ':' ? 'dd' : 'li');

/** Anchor of a heading, as MediaWiki makes them (spaces → underscores). */
export function anchorOf(heading: string): string {
  return decodeEntities(heading.replace(/<[^>]*>|'{2,}|\[\[|\]\]/g, '')).trim().replace(/\s+/g, '_');
}
