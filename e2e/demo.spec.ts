import { copyFile, mkdir, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { startSignalingServer, type SignalingServer } from '../signaling/server.ts';
import { expect, openPeers, openTrackedPage, REPO_ROOT, test, type PeerSet } from './harness.ts';

/**
 * The demo applications on a real ring: 3 tabs (isolated browser contexts), each page
 * joining through a signaling server on 127.0.0.1 that this file starts and stops. The tabs
 * move through the apps together (draw, wiki, console), as a person clicking the header
 * links would; a screenshot of every page is checked for content.
 */

const TABS = 3;
const SAMPLE = 'enwiki-20060303-sample-pages-articles.xml.gz';
const SAMPLE_SOURCE = process.env.TABRING_WIKI_SAMPLE ?? join(REPO_ROOT, '..', 'shared', 'wiki-sample', SAMPLE);
const SHOTS = join(REPO_ROOT, '.tmp', 'demo-screenshots');
/** A screenshot of a page with content is far larger than one of a blank page (about 5 KB). */
const screenshot_bytes_min = 20_000;

let server: SignalingServer;
let set: PeerSet;
let pages: Page[];
let query = '';

async function goAll(path: string): Promise<void> {
  await Promise.all(pages.map((p) => p.goto(`${path}${query}`)));
  await allReady();
}

/** Every tab has joined and shows its app; a tab that does not is photographed for the report. */
async function allReady(): Promise<void> {
  await Promise.all(
    pages.map(async (p, i) => {
      try {
        await p.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
      } catch (e) {
        await mkdir(SHOTS, { recursive: true });
        await p.screenshot({ path: join(SHOTS, `not-ready-tab-${i}.png`) });
        throw e;
      }
    }),
  );
  await Promise.all(pages.map((p) => expect(p.getByTestId('ring-status')).toHaveAttribute('data-state', 'in', { timeout: 30_000 })));
}

/** Save a screenshot and check that it shows the app, not a blank or error page. */
async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  expect((await stat(path)).size, `${name}: screenshot looks blank`).toBeGreaterThan(screenshot_bytes_min);
  await expect(page.getByTestId('connect-error')).toHaveCount(0);
  await expect(page.locator('main')).not.toBeEmpty();
  // Every page shows the ring status: in the ring, peers seen and connected.
  await expect(page.getByTestId('ring-status')).toHaveAttribute('data-state', 'in');
  await expect(page.getByTestId('peers-seen')).toBeVisible();
  await expect(page.getByTestId('peers-connected')).toBeVisible();
}

/** Canvas coordinates of the drawing → page coordinates. */
async function canvasPoint(page: Page, x: number, y: number): Promise<[number, number]> {
  const box = (await page.getByTestId('canvas').boundingBox())!;
  return [box.x + (x * box.width) / 1000, box.y + (y * box.height) / 640];
}

async function drag(page: Page, from: [number, number], to: [number, number], steps = 6): Promise<void> {
  await page.mouse.move(...(await canvasPoint(page, ...from)));
  await page.mouse.down();
  for (let i = 1; i <= steps; i++) await page.mouse.move(...(await canvasPoint(page, from[0] + ((to[0] - from[0]) * i) / steps, from[1] + ((to[1] - from[1]) * i) / steps)));
  await page.mouse.up();
}

const layer = (page: Page) => page.getByTestId('layers').locator('li');
const layerOf = (page: Page, kind: string) => page.getByTestId('layers').locator(`li[data-kind="${kind}"]`);

/** Every shape as the layer list shows it: id, kind and box, bottom to top order aside. */
async function drawing(page: Page): Promise<string[]> {
  const rows = await layer(page).evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-id')} ${l.getAttribute('data-kind')} ${l.getAttribute('data-box')}`));
  return rows.sort();
}

/** A shape's box in a tab's layer list. */
async function boxOf(page: Page, kind: string): Promise<number[]> {
  return ((await layerOf(page, kind).getAttribute('data-box')) ?? '').split(',').map(Number);
}

/**
 * A shape's box, with each coordinate within one unit of the expected one taken as equal:
 * the mouse moves in page pixels and the drawing keeps its own units (1000 x 640 scaled to
 * the canvas), so a drag may land one unit off after rounding.
 */
async function boxNear(page: Page, kind: string, expected: number[]): Promise<number[]> {
  return (await boxOf(page, kind)).map((v, i) => (Math.abs(v - expected[i]!) <= 1 ? expected[i]! : v));
}

/** The colour the canvas shows at a point of the drawing (its 1000 x 640 units). */
async function pixel(page: Page, x: number, y: number): Promise<[number, number, number]> {
  return page.getByTestId('canvas').evaluate((c, [px, py]) => {
    const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(px!, py!, 1, 1).data;
    return [d[0]!, d[1]!, d[2]!] as [number, number, number];
  }, [x, y]);
}

/** Set a colour input as a person picking a colour does (the input event). */
async function pickColour(page: Page, testId: string, colour: string): Promise<void> {
  await page.getByTestId(testId).evaluate((e, v) => {
    (e as HTMLInputElement).value = v;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, colour);
}

test.describe.serial('demo applications on a ring of 3 tabs', () => {
  test.beforeAll(async ({ server: vite }) => {
    test.setTimeout(180_000);
    server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
    query = `?room=demo-e2e-${Date.now().toString(36)}&signaling=${encodeURIComponent(server.url)}`;
    set = await openPeers(vite.url, `/demo/index.html${query}`, TABS, 1);
    pages = set.peers.map((p) => p.page);
    await Promise.all(pages.map((p) => p.setViewportSize({ width: 1280, height: 860 })));
    if (existsSync(SAMPLE_SOURCE)) {
      await mkdir(join(REPO_ROOT, 'demo', 'public', 'wiki-sample'), { recursive: true });
      await copyFile(SAMPLE_SOURCE, join(REPO_ROOT, 'demo', 'public', 'wiki-sample', SAMPLE));
    }
  });

  test.afterAll(async () => {
    await set?.close();
    await server?.close();
  });

  test.afterEach(() => {
    expect(set.log.errors, 'errors in the browser').toEqual([]);
  });

  test('overview page links to the three apps', async () => {
    await allReady();
    for (const name of ['Ring console', 'Draw', 'Wiki']) await expect(pages[0]!.locator('.card', { hasText: name })).toBeVisible();
    await shot(pages[0]!, 'overview');
  });

  test('draw: every kind of shape reaches the other tabs; one tab at a time holds a shape; refused changes are undone visibly; a late tab sees it all', async ({ server: vite }) => {
    test.setTimeout(300_000);
    await goAll('/demo/draw.html');
    const [a, b, c] = pages as [Page, Page, Page];

    // a draws one shape of each kind; each is committed and held by a until a draws the next.
    const draws: Array<[string, () => Promise<void>]> = [
      ['rect', () => drag(a, [100, 100], [300, 240])],
      ['ellipse', () => drag(a, [380, 100], [540, 230])],
      ['line', () => drag(a, [620, 100], [820, 260])],
      [
        'path',
        async () => {
          await a.mouse.move(...(await canvasPoint(a, 100, 420)));
          await a.mouse.down();
          for (let i = 1; i <= 24; i++) await a.mouse.move(...(await canvasPoint(a, 100 + i * 12, 420 + Math.round(Math.sin(i / 3) * 50))));
          await a.mouse.up();
        },
      ],
      [
        'text',
        async () => {
          await a.getByTestId('text-input').fill('Hello ring');
          await a.mouse.click(...(await canvasPoint(a, 600, 450)));
        },
      ],
    ];
    for (const [kind, draw] of draws) {
      await a.getByTestId(`tool-${kind}`).click();
      await draw();
      await expect(layerOf(a, kind)).toHaveAttribute('data-mine', 'true', { timeout: 30_000 });
    }
    await expect(layer(a)).toHaveCount(5);
    const picture = await drawing(a);
    for (const p of [b, c]) await expect.poll(() => drawing(p), { timeout: 30_000 }).toEqual(picture);
    await expect(layerOf(b, 'text')).toHaveAttribute('data-text', 'Hello ring');
    // The canvas shows them: inside the rectangle is its fill, the ellipse's centre too.
    for (const p of [b, c]) {
      expect(await pixel(p, 200, 170)).toEqual([0x9e, 0xc5, 0xfe]);
      expect(await pixel(p, 460, 165)).toEqual([0x9e, 0xc5, 0xfe]);
    }
    // The drawer holds the last shape; it lets go by clicking the empty canvas.
    await a.mouse.click(...(await canvasPoint(a, 900, 600)));
    for (const p of pages) await expect(p.getByTestId('layers').locator('li:not([data-owner=""])')).toHaveCount(0, { timeout: 30_000 });
    await shot(b, 'draw-all-kinds');

    // b and c (named by their users) grab the rectangle at the same moment: exactly one gets it.
    for (const [p, name] of [[b, 'Bea'], [c, 'Cem']] as const) {
      await p.getByTestId('my-name').fill(name);
      await p.getByTestId('my-name').press('Enter');
    }
    const centre = [200, 170] as [number, number];
    await Promise.all([b, c].map(async (p) => p.mouse.click(...(await canvasPoint(p, ...centre)))));
    await expect.poll(async () => (await Promise.all([b, c].map((p) => layerOf(p, 'rect').getAttribute('data-mine')))).filter((m) => m === 'true').length, { timeout: 30_000 }).toBe(1);
    const bHolds = (await layerOf(b, 'rect').getAttribute('data-mine')) === 'true';
    const [holder, other] = bHolds ? [b, c] : [c, b];
    await expect(layerOf(other, 'rect')).toHaveAttribute('data-owner', holder === b ? 'Bea' : 'Cem', { timeout: 30_000 });
    await shot(other, 'draw-locked-by-other');

    // The other tab tries to move it: nothing moves anywhere.
    const before = (await layerOf(a, 'rect').getAttribute('data-box'))!;
    await drag(other, centre, [centre[0] + 200, centre[1] + 150]);
    await a.waitForTimeout(1500);
    for (const p of pages) await expect(layerOf(p, 'rect')).toHaveAttribute('data-box', before);
    // The holder moves, recolours (the line only) and resizes it: every tab follows.
    await drag(holder, centre, [centre[0] + 100, centre[1] + 50]);
    const [x, y, w, h] = before.split(',').map(Number) as [number, number, number, number];
    for (const p of pages) await expect.poll(() => boxNear(p, 'rect', [x + 100, y + 50, w, h]), { timeout: 30_000 }).toEqual([x + 100, y + 50, w, h]);
    await pickColour(holder, 'stroke', '#c53030');
    for (const p of pages) await expect(layerOf(p, 'rect')).toHaveAttribute('data-stroke', '#c53030', { timeout: 30_000 });
    for (const p of pages) await expect(layerOf(p, 'rect')).toHaveAttribute('data-fill', '#9ec5fe');
    await drag(holder, [x + 100 + w, y + 50 + h], [x + 100 + w + 60, y + 50 + h + 40]);
    for (const p of pages) await expect.poll(() => boxNear(p, 'rect', [x + 100, y + 50, w + 60, h + 40]), { timeout: 30_000 }).toEqual([x + 100, y + 50, w + 60, h + 40]);
    await shot(holder, 'draw-holder');
    await shot(a, 'draw-watcher');
    // Letting go (Esc) commits the release: the others may take it now.
    await holder.keyboard.press('Escape');
    for (const p of pages) await expect(layerOf(p, 'rect')).toHaveAttribute('data-owner', '', { timeout: 30_000 });

    // A change the ring refuses is shown at once, then undone visibly. b takes the ellipse;
    // then another holder takes it over behind b's back (as when b's lease has ended and
    // someone selected it: written here through the store, as that tab would); b, still
    // showing it as its own, drags it: the move is refused and undone in red.
    const ellipse = (await layerOf(b, 'ellipse').getAttribute('data-id'))!;
    const ellipseBox = (await layerOf(b, 'ellipse').getAttribute('data-box'))!;
    await b.mouse.click(...(await canvasPoint(b, 460, 165)));
    await expect(layerOf(b, 'ellipse')).toHaveAttribute('data-mine', 'true', { timeout: 30_000 });
    await c.evaluate(async (k) => {
      const db = (window as unknown as { demoClient: { db: import('../src/api/index.ts').Db } }).demoClient.db;
      await db.transact(async (tx) => {
        const s = (await tx.get(k)) as { rev: number } & Record<string, unknown>;
        tx.write(k, { ...s, owner: { client: 'elsewhere', name: 'Another tab', color: '#6b46c1', until: Date.now() + 30_000 }, rev: s.rev + 1 });
      });
    }, `draw:main:shape:${ellipse}`);
    await drag(b, [460, 165], [700, 400]);
    await expect(layerOf(b, 'ellipse')).not.toHaveAttribute('data-undone', '0', { timeout: 30_000 });
    await shot(b, 'draw-undone');
    for (const p of pages) await expect(layerOf(p, 'ellipse')).toHaveAttribute('data-box', ellipseBox, { timeout: 30_000 });

    // a deletes the line: it goes from every tab.
    await a.mouse.click(...(await canvasPoint(a, 720, 180)));
    await expect(layerOf(a, 'line')).toHaveAttribute('data-mine', 'true', { timeout: 30_000 });
    await a.keyboard.press('Delete');
    for (const p of pages) await expect(layer(p)).toHaveCount(4, { timeout: 30_000 });
    for (const p of pages) await expect(layerOf(p, 'line')).toHaveCount(0);

    // A tab opened now sees the whole drawing as it is; then it leaves the ring gracefully.
    const now = await drawing(a);
    const context = await set.browsers[0]!.newContext();
    try {
      await context.grantPermissions(['camera', 'microphone'], { origin: vite.url });
      const late = await openTrackedPage(context, `${vite.url}/demo/draw.html${query}`, set.log, 'late tab');
      await late.setViewportSize({ width: 1280, height: 860 });
      await late.waitForSelector('body[data-ready=true]', { timeout: 90_000 });
      await expect.poll(() => drawing(late), { timeout: 60_000 }).toEqual(now);
      await shot(late, 'draw-late-joiner');
      await late.evaluate(() => (window as unknown as { demoClient: { db: { leave(): Promise<void> } } }).demoClient.db.leave());
    } finally {
      await context.close();
    }
  });

  test('wiki: an edit renders in another tab; conflicts are reported; categories and backlinks follow', async () => {
    test.setTimeout(180_000);
    await Promise.all(pages.map((p, i) => p.goto(`/demo/wiki.html${query}#/wiki/${i === 0 ? 'Tabring_demo' : 'Tabring_demo'}`)));
    await Promise.all(pages.map((p) => p.waitForSelector('body[data-ready=true]', { timeout: 60_000 })));
    const [a, b, c] = pages as [Page, Page, Page];
    await expect(b.getByTestId('missing-page')).toBeVisible({ timeout: 30_000 });

    // a creates the page; b, which shows it, renders it without reloading.
    await a.goto(`/demo/wiki.html${query}#/edit/Tabring_demo`);
    await a.getByTestId('editor-text').fill("'''Tabring''' keeps pages on [[Peer to peer|peers]]. See [[Scalaris]].\n\n== Parts ==\n* ring\n* replicas\n[[Category:Demos]]");
    await a.getByTestId('editor-summary').fill('first version');
    await a.getByTestId('editor-save').click();
    await expect(a.getByTestId('page')).toHaveAttribute('data-rev', '1', { timeout: 30_000 });
    await expect(b.getByTestId('page')).toHaveAttribute('data-rev', '1', { timeout: 30_000 });
    await expect(b.locator('.wikitext b')).toHaveText('Tabring');
    await expect(b.locator('.wikitext a.new', { hasText: 'Scalaris' })).toBeVisible();
    await shot(b, 'wiki-page-from-other-tab');

    // Categories and backlinks: the category page and "what links here".
    await c.goto(`/demo/wiki.html${query}#/wiki/Category:Demos`);
    await expect(c.getByTestId('category-members')).toContainText('Tabring demo', { timeout: 30_000 });
    await c.goto(`/demo/wiki.html${query}#/linkshere/Scalaris`);
    await expect(c.getByTestId('links-here')).toContainText('Tabring demo', { timeout: 30_000 });

    // b and c both edit revision 1; c saves first, b's save is a conflict that keeps both texts.
    await b.goto(`/demo/wiki.html${query}#/edit/Tabring_demo`);
    await c.goto(`/demo/wiki.html${query}#/edit/Tabring_demo`);
    await c.getByTestId('editor-text').fill("'''Tabring''' now links to [[Beernet]] instead. [[Category:Examples]]");
    await c.getByTestId('editor-save').click();
    await expect(c.getByTestId('page')).toHaveAttribute('data-rev', '2', { timeout: 30_000 });
    await b.getByTestId('editor-text').fill('My own text from tab b.');
    await b.getByTestId('editor-save').click();
    await expect(b.getByTestId('edit-conflict')).toBeVisible({ timeout: 30_000 });
    await expect(b.getByTestId('conflict-theirs')).toHaveValue(/Beernet/);
    await expect(b.getByTestId('editor-text')).toHaveValue('My own text from tab b.');
    await shot(b, 'wiki-conflict');

    // The lists followed c's edit.
    await a.goto(`/demo/wiki.html${query}#/linkshere/Scalaris`);
    await expect(a.getByTestId('links-here')).toContainText('No page links here', { timeout: 30_000 });
    await a.goto(`/demo/wiki.html${query}#/linkshere/Beernet`);
    await expect(a.getByTestId('links-here')).toContainText('Tabring demo', { timeout: 30_000 });
    await a.goto(`/demo/wiki.html${query}#/wiki/Category:Examples`);
    await expect(a.getByTestId('category-members')).toContainText('Tabring demo', { timeout: 30_000 });
    await a.goto(`/demo/wiki.html${query}#/wiki/Category:Demos`);
    await expect(a.getByTestId('category-members')).toContainText('This category has no pages', { timeout: 30_000 });
    await a.goto(`/demo/wiki.html${query}#/history/Tabring_demo`);
    await expect(a.getByTestId('history').locator('tr')).toHaveCount(3);
    await expect(a.getByTestId('history')).toContainText('first version');
    await shot(a, 'wiki-history');
    // An old revision is still there, rendered, and says it is old.
    await a.getByTestId('history').getByRole('link', { name: '#1' }).click();
    await expect(a.locator('.wikitext')).toContainText('keeps pages on peers', { timeout: 30_000 });
    await expect(a.getByTestId('page')).toContainText('An old revision (1 of 2)');
    // b merges by hand and saves on top of c's revision: both texts are kept.
    await b.getByTestId('editor-text').fill("'''Tabring''' now links to [[Beernet]] instead. My own text from tab b. [[Category:Examples]]");
    await b.getByTestId('editor-save').click();
    await expect(b.getByTestId('page')).toHaveAttribute('data-rev', '3', { timeout: 30_000 });
    await c.goto(`/demo/wiki.html${query}#/wiki/Tabring_demo`);
    await expect(c.getByTestId('page')).toHaveAttribute('data-rev', '3', { timeout: 30_000 });
    await expect(c.locator('.wikitext')).toContainText('My own text from tab b.');
  });

  test('console: every tab shows every peer of the ring, and where a key lives', async () => {
    test.setTimeout(120_000);
    await goAll('/demo/console.html');
    const ids = await Promise.all(pages.map((p) => p.getByTestId('ring-status').getAttribute('data-peer-id')));
    expect(new Set(ids).size).toBe(TABS);
    for (const [i, p] of pages.entries()) {
      for (const id of ids) await expect(p.getByTestId('ring').locator(`g.peer[data-peer="${id}"]`)).toHaveCount(1, { timeout: 30_000 });
      // This tab, its successor and its predecessor are marked (in a ring of 3: the other two).
      const roles = async (id: string | null) => (await p.getByTestId('ring').locator(`g.peer[data-peer="${id}"]`).getAttribute('data-roles')) ?? '';
      expect(await roles(ids[i]!)).toContain('self');
      await expect
        .poll(async () => {
          const others = await Promise.all(ids.filter((_, j) => j !== i).map(roles));
          return { succ: others.some((r) => /\bsucc\b/.test(r)), pred: others.some((r) => /\bpred\b/.test(r)) };
        }, { timeout: 30_000 })
        .toEqual({ succ: true, pred: true });
    }
    const [a, b] = pages as [Page, Page];
    await a.getByTestId('key').fill('console-key');
    await a.getByTestId('value').fill('{"from":"tab a"}');
    // After the import the tabs' replicas may take a while to answer: the page retries for
    // 20 s and says so; a person would then press Store again.
    await expect(async () => {
      if (!(await a.getByTestId('store').isDisabled())) await a.getByTestId('store').click();
      await expect(a.getByTestId('key-value')).toHaveText('{"from":"tab a"}', { timeout: 25_000 });
    }).toPass({ timeout: 90_000 });
    await b.getByTestId('key').fill('console-key');
    await b.getByTestId('lookup').click();
    await expect(b.getByTestId('key-value')).toHaveText('{"from":"tab a"}', { timeout: 30_000 });
    // Per-replica versions: 4 slots, each with a holder of this ring, authoritative, at one
    // version. Right after a commit a replica may still be applying it: look up again until then.
    await expect(async () => {
      await b.getByTestId('lookup').click();
      await expect(b.getByTestId('key-value')).toHaveText('{"from":"tab a"}', { timeout: 20_000 });
      const rows = await b.getByTestId('replicas').locator('tr[data-peer]').evaluateAll((rs) =>
        rs.map((r) => ({ peer: r.getAttribute('data-peer'), version: Number(r.getAttribute('data-version')), auth: r.getAttribute('data-authoritative') })),
      );
      expect(rows).toHaveLength(4);
      for (const r of rows) expect(ids).toContain(r.peer);
      expect(rows.every((r) => r.auth === 'true')).toBe(true);
      expect(new Set(rows.map((r) => r.version)).size).toBe(1);
      expect(rows[0]!.version).toBeGreaterThanOrEqual(1);
    }).toPass({ timeout: 60_000 });
    await expect(b.getByTestId('replicas')).toContainText('4 of 4 replicas answered, all at the same version');
    // The runtime's debug data: connections with traffic, latency percentiles of the reads above.
    await expect(b.getByTestId('debug-connections').locator('tr[data-peer]')).not.toHaveCount(0, { timeout: 15_000 });
    await expect(b.getByTestId('debug-latency').locator('tr[data-op="read"] td').nth(1)).not.toHaveText('0', { timeout: 15_000 });
    // The plots draw what the peer measured: messages flowed, the reads and the commit took time.
    for (const [page, plot] of [[b, 'msgs'], [b, 'latency'], [a, 'tx'], [b, 'items']] as const) {
      await expect.poll(async () => Number(await page.getByTestId(`plot-${plot}`).getAttribute('data-max')), { timeout: 15_000 }).toBeGreaterThan(0);
    }
    for (const [i, p] of pages.entries()) await shot(p, `console-${i}`);
    await b.getByTestId('replicas').scrollIntoViewIfNeeded();
    await shot(b, 'console-replicas');
    await b.getByTestId('debug-connections').scrollIntoViewIfNeeded();
    await shot(b, 'console-debug');
  });

  // Last: after an import the tabs hold thousands of items, and tabs that reload then
  // take a long time to serve writes again (see the report), so nothing navigates after it.
  test('wiki: the sample export imports completely, with progress', async () => {
    test.skip(!existsSync(SAMPLE_SOURCE), `the sample is not at ${SAMPLE_SOURCE}`);
    test.setTimeout(900_000);
    const [a, b] = pages as [Page, Page];
    // Both tabs open the wiki before the import: later they only change the page's hash.
    await b.goto(`/demo/wiki.html${query}#/wiki/Main_Page`);
    await a.goto(`/demo/wiki.html${query}#/import`);
    await Promise.all([a, b].map((p) => p.waitForSelector('body[data-ready=true]', { timeout: 60_000 })));
    await expect(a.getByTestId('import-sample')).toBeEnabled({ timeout: 30_000 });
    await a.getByTestId('import-sample').click();
    await expect(a.getByTestId('import-progress')).toContainText(/pages/, { timeout: 30_000 });
    await shot(a, 'wiki-import-progress');
    await expect(a.getByTestId('import-progress')).toHaveAttribute('data-done', 'true', { timeout: 850_000 });
    // The import's own summary (pages, lists, seconds) and anything it had to try again go into the report.
    const summary = (await a.getByTestId('import-progress').textContent()) ?? '';
    const trouble = (await a.getByTestId('import-errors').textContent()) ?? '';
    test.info().annotations.push({ type: 'import', description: `${summary} (load average ${loadavg()[0]!.toFixed(1)}) ${trouble}` });
    console.log(`demo e2e: ${summary} (load average ${loadavg()[0]!.toFixed(1)})${trouble ? `\n  ${trouble}` : ''}`);
    await expect(a.getByTestId('import-progress')).toContainText('Import complete: 491 pages');
    await expect(a.getByTestId('import-progress')).not.toContainText('failed');
    await shot(a, 'wiki-import-done');
    await b.evaluate(() => (location.hash = '#/wiki/Algeria'));
    await expect(b.getByTestId('page-title')).toHaveText('Algeria', { timeout: 30_000 });
    await expect(b.locator('.wikitext')).toContainText('Algeria');
    await expect(b.locator('.attribution')).toContainText('CC BY-SA 3.0');
    await shot(b, 'wiki-imported-page');
    await b.evaluate(() => (location.hash = '#/linkshere/Africa'));
    await expect(b.getByTestId('links-here').locator('li')).not.toHaveCount(0, { timeout: 30_000 });
    // Links to pages the sample does not have are indexed too: "United States" is linked
    // from 74 imported pages; its page does not exist and says who links to it.
    await b.evaluate(() => (location.hash = '#/linkshere/United_States'));
    await expect(b.getByTestId('links-here').locator('li')).toHaveCount(74, { timeout: 30_000 });
    await b.evaluate(() => (location.hash = '#/wiki/United_States'));
    await expect(b.getByTestId('missing-page')).toContainText('74 pages link here', { timeout: 30_000 });
    await shot(b, 'wiki-red-link-backlinks');
    await b.evaluate(() => (location.hash = '#/all/A'));
    await expect(b.getByTestId('all-pages').locator('li')).not.toHaveCount(0, { timeout: 30_000 });
  });
});

test.describe('each demo works with one tab alone', () => {
  test('draw, wiki and console in a ring of one', async ({ server: vite, browser }) => {
    test.setTimeout(180_000);
    const signaling = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    try {
      await context.grantPermissions(['camera', 'microphone'], { origin: vite.url });
      const solo = await context.newPage();
      const errors: string[] = [];
      solo.on('pageerror', (e) => errors.push(e.message));
      solo.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      const q = `?room=demo-solo-${Date.now().toString(36)}&signaling=${encodeURIComponent(signaling.url)}`;
      const open = async (path: string) => {
        await solo.goto(`${vite.url}${path}`);
        await solo.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
        await expect(solo.getByTestId('ring-status')).toHaveAttribute('data-state', 'in', { timeout: 30_000 });
      };
      await open(`/demo/draw.html${q}`);
      await solo.getByTestId('tool-ellipse').click();
      const box = (await solo.getByTestId('canvas').boundingBox())!;
      await solo.mouse.move(box.x + 50, box.y + 50);
      await solo.mouse.down();
      await solo.mouse.move(box.x + 150, box.y + 120, { steps: 5 });
      await solo.mouse.up();
      await expect(layer(solo)).toHaveCount(1);
      await expect(layer(solo).first()).toHaveAttribute('data-mine', 'true', { timeout: 15_000 });
      await shot(solo, 'solo-draw');

      await open(`/demo/wiki.html${q}#/edit/Alone`);
      await solo.getByTestId('editor-text').fill('Just me, [[Alone]] in the ring. [[Category:Solo]]');
      await solo.getByTestId('editor-save').click();
      await expect(solo.getByTestId('page')).toHaveAttribute('data-rev', '1', { timeout: 30_000 });
      await solo.goto(`${vite.url}/demo/wiki.html${q}#/wiki/Category:Solo`);
      await expect(solo.getByTestId('category-members')).toContainText('Alone', { timeout: 30_000 });
      await shot(solo, 'solo-wiki');

      await open(`/demo/console.html${q}`);
      await expect(solo.getByTestId('ring').locator('g.peer')).toHaveCount(1, { timeout: 30_000 });
      await expect(solo.getByTestId('ring').locator('g.peer')).toHaveAttribute('data-roles', /self/);
      // Alone, the tab holds all 4 replicas of a key, and the console says what that means.
      await solo.getByTestId('key').fill('solo-key');
      await solo.getByTestId('value').fill('42');
      await solo.getByTestId('store').click();
      await expect(solo.getByTestId('key-value')).toHaveText('42', { timeout: 30_000 });
      await expect(solo.getByTestId('replicas').locator('tr[data-peer]')).toHaveCount(4);
      await expect(solo.getByTestId('replicas')).toHaveAttribute('data-distinct-holders', '1');
      await expect(solo.getByTestId('replicas-shared')).toContainText('a ring of 1 peer cannot spread 4 replicas');
      await shot(solo, 'solo-console');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await signaling.close();
    }
  });
});
