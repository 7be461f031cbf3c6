import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { launchOptions } from './chromium.ts';
import { expect, openTrackedPage, test as base, trackErrors, type ErrorLog } from './harness.ts';
import { MiniRunner, type TestResult } from './pages/mini-runner.ts';
import { SCENARIO_PREFIX, registerStorageTests } from './pages/storage-tests.ts';

/**
 * The shared storage suite (and IndexedDB-only cases) against IndexedDbStorage inside a real
 * dedicated Worker in real Chromium, one Playwright test per suite test, on both IndexedDB
 * backends: on disk (a persistent profile, what users have) and in memory (Playwright's
 * ordinary contexts are incognito-like); plus persistence across a browser restart and a
 * real quota failure.
 */
const PAGE = '/e2e/pages/storage-suite.html';

// Registration only collects names; the tests themselves run in the browser.
const listing = new MiniRunner();
registerStorageTests(listing);

/**
 * One suite page per Playwright worker: a fresh context and page cost ~1.3 s here, a suite
 * test ~0.1 s. The suite's tests use their own database names and clean up, so they can
 * share a page; after a failure the page is thrown away so nothing leaks into the next test.
 */
type Backend = 'disk' | 'memory';
const BACKENDS: Backend[] = ['disk', 'memory'];

class SuitePage {
  private context: BrowserContext | undefined;
  private page: Page | undefined;
  private profile: string | undefined;
  readonly log: ErrorLog = { errors: [], allow: [] };

  constructor(
    private readonly browser: Browser,
    private readonly url: string,
    private readonly backend: Backend,
  ) {}

  async get(): Promise<Page> {
    if (this.page === undefined) {
      if (this.backend === 'disk') {
        this.profile = await mkdtemp(join(tmpdir(), 'tabring-suite-profile-'));
        this.context = await chromium.launchPersistentContext(this.profile, launchOptions());
      } else {
        this.context = await this.browser.newContext();
      }
      this.page = await openTrackedPage(this.context, this.url, this.log);
      await ready(this.page);
    }
    return this.page;
  }

  async reset(): Promise<void> {
    await this.context?.close();
    if (this.profile !== undefined) await rm(this.profile, { recursive: true, force: true });
    this.context = this.page = this.profile = undefined;
    this.log.errors.length = 0;
  }
}

const test = base.extend<object, { suitePages: Record<Backend, SuitePage> }>({
  suitePages: [
    async ({ browser, server }, use) => {
      const url = new URL(PAGE, server.url).href;
      const pages = { disk: new SuitePage(browser, url, 'disk'), memory: new SuitePage(browser, url, 'memory') };
      await use(pages);
      await Promise.all([pages.disk.reset(), pages.memory.reset()]);
    },
    { scope: 'worker' },
  ],
});

// Independent tests: let both Playwright workers take a share.
test.describe.configure({ mode: 'parallel' });

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => 'tabringTests' in window);
}

async function runInWorker(page: Page, name: string): Promise<TestResult> {
  const result = await page.evaluate((n) => window.tabringTests.run(n), name);
  expect(result.ok, result.error).toBe(true);
  return result;
}

test.describe('storage in a real browser worker', () => {
  test('the worker registers exactly the tests listed here', async ({ openPage }) => {
    const page = await openPage(PAGE);
    await ready(page);
    const names = await page.evaluate(() => window.tabringTests.names());
    expect(names.filter((n) => !n.startsWith(SCENARIO_PREFIX))).toEqual(listing.names());
  });

  for (const backend of BACKENDS) {
    for (const name of listing.names()) {
      test(`${backend}: ${name}`, async ({ suitePages }) => {
        const suitePage = suitePages[backend];
        try {
          await runInWorker(await suitePage.get(), name);
          expect(suitePage.log.errors, 'errors in the browser').toEqual([]);
        } catch (e) {
          await suitePage.reset();
          throw e;
        }
      });
    }
  }

  test('records survive closing and relaunching the browser with the same profile', async ({ server }) => {
    const profile = await mkdtemp(join(tmpdir(), 'tabring-profile-'));
    const log: ErrorLog = { errors: [], allow: [] };
    try {
      for (const step of ['persist: write', 'persist: check']) {
        // A persistent context is a whole browser process: closing it exits Chromium.
        const context = await chromium.launchPersistentContext(profile, launchOptions());
        try {
          const page = context.pages()[0] ?? (await context.newPage());
          trackErrors(page, log, step);
          await page.goto(new URL(PAGE, server.url).href);
          await ready(page);
          await runInWorker(page, `${SCENARIO_PREFIX} > ${step}`);
        } finally {
          await context.close();
        }
      }
      expect(log.errors).toEqual([]);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  });

  test('a full origin rejects writes with StorageError quota, and recovers', async ({ openPage, context, server }) => {
    const page = await openPage(PAGE);
    await ready(page);
    // DevTools' quota override (Storage.overrideQuotaForOrigin) gives the origin a real,
    // small quota: IndexedDB then fails transactions with a genuine QuotaExceededError.
    const cdp = await context.newCDPSession(page);
    const quotaBytes = 8 * 1024 * 1024;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url, quotaSize: quotaBytes });
    // (navigator.storage.estimate() keeps reporting a fixed 10 GiB in Chromium 156: ask CDP.)
    const { quota, overrideActive } = await cdp.send('Storage.getUsageAndQuota', { origin: server.url });
    expect({ quota, overrideActive }).toEqual({ quota: quotaBytes, overrideActive: true });
    try {
      await runInWorker(page, `${SCENARIO_PREFIX} > quota: fill until QuotaExceededError, then recover`);
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.url });
    }
  });
});
