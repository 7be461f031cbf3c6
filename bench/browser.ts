/**
 * The store in real browser tabs, as users run it: N tabs of one browser (one profile on
 * disk, so IndexedDB writes are durable; strict durability), each a peer with its worker,
 * WebRTC between them, r = 4. Prints one JSON object:
 *
 *   npm run bench:browser -- --json [--tabs 1,4,8] [--clients 10] [--seconds 8] [--storage memory] [--browsers per-tab]
 *
 * Per N: incrementTxPerSec (Scalaris' bench:increment: every client increments its own key
 * in a read-modify-write transaction; `clients` per tab, like Scalaris' client threads),
 * readsPerSec (quorum reads), commitLatencyMs p50/p99 (the commit request alone, under that
 * load), commitLatencyUnloadedMs (one client, the other tabs idle: no queueing), and,
 * measured in the same run, the floor they stand on: the data-channel round trip between
 * two tabs' protocol cores and the latency of one durable IndexedDB write. A commit takes 4
 * message delays (2 round trips) plus one durable write: commitFloorMs. Also reported: CPU
 * cost per message in a worker (send, decode), how busy each worker's driver was, and the
 * machine's load average (other processes share the 2 cores).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSignalingServer } from '../signaling/server.ts';
import { launchOptions } from '../e2e/chromium.ts';
import { startVite } from '../e2e/harness.ts';
import { PEER_PAGE, connectPeer, status, waitForRing } from '../e2e/pages/peer-driver.ts';
import type { LoopResult, Quantiles } from '../e2e/pages/peer.ts';
import { args } from './args.ts';
import { q, round } from './stats.ts';
import { loadavg } from 'node:os';
import { processTreeCpuMs, threadCpuMs } from './proc-cpu.ts';

const a = args();
const tabsList = a.list('tabs', [1, 4, 8]);
const clients = a.num('clients', 10);
const seconds = a.num('seconds', 8);
/** 'memory': no IndexedDB in the peers (to separate storage from the rest; not the product's numbers). */
const storage = a.get('storage') === 'memory' ? 'memory' : 'indexeddb';
/**
 * 'one' (default): every tab in one browser, as a user runs them; its tabs share one origin,
 * so Chromium keeps all their IndexedDB databases in one backing store, whose strict commits
 * (fsync) are serialized. 'per-tab': each tab its own browser and profile, as tabs on
 * different machines would be (each with its own disk queue).
 */
const browsers = a.get('browsers') === 'per-tab' ? 'per-tab' : 'one';
const warmupMs = 1_000;
const rtt_samples = 300;
const idb_samples = 200;
/** How long the unloaded commit latency is sampled (one client, sequential commits). */
const unloaded_ms = 3_000;


async function runTabs(viteUrl: string, signaling: string, n: number): Promise<Record<string, unknown>> {
  const profiles: string[] = [];
  const contexts: BrowserContext[] = [];
  try {
    const pages: Page[] = [];
    const newContext = async () => {
      const profile = await mkdtemp(join(tmpdir(), 'tabring-bench-browser-'));
      profiles.push(profile);
      const context = await chromium.launchPersistentContext(profile, launchOptions());
      await context.grantPermissions(['camera', 'microphone'], { origin: viteUrl });
      contexts.push(context);
      return context;
    };
    const shared = browsers === 'one' ? await newContext() : null;
    for (let i = 0; i < n; i++) {
      const context = shared ?? (await newContext());
      const page = await context.newPage();
      page.on('pageerror', (e) => process.stderr.write(`tab ${i}: ${e.message}\n`));
      await page.goto(new URL(PEER_PAGE, viteUrl).href);
      pages.push(page);
    }
    for (const c of contexts) for (const p of c.pages()) if (!pages.includes(p)) await p.close();
    const room = `bench-${n}-${Date.now().toString(36)}`;
    const opts = { room, signaling, storage, debugWorker: true, joinTimeoutMs: 60_000 } as const;
    await connectPeer(pages[0]!, opts);
    await Promise.all(pages.slice(1).map((p) => connectPeer(p, opts)));
    await waitForRing(pages, n, 120_000);

    // The floor, in this very ring.
    const idb = await pages[0]!.evaluate((k) => window.peer.idbWriteLatency(k), idb_samples);
    let rtt: Quantiles | null = null;
    if (n > 1) {
      const other = (await status(pages[0]!)).connected[0]!;
      rtt = await pages[0]!.evaluate(([p, k]) => window.peer.rtt(p, k), [other, rtt_samples] as const);
    }
    const loop = { clients, warmupMs, durationMs: seconds * 1000 };
    // CPU per message in a worker: what bounds throughput once the CPU is saturated.
    const micro = n > 1 ? await pages[0]!.evaluate((p) => window.peer.micro(p), (await status(pages[0]!)).connected[0]!) : null;
    const before = await Promise.all(pages.map(status));
    const load = loadavg()[0]!;
    const cpu0 = processTreeCpuMs(profiles);
    const threads0 = a.flag('threads') ? threadCpuMs(profiles) : null;
    const t0 = Date.now();
    const inc: LoopResult[] = await Promise.all(pages.map((p, i) => p.evaluate((o) => window.peer.incrementLoop(o), { ...loop, prefix: `inc${i}` })));
    const cpu1 = processTreeCpuMs(profiles);
    const threads1 = threads0 && threadCpuMs(profiles);
    const after = await Promise.all(pages.map(status));
    const wall = Date.now() - t0;
    const incDone = inc.reduce((s, r) => s + r.ok, 0);
    // Every process of the browser(s) under test: workers, renderers, network, IndexedDB.
    // CPU per second of the loop (warm-up included) over transactions per second of the window.
    const cores = cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / wall;
    const txPerWallMs = Math.max(1e-9, incDone / seconds) / 1000;
    const browserCpu = cores === null ? null : { cpuMsPerTx: round(cores / txPerWallMs), cores: round(cores) };
    // --threads: CPU ms per transaction by process type / thread name, largest first.
    const threadsMsPerTx = threads1 && Object.fromEntries(
      [...threads1].map(([k, v]) => [k, (v - (threads0!.get(k) ?? 0)) / wall / txPerWallMs] as const).filter(([, v]) => v >= 0.01).sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, round(v)]),
    );
    // Where the workers' time went during the increments (busy: inside the driver).
    const workers = after.map((st, i) => {
      const [b, d] = [before[i]!.stats, st.stats];
      return {
        busyShare: Math.round(((d.busy_ms - b.busy_ms) / wall) * 100) / 100,
        messagesIn: d.messages_in - b.messages_in,
        messagesOut: d.messages_out - b.messages_out,
        messagesLocal: d.messages_local - b.messages_local,
        // Frames on the data channels: one carries every message for one peer from one drain.
        framesIn: d.frames_in - b.frames_in,
        framesOut: d.frames_out - b.frames_out,
        // Data-channel sends: frames held while a channel was busy leave together ('b' frames).
        channelSends: (st.transport?.channel_sends ?? 0) - (before[i]!.transport?.channel_sends ?? 0),
        batchesSent: (st.transport?.batches_sent ?? 0) - (before[i]!.transport?.batches_sent ?? 0),
        drains: d.flushes - b.flushes,
        batchesWritten: d.batches_written - b.batches_written,
        batchesMerged: (d.batches_merged ?? 0) - (b.batches_merged ?? 0),
        writeMsMean: Math.round(((d.write_ms - b.write_ms) / Math.max(1, d.batches_written - b.batches_written)) * 10) / 10,
        sendMs: Math.round(d.send_ms - b.send_ms),
        receiveMs: Math.round(d.decode_ms - b.decode_ms),
      };
    });
    const reads: LoopResult[] = await Promise.all(pages.map((p, i) => p.evaluate((o) => window.peer.readLoop(o), { ...loop, prefix: `inc${i}` })));
    const sum = (rs: LoopResult[]) => rs.reduce((s, r) => s + r.ok, 0);
    // Signs of overload in the protocol: timeouts that fired, recoveries, suspicions.
    const protocol: Record<string, number> = {};
    for (const p of pages) {
      const st = (await p.evaluate(() => window.peer.protocolStatus())) as { counters?: Record<string, number> } | null;
      for (const [k, v] of Object.entries(st?.counters ?? {})) {
        if (/suspect|recover|timeout|retry|abort|inquir|unknown|dropped/.test(k)) protocol[k] = (protocol[k] ?? 0) + v;
      }
    }
    // The same commit without queueing: one client in tab 0, every other tab idle. Under the
    // load above a commit waits behind the others in flight (Little's law: latency = clients /
    // throughput), which the floor does not count; this is the latency to compare with it.
    const solo: LoopResult = await pages[0]!.evaluate((o) => window.peer.incrementLoop(o), { clients: 1, warmupMs: 500, durationMs: unloaded_ms, prefix: 'solo' });
    const commit = q(inc.flatMap((r) => r.commitLatencies));
    const commitSolo = q(solo.commitLatencies);
    const floor = (n > 1 ? 2 * rtt!.p50 : 0) + idb.p50;
    return {
      tabs: n,
      clientsPerTab: clients,
      incrementTxPerSec: Math.round(sum(inc) / seconds),
      readsPerSec: Math.round(sum(reads) / seconds),
      commitLatencyMs: commit,
      /** One client, the other tabs idle: no queueing behind other transactions. */
      commitLatencyUnloadedMs: commitSolo,
      incrementLatencyMs: q(inc.flatMap((r) => r.latencies)),
      readLatencyMs: q(reads.flatMap((r) => r.latencies)),
      floor: {
        dataChannelRttMs: rtt && { p50: rtt.p50, p99: rtt.p99, samples: rtt.samples },
        indexedDbWriteMs: { p50: idb.p50, p99: idb.p99, samples: idb.samples },
        commitFloorMs: Math.round(floor * 100) / 100,
        note: n > 1 ? '2 data-channel round trips + 1 durable write' : 'one tab: no messages leave it; 1 durable write',
      },
      commitP50OverFloor: commit ? Math.round((commit.p50 / floor) * 100) / 100 : null,
      commitUnloadedP50OverFloor: commitSolo ? Math.round((commitSolo.p50 / floor) * 100) / 100 : null,
      perMessageUs: micro && { dataChannelSend300B: round(micro.sendBigUs), decode: round(micro.decodeUs), jsonParse: round(micro.parseUs) },
      loadAverageAtStart: Math.round(load * 10) / 10,
      browserCpu,
      ...(threadsMsPerTx ? { threadsMsPerTx } : {}),
      workers,
      protocol,
      failed: { increments: inc.reduce((s, r) => s + r.failed, 0), reads: reads.reduce((s, r) => s + r.failed, 0) },
      errors: [...new Set([...inc, ...reads].flatMap((r) => r.errors))].slice(0, 5),
    };
  } finally {
    for (const c of contexts) await c.close();
    for (const p of profiles) await rm(p, { recursive: true, force: true });
  }
}

const vite = await startVite();
const server = await startSignalingServer({ port: 0, host: '127.0.0.1', log: () => {} });
try {
  const results = [];
  for (const n of tabsList) results.push(await runTabs(vite.url, server.url, n));
  const browser = await chromium.launch(launchOptions());
  const version = browser.version();
  await browser.close();
  const out = { bench: 'browser', chromium: version, browsers: browsers === 'one' ? 'all tabs in one browser (one profile)' : 'one browser and profile per tab', storage: storage === 'memory' ? 'memory (no IndexedDB)' : 'IndexedDB, strict durability, profile on disk', replication: 4, seconds, results };
  console.log(JSON.stringify(out, null, a.json ? undefined : 2));
} finally {
  await server.close();
  await vite.close();
}
