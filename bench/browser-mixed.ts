/**
 * Always-on Node peers among browser tabs, beside the same number of tabs alone. Prints one
 * JSON object in the shape of bench/browser.ts (`results`: one entry per ring):
 *
 *   npm run bench:browser:mixed -- --json [--tabs 3] [--nodes 1] [--clients 10] [--seconds 8] [--storage memory]
 *
 * Two rings of tabs + nodes peers each, one after the other, in one run:
 * - tabs only: tabs + nodes browser tabs (one browser, one profile on disk: IndexedDB with
 *   strict durability), as bench:browser measures them;
 * - mixed: `nodes` Node peers (src/node: the same protocol core and driver, WebRTC through
 *   @roamhq/wrtc, files with fsync under a temporary directory) founding the ring, and
 *   `tabs` tabs joining it.
 * On every peer (tab or Node peer) `clients` loops increment their own key in read-modify-
 * write transactions (Scalaris' bench:increment): incrementTxPerSec, commitLatencyMs
 * p50/p99 (the commit request alone), incrementLatencyMs (read + commit), then quorum reads
 * of the same keys (readsPerSec). perPeer splits the figures by kind of peer; the floor is
 * the data-channel round trip from the first tab to a peer it is connected to (in the mixed
 * ring: a Node peer, answered by its protocol core) and one durable IndexedDB write.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSignalingServer } from '../signaling/server.ts';
import { launchOptions } from '../e2e/chromium.ts';
import { startVite } from '../e2e/harness.ts';
import { PEER_PAGE, connectPeer, status, waitFor, waitForRing } from '../e2e/pages/peer-driver.ts';
import { incrementLoop, readLoop, type LoopResult } from '../e2e/pages/loops.ts';
import { NodePeer } from '../src/node/node-peer.ts';
import { args } from './args.ts';
import { q, round } from './stats.ts';

const a = args();
const tabs = a.num('tabs', 3);
const nodes = a.num('nodes', 1);
const clients = a.num('clients', 10);
const seconds = a.num('seconds', 8);
/** 'memory': no IndexedDB in the tabs (the Node peers still write their files). */
const storage = a.get('storage') === 'memory' ? 'memory' : 'indexeddb';
const warmupMs = 1_000;
const rtt_samples = 300;
const idb_samples = 200;


async function runRing(viteUrl: string, signaling: string, nTabs: number, nNodes: number): Promise<Record<string, unknown>> {
  const dirs: string[] = [];
  const contexts: BrowserContext[] = [];
  const peers: NodePeer[] = [];
  const room = `bench-mixed-${nTabs}-${nNodes}-${Date.now().toString(36)}`;
  try {
    // The Node peers found the ring, as an always-on peer would have.
    for (let i = 0; i < nNodes; i++) {
      const dir = await mkdtemp(join(tmpdir(), 'tabring-bench-node-'));
      dirs.push(dir);
      peers.push(await NodePeer.start({ room, signaling, data: dir, joinTimeoutMs: 120_000 }));
    }
    const profile = await mkdtemp(join(tmpdir(), 'tabring-bench-mixed-'));
    dirs.push(profile);
    const context = await chromium.launchPersistentContext(profile, launchOptions());
    await context.grantPermissions(['camera', 'microphone'], { origin: viteUrl });
    contexts.push(context);
    const pages: Page[] = [];
    for (let i = 0; i < nTabs; i++) {
      const page = await context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`tab ${i}: ${e.message}\n`));
      await page.goto(new URL(PEER_PAGE, viteUrl).href);
      pages.push(page);
    }
    for (const p of context.pages()) if (!pages.includes(p)) await p.close();
    const opts = { room, signaling, storage, debugWorker: true, joinTimeoutMs: 120_000 } as const;
    // One after the other: each new peer places itself in the largest gap it is told of, so
    // ids are balanced (tabs that join at the same moment pick the same id when they know of
    // one peer only, and the server refuses all but one).
    for (const p of pages) await connectPeer(p, opts);
    const size = nTabs + nNodes;
    await waitFor(async () => peers.every((p) => p.runtime.driver.snapshot().ringSize === size), 120_000, `every Node peer to see a ring of ${size}`);
    await waitForRing(pages, size, 120_000);

    // The floor, in this very ring: tab -> a connected peer (a Node peer if there is one).
    const idb = storage === 'indexeddb' ? await pages[0]!.evaluate((k) => window.peer.idbWriteLatency(k), idb_samples) : null;
    const connected = (await status(pages[0]!)).connected;
    const target = connected.find((c) => peers.some((p) => p.id === c)) ?? connected[0];
    const rtt = target === undefined ? null : await pages[0]!.evaluate(([p, k]) => window.peer.rtt(p, k), [target, rtt_samples] as const);

    const loop = { clients, warmupMs, durationMs: seconds * 1000 };
    const load = loadavg()[0]!;
    const busyBefore = peers.map((p) => p.runtime.driver.snapshot().stats.busy_ms);
    const t0 = Date.now();
    const [tabInc, nodeInc] = await Promise.all([
      Promise.all(pages.map((p, i) => p.evaluate((o) => window.peer.incrementLoop(o), { ...loop, prefix: `tab${i}` }))),
      Promise.all(peers.map((p, i) => incrementLoop((op) => p.request(op), { ...loop, prefix: `node${i}` }))),
    ]);
    const wall = Date.now() - t0;
    const nodeBusy = peers.map((p, i) => Math.round(((p.runtime.driver.snapshot().stats.busy_ms - busyBefore[i]!) / wall) * 100) / 100);
    const [tabReads, nodeReads] = await Promise.all([
      Promise.all(pages.map((p, i) => p.evaluate((o) => window.peer.readLoop(o), { ...loop, prefix: `tab${i}` }))),
      Promise.all(peers.map((p, i) => readLoop((op) => p.request(op), { ...loop, prefix: `node${i}` }))),
    ]);
    const inc = [...tabInc, ...nodeInc];
    const reads = [...tabReads, ...nodeReads];
    const sum = (rs: LoopResult[]) => rs.reduce((s, r) => s + r.ok, 0);
    const commit = q(inc.flatMap((r) => r.commitLatencies));
    const floor = (rtt ? 2 * rtt.p50 : 0) + (idb?.p50 ?? 0);
    const part = (inc: LoopResult[], reads: LoopResult[], n: number) =>
      n === 0
        ? null
        : {
            peers: n,
            incrementTxPerSec: Math.round(sum(inc) / seconds),
            readsPerSec: Math.round(sum(reads) / seconds),
            commitLatencyMs: q(inc.flatMap((r) => r.commitLatencies)),
            incrementLatencyMs: q(inc.flatMap((r) => r.latencies)),
          };
    return {
      ring: nNodes === 0 ? 'tabs only' : 'mixed',
      tabs: nTabs,
      nodes: nNodes,
      clientsPerTab: clients,
      clientsPerNode: clients,
      incrementTxPerSec: Math.round(sum(inc) / seconds),
      readsPerSec: Math.round(sum(reads) / seconds),
      commitLatencyMs: commit,
      incrementLatencyMs: q(inc.flatMap((r) => r.latencies)),
      readLatencyMs: q(reads.flatMap((r) => r.latencies)),
      perPeer: { tabs: part(tabInc, tabReads, nTabs), nodes: part(nodeInc, nodeReads, nNodes) },
      floor: {
        dataChannelRttMs: rtt && { to: target !== undefined && peers.some((p) => p.id === target) ? 'node peer' : 'tab', p50: rtt.p50, p99: rtt.p99, samples: rtt.samples },
        indexedDbWriteMs: idb && { p50: idb.p50, p99: idb.p99, samples: idb.samples },
        commitFloorMs: Math.round(floor * 100) / 100,
        note: '2 data-channel round trips + 1 durable IndexedDB write',
      },
      commitP50OverFloor: commit && floor > 0 ? Math.round((commit.p50 / floor) * 100) / 100 : null,
      nodeDriverBusyShare: nodeBusy,
      loadAverageAtStart: round(load),
      failed: { increments: inc.reduce((s, r) => s + r.failed, 0), reads: reads.reduce((s, r) => s + r.failed, 0) },
      errors: [...new Set([...inc, ...reads].flatMap((r) => r.errors))].slice(0, 5),
    };
  } finally {
    for (const c of contexts) await c.close();
    for (const p of peers) await p.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

const vite = await startVite();
const server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
try {
  const results = [await runRing(vite.url, server.url, tabs + nodes, 0), await runRing(vite.url, server.url, tabs, nodes)];
  const browser = await chromium.launch(launchOptions());
  const version = browser.version();
  await browser.close();
  const out = {
    bench: 'browser-mixed',
    chromium: version,
    browsers: 'all tabs in one browser (one profile)',
    storage: storage === 'memory' ? 'tabs: memory (no IndexedDB); Node peers: files, fsync' : 'tabs: IndexedDB, strict durability, profile on disk; Node peers: files, fsync',
    replication: 4,
    seconds,
    loadAverageAtEnd: round(loadavg()[0]!),
    results,
  };
  console.log(JSON.stringify(out, null, a.json ? undefined : 2));
} finally {
  await server.close();
  await vite.close();
}
