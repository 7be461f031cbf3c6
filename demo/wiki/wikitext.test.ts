import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parsePageElement } from './mediawiki-xml.ts';
import { analyse, render, type RenderContext } from './wikitext.ts';

const known = new Set(['Anarchism', 'Category:Foo']);
const ctx: RenderContext = { exists: (t) => known.has(t), href: (t) => `#/wiki/${encodeURIComponent(t)}` };
const html = (s: string) => render(s, ctx).html;

export const sample_path = new URL('../../../shared/wiki-sample/enwiki-20060303-sample-pages-articles.xml.gz', import.meta.url);

describe('wikitext rendering', () => {
  it('renders quotes, headings, lists and paragraphs', () => {
    expect(html("'''bold''' and ''it'' and '''''both'''''")).toBe('<p><b>bold</b> and <i>it</i> and <b><i>both</i></b></p>');
    expect(html('== Head ==')).toBe('<h2 id="Head">Head</h2>');
    expect(html('* a\n* b\n** c\n# d').replace(/\n/g, '')).toBe('<ul><li>a</li><li>b<ul><li>c</li></ul></li></ul><ol><li>d</li></ol>');
    expect(html('one\ntwo\n\nthree')).toBe('<p>one\ntwo</p>\n<p>three</p>');
    expect(html('; term : def').replace(/\n/g, '')).toBe('<dl><dt>term</dt><dd>def</dd></dl>');
  });

  it('links: existing, missing (red), labels, trails, categories, interlanguage, images', () => {
    expect(html('[[anarchism]]s')).toBe('<p><a href="#/wiki/Anarchism" title="Anarchism">anarchisms</a></p>');
    expect(html('[[Missing page|label]]')).toBe('<p><a class="new" href="#/wiki/Missing%20page" title="Missing page (page does not exist)">label</a></p>');
    const r = render('x [[Category:Foo]] [[de:Anarchismus]] [[:Category:Foo|cat]]', ctx);
    expect(r.categories).toEqual(['Foo']);
    expect(r.languages).toEqual(['de:Anarchismus']);
    expect(r.html).toContain('href="#/wiki/Category%3AFoo"');
    expect(html('[[Image:X.jpg|thumb|A [[anarchism|link]] here]]')).toContain('class="image-missing"');
    expect(html('[[Image:X.jpg|thumb|A [[anarchism|link]] here]]')).toContain('>link</a>');
  });

  it('escapes HTML: no script or attribute gets through', () => {
    const out = html('<script>alert(1)</script> <img src=x onerror=alert(1)> <b onclick="x()">b</b> [[a|<img src=x>]] [javascript:alert(1) x]');
    // Every real tag is one the renderer writes, and none carries an event handler or a script URL.
    expect(out.match(/<\/?([a-z]+)/g)?.map((t) => t.replace(/[<\/]/g, ''))).toEqual(['p', 'b', 'b', 'a', 'a', 'p']);
    expect(out).not.toMatch(/<[^>]*\son\w+=|href="javascript/i);
    expect(out).toContain('<b>b</b>');
  });

  it('templates become boxes or chips; tables and refs render', () => {
    expect(html('{{Note|1}}')).toContain('class="template"');
    expect(html('{{Infobox|a=1|b=[[anarchism]]|c=3}}')).toContain('<table class="infobox">');
    const t = html('{| class="wikitable"\n|-\n! A !! B\n|-\n| 1 || [[anarchism|x]]\n|}');
    expect(t).toContain('<table class="wikitable"><tr><th>A</th><th>B</th></tr><tr><td>1</td><td><a');
    const refs = html('Fact.<ref>Source</ref>\n\n<references/>');
    expect(refs).toContain('<sup class="ref">');
    expect(refs).toContain('<ol class="references"><li id="ref-1"><p>Source</p></li></ol>'.replace('<p>Source</p>', 'Source'));
  });

  it('analyse finds links, categories and redirects like the renderer', () => {
    const a = analyse('#REDIRECT [[anarchism]]');
    expect(a.redirect).toBe('Anarchism');
    const b = analyse('[[A]] [[b|x]] [[Category:C d]] [[Image:I.png|thumb|[[E]]]] <!-- [[Hidden]] --> <nowiki>[[No]]</nowiki> {{T|[[F]]}}');
    expect(b.links.sort()).toEqual(['A', 'B', 'E', 'F']);
    expect(b.categories).toEqual(['C d']);
  });

  it.skipIf(!existsSync(sample_path))('renders every page of the sample export quickly', () => {
    const xml = gunzipSync(readFileSync(sample_path)).toString('utf8');
    const blocks = xml.split('<page>').slice(1).map((b) => b.slice(0, b.indexOf('</page>')));
    const pages = blocks.map(parsePageElement);
    expect(pages.length).toBe(491);
    const t0 = performance.now();
    let chars = 0;
    for (const p of pages) chars += render(p.text, ctx).html.length;
    const ms = performance.now() - t0;
    const t1 = performance.now();
    for (const p of pages) analyse(p.text);
    const analyseMs = performance.now() - t1;
    console.log(JSON.stringify({ pages: pages.length, render_ms_total: Math.round(ms), render_ms_per_page: +(ms / pages.length).toFixed(2), analyse_ms_per_page: +(analyseMs / pages.length).toFixed(2), html_chars: chars }));
    expect(chars).toBeGreaterThan(1_000_000);
  });
});
