import { networkInterfaces } from 'node:os';
import { expect, openPeers, test, trackErrors, type ErrorLog } from './harness.ts';

/** The harness itself: isolation of peers, error tracking, and the loopback-only namespace. */
const PAGE = '/e2e/pages/storage-suite.html';

test('peers in separate contexts and processes have separate IndexedDB', async ({ server }) => {
  const set = await openPeers(server.url, PAGE, 3, 2);
  try {
    expect(set.browsers).toHaveLength(2);
    const [a, b, c] = set.peers.map((p) => p.page);
    const write = (name: string) =>
      new Promise<void>((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore('s');
        req.onsuccess = () => (req.result.close(), resolve());
        req.onerror = () => reject(req.error);
      });
    await a!.evaluate(write, 'only-in-peer-0');
    const names = async (p: typeof a) => p!.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    expect(await names(a)).toContain('only-in-peer-0');
    expect(await names(b)).not.toContain('only-in-peer-0'); // other process
    expect(await names(c)).not.toContain('only-in-peer-0'); // same process, other context
    expect(set.log.errors).toEqual([]);
  } finally {
    await set.close();
  }
});

test('uncaught page errors and console errors are collected', async ({ page }) => {
  const log: ErrorLog = { errors: [], allow: [/expected noise/] };
  trackErrors(page, log, 'probe');
  await page.setContent('<p>probe</p>');
  await page.evaluate(() => {
    console.error('expected noise');
    console.error('real trouble');
    setTimeout(() => {
      throw new Error('boom');
    });
  });
  await expect.poll(() => log.errors.length).toBe(2);
  expect(log.errors.join('\n')).toMatch(/real trouble/);
  expect(log.errors.join('\n')).toMatch(/uncaught Error: boom/);
});

test('inside the e2e namespace the only network interface is loopback', async () => {
  test.skip(process.env.TABRING_E2E_NETNS !== 'inside', 'not started by e2e/run.sh in a namespace');
  expect(Object.keys(networkInterfaces())).toEqual(['lo']);
});
