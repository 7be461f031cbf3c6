/// <reference lib="webworker" />
/**
 * The production peer worker plus hooks for tests and benchmarks, all beside the transport
 * on the very channels it uses:
 * - garbage: frames no correct peer sends (as a buggy or hostile peer would);
 * - rtt: round trips of the protocol's own ping (answered by the remote peer's protocol
 *   core in its worker), the floor a commit's message delays stand on;
 * - idb: latency of one durable IndexedDB write (strict durability), the other floor.
 */
import '../../worker/peer-worker.ts';
import { IndexedDbStorage } from '../../worker/indexeddb-storage.ts';
import { decode } from '../../src/core/codec.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
/** Channels the page moved in (the transport gets the same objects). */
const raw = new Map<number, RTCDataChannel>();

/** Frames no correct peer sends, then a marker message the receiver must still get. */
function garbageFrames(): Array<string | ArrayBuffer> {
  const frames: Array<string | ArrayBuffer> = [
    new Uint8Array([0xff, 0xfe, 0x00, 0x01]).buffer, // binary
    'not a frame', // unknown tag
    '', // empty
    'mnot json {', // a message, but not JSON
    'm{"t":"route"}', // JSON, not a valid message
    'm{"t":"ping","seq":-1}', // invalid field
    'm{"t":"tx_vote","tx":{"__proto__":1}}',
    `m${JSON.stringify({ t: 'pong', seq: 1, member: true, pred: 'x', succs: [1, 2] })}`,
    `m${'['.repeat(50_000)}`, // deep nesting, unterminated
    `m${'['.repeat(50_000)}${']'.repeat(50_000)}`, // deep nesting, valid JSON
  ];
  for (let i = 0; i < 17; i++) frames.push(`f${'a'.repeat(16 * 1024)}`); // over the message limit
  frames.push('m}');
  return frames;
}

/** Sorted samples -> median, p99 (ms). */
function quantiles(xs: number[]): { samples: number; p50: number; p99: number; mean: number } {
  xs.sort((a, b) => a - b);
  const at = (q: number) => Math.round(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]! * 1000) / 1000;
  return { samples: xs.length, p50: at(0.5), p99: at(0.99), mean: Math.round((xs.reduce((s, x) => s + x, 0) / xs.length) * 1000) / 1000 };
}

/** Pings with sequence numbers far above the failure detector's, answered by the remote core. */
async function rtt(peer: number, samples: number): Promise<ReturnType<typeof quantiles>> {
  const ch = raw.get(peer);
  if (!ch || ch.readyState !== 'open') throw new Error(`no open channel to ${peer}`);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const seq = 2 ** 45 + i;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => (ch.removeEventListener('message', on), reject(new Error(`no pong ${seq} within 2000 ms`))), 2_000);
      const on = (ev: MessageEvent) => {
        // The pong may share a frame with other messages for us (src/core/frame.ts).
        if (typeof ev.data === 'string' && ev.data.startsWith('m') && ev.data.includes(`{"t":"pong","seq":${seq},`)) {
          clearTimeout(timer);
          ch.removeEventListener('message', on);
          resolve();
        }
      };
      ch.addEventListener('message', on);
      ch.send(`m{"t":"ping","seq":${seq}}`);
    });
    times.push(performance.now() - t0);
  }
  return quantiles(times);
}

/** One small batch per write, one at a time, strict durability: what a vote's persist costs. */
async function idb(samples: number): Promise<ReturnType<typeof quantiles>> {
  const storage = await IndexedDbStorage.open(`tabring-bench-floor-${Math.random().toString(36).slice(2)}`);
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await storage.write({ puts: [[`k${i % 16}`, { v: i, pad: 'x'.repeat(100) }]], dels: [] });
      times.push(performance.now() - t0);
    }
  } finally {
    await storage.destroy();
  }
  return quantiles(times);
}

scope.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as Record<string, unknown> | null;
  if (m?.['kind'] === 'channel' && typeof m['peer'] === 'number') raw.set(m['peer'], m['channel'] as RTCDataChannel);
  const reply = (result: unknown, error?: string) => scope.postMessage({ debugReply: m!['rpc'], result, error });
  switch (m?.['debug']) {
    case 'garbage': {
      const ch = raw.get(m['peer'] as number);
      let sent = 0;
      if (ch && ch.readyState === 'open') {
        for (const f of garbageFrames()) {
          ch.send(f as string);
          sent++;
        }
      }
      return reply(sent);
    }
    case 'rtt':
      return void rtt(m['peer'] as number, m['samples'] as number).then(reply, (err: Error) => reply(null, err.message));
    case 'micro': {
      // Costs per operation (µs) inside this worker: a data-channel send, and decoding a message.
      const ch = raw.get(m['peer'] as number);
      const n = 5000;
      let sendUs = -1;
      let sendBigUs = -1;
      let bufferedUs = -1;
      if (ch && ch.readyState === 'open') {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) ch.send('p');
        sendUs = ((performance.now() - t0) / n) * 1000;
        const frame = 'p'.padEnd(300, 'x');
        const t3 = performance.now();
        for (let i = 0; i < n; i++) ch.send(frame);
        sendBigUs = ((performance.now() - t3) / n) * 1000;
        let b = 0;
        const t4 = performance.now();
        for (let i = 0; i < n; i++) b += ch.bufferedAmount;
        bufferedUs = ((performance.now() - t4) / n) * 1000 + b * 0;
      }
      const text = JSON.stringify({ t: 'route', target: 12345, origin: 999, hops: 1, last: true, body: { k: 'rep_read', key: 'inc0.3', reqId: 5, i: 2 } });
      const t1 = performance.now();
      for (let i = 0; i < n; i++) decode(text);
      const decodeUs = ((performance.now() - t1) / n) * 1000;
      const t2 = performance.now();
      for (let i = 0; i < n; i++) JSON.parse(text);
      const parseUs = ((performance.now() - t2) / n) * 1000;
      return reply({ sendUs, sendBigUs, bufferedUs, decodeUs, parseUs });
    }
    case 'idb':
      return void idb(m['samples'] as number).then(reply, (err: Error) => reply(null, err.message));
  }
});
