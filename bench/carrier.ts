/**
 * What one message between two tabs of one browser costs, by carrier: a WebRTC data channel
 * (what tabring uses), a MessagePort handed out by a SharedWorker, and a BroadcastChannel.
 * Two tabs of one Chromium (one profile); tab A keeps `window` messages of `bytes` bytes in
 * flight, tab B echoes each. Prints one JSON object:
 *
 *   npm run bench:carrier -- --json [--seconds 4] [--window 8] [--bytes 600]
 *
 * Per carrier: roundTripsPerSec, cpuUsPerMessage (CPU of every process of the browser, from
 * /proc, over the run, per one-way message: independent of other jobs' load, unlike the
 * rate), rttMs (one message at a time). Why it exists: with 4 tabs, tabring's throughput is
 * bound by the CPU the browser spends per message between tabs (README, browser
 * benchmarks); this separates the carrier's share from the protocol's. The messages are
 * sent from the pages' main threads, the same for every carrier.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { launchOptions } from '../e2e/chromium.ts';
import { args } from './args.ts';
import { processTreeCpuMs } from './proc-cpu.ts';
import { q, round } from './stats.ts';

const a = args();
const seconds = a.num('seconds', 4);
const windowSize = a.num('window', 8);
const bytes = a.num('bytes', 600);
const rtt_samples = 300;
const files: Record<string, string> = { '/page.html': 'text/html', '/broker.js': 'text/javascript' };

type Carrier = 'dataChannel' | 'messagePort' | 'broadcastChannel';

interface CarrierPage {
  carrier: {
    offer(): Promise<string>;
    answer(offer: string): Promise<string>;
    accept(answer: string): Promise<void>;
    pairPorts(): Promise<void>;
    broadcast(role: string): void;
    ready(): boolean;
    echo(): void;
    run(ms: number, window: number, bytes: number): Promise<{ roundTrips: number; elapsedMs: number }>;
    rtt(n: number, bytes: number): Promise<number[]>;
  };
}

async function connect(kind: Carrier, A: Page, B: Page): Promise<void> {
  if (kind === 'dataChannel') {
    const offer = await A.evaluate(() => (window as unknown as CarrierPage).carrier.offer());
    const answer = await B.evaluate((o) => (window as unknown as CarrierPage).carrier.answer(o), offer);
    await A.evaluate((s) => (window as unknown as CarrierPage).carrier.accept(s), answer);
  } else if (kind === 'messagePort') {
    await Promise.all([A, B].map((p) => p.evaluate(() => (window as unknown as CarrierPage).carrier.pairPorts())));
  } else {
    await A.evaluate(() => (window as unknown as CarrierPage).carrier.broadcast('a'));
    await B.evaluate(() => (window as unknown as CarrierPage).carrier.broadcast('b'));
  }
  await B.waitForFunction(() => (window as unknown as CarrierPage).carrier.ready());
  await B.evaluate(() => (window as unknown as CarrierPage).carrier.echo());
}

async function measure(kind: Carrier, base: string): Promise<Record<string, unknown>> {
  const profile = await mkdtemp(join(tmpdir(), 'tabring-bench-carrier-'));
  const context = await chromium.launchPersistentContext(profile, launchOptions());
  try {
    const A = await context.newPage();
    const B = await context.newPage();
    await Promise.all([A.goto(`${base}/page.html`), B.goto(`${base}/page.html`)]);
    await connect(kind, A, B);
    // Warm up (JIT, SCTP windows), then the measured run.
    await A.evaluate(([w, b]) => (window as unknown as CarrierPage).carrier.run(500, w!, b!), [windowSize, bytes]);
    const cpu0 = processTreeCpuMs([profile]);
    const r = await A.evaluate(([ms, w, b]) => (window as unknown as CarrierPage).carrier.run(ms!, w!, b!), [seconds * 1000, windowSize, bytes]);
    const cpu1 = processTreeCpuMs([profile]);
    const rtts = await A.evaluate(([n, b]) => (window as unknown as CarrierPage).carrier.rtt(n!, b!), [rtt_samples, bytes]);
    const messages = 2 * r.roundTrips;
    return {
      carrier: kind,
      roundTripsPerSec: Math.round((r.roundTrips * 1000) / r.elapsedMs),
      cpuUsPerMessage: cpu0 === null || cpu1 === null ? null : round(((cpu1 - cpu0) * 1000) / messages),
      cpuCores: cpu0 === null || cpu1 === null ? null : round((cpu1 - cpu0) / r.elapsedMs),
      rttMs: q(rtts),
    };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]!;
  const type = files[path];
  if (type === undefined) {
    res.writeHead(404).end();
    return;
  }
  readFile(new URL(`./carrier${path}`, import.meta.url)).then(
    (body) => res.writeHead(200, { 'content-type': type }).end(body),
    () => res.writeHead(500).end(),
  );
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
try {
  const loadAtStart = round(loadavg()[0]!);
  const results = [];
  for (const kind of ['dataChannel', 'messagePort', 'broadcastChannel'] as const) results.push(await measure(kind, base));
  const out = { bench: 'carrier', seconds, window: windowSize, bytes, browsers: 'two tabs of one browser (one profile)', loadAverageAtStart: loadAtStart, results };
  console.log(a.json ? JSON.stringify(out) : JSON.stringify(out, null, 2));
} finally {
  server.close();
}
