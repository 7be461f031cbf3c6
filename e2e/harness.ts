import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base, chromium, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { launchOptions } from './chromium.ts';

/**
 * Shared helpers for browser tests and benchmarks:
 * - startVite(): a Vite dev server on 127.0.0.1, port chosen by the OS, private cache dir;
 * - `test`: Playwright's test with a `server` fixture (the run's Vite, see global-setup.ts)
 *   and `openPage`, which opens a page and fails the test on any page error, uncaught worker
 *   error, crash or console.error;
 * - openPeers(): N isolated peers, each its own browser context, spread over P browser
 *   processes (contexts do not share storage; WebRTC works between them).
 */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Env var through which global-setup hands the server URL to the test workers. */
export const SERVER_URL_ENV = 'TABRING_E2E_URL';

export interface ViteHandle {
  readonly url: string;
  close(): Promise<void>;
}

export async function startVite(): Promise<ViteHandle> {
  const { createServer } = await import('vite');
  // A private dependency cache: concurrent runs (other engineers, bench + tests) must not
  // optimize into the same directory at once.
  const cacheDir = join(REPO_ROOT, '.tmp', `vite-${process.pid}-${randomBytes(4).toString('hex')}`);
  const server = await createServer({
    configFile: join(REPO_ROOT, 'e2e', 'vite.config.ts'),
    cacheDir,
    server: { host: '127.0.0.1', port: 0, strictPort: true },
  });
  await server.listen();
  const address = server.httpServer?.address() as AddressInfo | null;
  if (address === null || address === undefined || typeof address !== 'object') throw new Error('vite: no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      await server.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch(launchOptions());
}

/** Everything that went wrong in a page; a test fails if it is not empty at the end. */
export interface ErrorLog {
  readonly errors: string[];
  /** console.error text matching one of these is expected, not a failure. */
  readonly allow: RegExp[];
}

export function trackErrors(page: Page, log: ErrorLog, label = 'page'): void {
  page.on('pageerror', (e) => log.errors.push(`${label}: uncaught ${e.name}: ${e.message}`));
  page.on('crash', () => log.errors.push(`${label}: crashed`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const where = m.location().url;
    if (!log.allow.some((re) => re.test(text))) log.errors.push(`${label}: console.error ${text}${where ? ` (${where})` : ''}`);
  });
}

/** Opens `path` on the server in a new page of `context` and tracks its errors. */
export async function openTrackedPage(context: BrowserContext, url: string, log: ErrorLog, label?: string): Promise<Page> {
  const page = await context.newPage();
  trackErrors(page, log, label);
  await page.goto(url);
  return page;
}

export interface Peer {
  readonly index: number;
  readonly context: BrowserContext;
  readonly page: Page;
}

export interface PeerSet {
  readonly peers: Peer[];
  readonly browsers: Browser[];
  readonly log: ErrorLog;
  close(): Promise<void>;
}

/**
 * Opens `count` peers on `path`, each in its own context (own IndexedDB, own everything),
 * round-robin over `processes` freshly launched browsers. Grants camera/microphone, which
 * WebRTC needs for loopback candidates (PLATFORM.md).
 */
export async function openPeers(serverUrl: string, path: string, count: number, processes = 1): Promise<PeerSet> {
  const log: ErrorLog = { errors: [], allow: [] };
  const browsers: Browser[] = [];
  const peers: Peer[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(browsers.map((b) => b.close()));
  };
  try {
    for (let i = 0; i < processes; i++) browsers.push(await launchBrowser());
    for (let i = 0; i < count; i++) {
      const context = await browsers[i % processes]!.newContext();
      await context.grantPermissions(['camera', 'microphone'], { origin: serverUrl });
      const page = await openTrackedPage(context, new URL(path, serverUrl).href, log, `peer ${i}`);
      peers.push({ index: i, context, page });
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { peers, browsers, log, close };
}

interface Fixtures {
  /** Errors of pages opened with openPage; checked after the test. */
  errorLog: ErrorLog;
  /** Opens a path of the server in a new page (of `context` unless given) and tracks its errors. */
  openPage: (path: string, context?: BrowserContext) => Promise<Page>;
}

export const test = base.extend<Fixtures, { server: { url: string } }>({
  server: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const shared = process.env[SERVER_URL_ENV];
      if (shared !== undefined) return use({ url: shared });
      const own = await startVite(); // run without global-setup (e.g. a single file by hand)
      try {
        await use({ url: own.url });
      } finally {
        await own.close();
      }
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ server }, use) => use(server.url),
  errorLog: async ({}, use) => {
    const log: ErrorLog = { errors: [], allow: [] };
    await use(log);
    expect(log.errors, 'errors in the browser').toEqual([]);
  },
  openPage: async ({ context, server, errorLog }, use) => {
    await use((path, ctx = context) => openTrackedPage(ctx, new URL(path, server.url).href, errorLog));
  },
});

export { expect };
