/**
 * Storage throughput. Prints one JSON object:
 *   npm run bench:storage -- --json [--scale 1] [--concurrency 1,10,100,1000] [--no-browser]
 * browser: IndexedDbStorage inside a dedicated worker in real Chromium, profile on disk
 *   (a persistent context: Playwright's ordinary contexts keep IndexedDB in memory), for
 *   durability strict and relaxed: bare IndexedDB with 1/100/1000 puts per transaction,
 *   and the adapter with C concurrent single-put writers (its group commit at work);
 * node: FileStorage (append + fdatasync per commit) with the same writers.
 * putsPerCommit shows how many writes each transaction / fdatasync carried.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { FileStorage } from '../src/adapters/file-storage.ts';
import { launchOptions } from '../e2e/chromium.ts';
import { startVite } from '../e2e/harness.ts';
import { args } from './args.ts';
import { measureWrites, putsFor, type Measurement } from './storage-measure.ts';
import type { BrowserBenchRequest } from './storage.worker.ts';

const a = args();
const scale = a.num('scale', 1);
const concurrency = a.list('concurrency', [1, 10, 100, 1000]);
const withBrowser = !process.argv.includes('--no-browser');

async function browserBench(): Promise<unknown> {
  const vite = await startVite();
  const profile = await mkdtemp(join(tmpdir(), 'tabring-bench-profile-'));
  try {
    const context = await chromium.launchPersistentContext(profile, launchOptions());
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.on('pageerror', (e) => console.error(`bench page error: ${e.message}`));
      await page.goto(`${vite.url}/bench/storage.html`);
      await page.waitForFunction(() => 'storageBench' in window);
      const chromiumVersion = await page.evaluate(() => /Chrome\/([\d.]+)/.exec(navigator.userAgent)?.[1] ?? 'unknown');
      const req: BrowserBenchRequest = { concurrency, scale };
      const result = await page.evaluate((r) => window.storageBench.run(r), req);
      return { chromium: chromiumVersion, profile: 'disk (persistent context)', ...(result as object) };
    } finally {
      await context.close();
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
    await vite.close();
  }
}

async function fileBench(): Promise<Measurement[]> {
  const root = await mkdtemp(join(tmpdir(), 'tabring-bench-file-'));
  try {
    const out: Measurement[] = [];
    for (const c of concurrency) {
      const storage = await FileStorage.open(join(root, `c${c}`));
      out.push(await measureWrites(storage, c, putsFor(c, scale), () => performance.now()));
      await storage.destroy();
    }
    return out;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const result = {
  bench: 'storage',
  node: process.version,
  scale,
  fileStorage: await fileBench(),
  ...(withBrowser ? { browser: await browserBench() } : {}),
};
console.log(JSON.stringify(result, null, a.json ? undefined : 2));
