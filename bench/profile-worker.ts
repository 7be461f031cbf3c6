/**
 * Where a tab's worker spends its CPU under the increment load: N tabs of one browser form a
 * ring (as bench:browser), every tab runs the increment loop, and tab 0's worker is sampled
 * by V8's CPU profiler (DevTools protocol). Prints the functions with the most self time, and
 * writes the whole profile (load it in DevTools' Performance panel) when --out is given.
 *
 *   npx tsx bench/profile-worker.ts [--tabs 4] [--seconds 6] [--top 40] [--out worker.cpuprofile]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type CDPSession, type Page } from 'playwright-core';
import { startSignalingServer } from '../signaling/server.ts';
import { launchOptions } from '../e2e/chromium.ts';
import { startVite } from '../e2e/harness.ts';
import { PEER_PAGE, connectPeer, waitForRing } from '../e2e/pages/peer-driver.ts';
import { args } from './args.ts';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

const a = args();
const n = a.num('tabs', 4);
const seconds = a.num('seconds', 6);
const top = a.num('top', 40);
const out = a.get('out');

/** The first worker target of a page, driven through the (non-flat) Target domain. */
async function workerSession(cdp: CDPSession): Promise<(method: string, params?: object) => Promise<any>> {
  let nextId = 1;
  const waiting = new Map<number, (r: any) => void>();
  const attached = new Promise<string>((resolve) => {
    cdp.on('Target.attachedToTarget', (e: any) => {
      if (e.targetInfo.type === 'worker') resolve(e.sessionId);
    });
  });
  cdp.on('Target.receivedMessageFromTarget', (e: any) => {
    const m = JSON.parse(e.message);
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const sessionId = await attached;
  return (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result)));
      void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
}

const vite = await startVite();
const server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
const profile = await mkdtemp(join(tmpdir(), 'tabring-profile-'));
const context = await chromium.launchPersistentContext(profile, launchOptions());
try {
  await context.grantPermissions(['camera', 'microphone'], { origin: vite.url });
  const pages: Page[] = [];
  for (let i = 0; i < n; i++) {
    const page = await context.newPage();
    await page.goto(new URL(PEER_PAGE, vite.url).href);
    pages.push(page);
  }
  for (const p of context.pages()) if (!pages.includes(p)) await p.close();
  const cdp = await context.newCDPSession(pages[0]!);
  const sessionReady = workerSession(cdp);
  const opts = { room: `profile-${Date.now().toString(36)}`, signaling: server.url, storage: 'indexeddb', debugWorker: true, joinTimeoutMs: 60_000 } as const;
  await connectPeer(pages[0]!, opts);
  await Promise.all(pages.slice(1).map((p) => connectPeer(p, opts)));
  await waitForRing(pages, n, 120_000);
  const call = await sessionReady;
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 200 });
  const loop = { clients: 10, warmupMs: 1000, durationMs: seconds * 1000 };
  const running = Promise.all(pages.map((p, i) => p.evaluate((o) => window.peer.incrementLoop(o), { ...loop, prefix: `inc${i}` })));
  await new Promise((r) => setTimeout(r, 1000));
  await call('Profiler.start');
  await new Promise((r) => setTimeout(r, (seconds - 1) * 1000));
  const { profile: prof } = (await call('Profiler.stop')) as { profile: Profile };
  const results = await running;
  if (out) await writeFile(out, JSON.stringify(prof));
  const total = prof.samples.length;
  const self = new Map<string, number>();
  for (const node of prof.nodes) {
    const f = node.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(?=[^/]+$)/, '').replace(/\?.*$/, '')}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + (node.hitCount ?? 0));
  }
  const idle = self.get('(idle) :0') ?? 0;
  console.log(JSON.stringify({ tabs: n, txPerSec: Math.round(results.reduce((s, r) => s + r.ok, 0) / seconds), samples: total, busyShare: Math.round(((total - idle) / total) * 100) / 100 }));
  for (const [name, hits] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) {
    console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
} finally {
  await context.close();
  await rm(profile, { recursive: true, force: true });
  await server.close();
  await vite.close();
}
