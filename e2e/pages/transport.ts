/**
 * Browser transport test page, and its worker: the same module runs in both roles (a module
 * worker has no `document`), each loading only what its role needs.
 *
 * Peer mode (one peer per page, the production arrangement): the page runs a
 * ConnectionManager, the worker a ChannelTransport on its global scope. Signals leave through
 * window.__tabringSignal (exposed by Playwright, which hands them to the other page's
 * window.transport.signal). Test commands reach the worker as { rpc } messages on the same
 * port as the transport's own traffic, which is how comlink will share it.
 *
 * Suite mode: the worker runs test/network-suite.ts; each adapter it asks for is a real
 * ChannelTransport whose page end is a ConnectionManager on this page, linked by a
 * MessageChannel (data channels move through a MessagePort as through a Worker).
 */
import type { PeerId } from '../../src/core/types.ts';
import type { TestResult } from './mini-runner.ts';

/** How a page's connections carry data: channels moved into the worker, or relayed by the page. */
export type LinkMode = 'moved' | 'relay';
/** Suite mode: every peer moves its channels, every peer relays, or they alternate. */
export type SuiteMode = 'moved' | 'relay' | 'mixed';

export interface PeerStart {
  self: PeerId;
  mode: LinkMode;
  heartbeat_interval_ms?: number;
  link_silence_timeout_ms?: number;
}

export interface RttResult {
  samples: number;
  median_ms: number;
  p99_ms: number;
  mean_ms: number;
  min_ms: number;
  max_ms: number;
}

export interface TransportPageApi {
  start(options: PeerStart): Promise<void>;
  signal(from: unknown, data: unknown): void;
  /** A command for the peer's worker (see handleCommand below). */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  pageState(): { stats: unknown; connections: unknown };
  closeConnections(peer?: PeerId): void;
  suiteNames(): Promise<string[]>;
  runSuiteTest(mode: SuiteMode, name: string): Promise<TestResult>;
}

declare global {
  interface Window {
    transport: TransportPageApi;
    __tabringSignal?: (to: PeerId, data: unknown) => Promise<void>;
  }
}

/** The worker global scope, typed just as far as used (tsconfig has DOM, not WebWorker). */
interface Scope {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

if (typeof document === 'undefined') void workerMain();
else pageMain();

// ==================================== page ====================================

function pageMain(): void {
  const worker = new Worker(new URL('./transport.ts', import.meta.url), { type: 'module' });
  worker.onerror = (e) => console.error(`worker error: ${e.message} (${e.filename}:${e.lineno})`);
  let manager: import('../../src/browser/connections.ts').ConnectionManager | undefined;
  let nextRpc = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let suiteHost: Promise<void> | undefined;

  worker.addEventListener('message', (e: MessageEvent) => {
    const m = e.data as { rpc?: number; result?: unknown; error?: string };
    if (typeof m?.rpc !== 'number') return;
    const w = waiting.get(m.rpc);
    waiting.delete(m.rpc);
    if (m.error !== undefined) w?.reject(new Error(m.error));
    else w?.resolve(m.result);
  });

  function call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const rpc = ++nextRpc;
    return new Promise<T>((resolve, reject) => {
      waiting.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ rpc, cmd, args });
    });
  }

  async function start(options: PeerStart): Promise<void> {
    const { ConnectionManager } = await import('../../src/browser/connections.ts');
    // The worker must listen before the first channel arrives.
    await call('init-peer', { ...options });
    manager = new ConnectionManager({
      self: options.self,
      worker,
      transfer_channels: options.mode === 'moved',
      sendSignal: (to, data) => {
        void window.__tabringSignal?.(to, data);
      },
    });
  }

  async function hostSuite(): Promise<void> {
    // Only the worker's suite runner lives in the worker; peers' page ends live here.
    const { ConnectionManager } = await import('../../src/browser/connections.ts');
    const managers = new Map<PeerId, InstanceType<typeof ConnectionManager>>();
    let nextId = 1_000;
    worker.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as { host?: string; req?: number; n?: number; mode?: SuiteMode };
      if (m?.host !== 'make' || typeof m.n !== 'number') return;
      const ids: PeerId[] = [];
      const ports: MessagePort[] = [];
      for (let i = 0; i < m.n; i++) {
        // Large ids too: every id below 2^52 must work.
        const id = i % 2 === 0 ? nextId++ : 2 ** 52 - nextId++;
        const channel = new MessageChannel();
        const transfer = m.mode === 'moved' || (m.mode === 'mixed' && i % 2 === 0);
        managers.set(
          id,
          new ConnectionManager({
            self: id,
            worker: channel.port1,
            transfer_channels: transfer,
            close_on_pagehide: false,
            // Signals cross in a later task, as over any real carrier.
            sendSignal: (to, data) => setTimeout(() => managers.get(to)?.receiveSignal(id, data), 0),
          }),
        );
        ids.push(id);
        ports.push(channel.port2);
      }
      worker.postMessage({ host: 'made', req: m.req, ids, ports }, ports);
    });
  }

  window.transport = {
    start,
    signal: (from, data) => manager?.receiveSignal(from, data),
    call,
    pageState: () => ({ stats: manager?.stats(), connections: manager?.connections() }),
    closeConnections: (peer) => manager?.close(peer),
    suiteNames: () => call<string[]>('suite-names'),
    async runSuiteTest(mode, name) {
      suiteHost ??= hostSuite();
      await suiteHost;
      return call<TestResult>('suite-run', { mode, name });
    },
  };
  document.title = 'transport ready';
}

// =================================== worker ===================================

async function workerMain(): Promise<void> {
  const scope = self as unknown as Scope;
  // Messages that arrive while the imports load would find no listener: hold them.
  const early: MessageEvent[] = [];
  const hold = (e: MessageEvent): void => void early.push(e);
  scope.addEventListener('message', hold);
  const peer = await import('../../worker/channel-transport.ts');
  const { MiniRunner } = await import('./mini-runner.ts');
  const { networkSuite } = await import('../../test/network-suite.ts');

  let transport: InstanceType<typeof peer.ChannelTransport> | undefined;
  /** Raw handles on moved channels, to inject garbage beside the transport. */
  const rawChannels = new Map<PeerId, RTCDataChannel>();
  const inbox: Array<{ from: PeerId; data: string }> = [];
  const linkDowns: Array<{ peer: PeerId; at_ms: number }> = [];
  const pongs = new Map<string, () => void>();

  // Suite mode state.
  let suiteMode: SuiteMode = 'moved';
  let nextReq = 0;
  const made = new Map<number, (m: { ids: PeerId[]; ports: MessagePort[] }) => void>();
  const runner = new MiniRunner();
  networkSuite(
    'ChannelTransport in a real browser',
    (n) =>
      new Promise((resolve) => {
        const req = ++nextReq;
        made.set(req, ({ ids, ports }) =>
          resolve(ids.map((id, i) => new peer.ChannelTransport({ self: id, port: ports[i]! }))),
        );
        scope.postMessage({ host: 'make', req, n, mode: suiteMode });
      }),
    runner,
    { link_down_within_ms: 5_000, delivery_within_ms: 15_000 },
  );

  function initPeer(args: PeerStart): void {
    transport = new peer.ChannelTransport({
      self: args.self,
      port: scope,
      ...(args.heartbeat_interval_ms === undefined ? {} : { heartbeat_interval_ms: args.heartbeat_interval_ms }),
      ...(args.link_silence_timeout_ms === undefined ? {} : { link_silence_timeout_ms: args.link_silence_timeout_ms }),
    });
    const t = transport;
    t.onMessage((from, data) => {
      if (data.startsWith('ping:')) t.send(from, `pong:${data.slice(5)}`);
      else if (data.startsWith('pong:')) pongs.get(data.slice(5))?.();
      else inbox.push({ from, data });
    });
    t.onLinkDown((p) => linkDowns.push({ peer: p, at_ms: performance.now() }));
  }

  async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!cond()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Every peer sends `count` numbered messages to every other; checks all arrive, in order. */
  async function mesh(args: { peers: PeerId[]; count: number; round: string; timeout_ms: number }) {
    const t = transport!;
    const started = performance.now();
    const others = args.peers.filter((p) => p !== t.self);
    const tag = `mesh:${args.round}:`;
    for (let i = 0; i < args.count; i++) for (const p of others) t.send(p, `${tag}${t.self}>${p}#${i}`);
    const from = (p: PeerId) => inbox.filter((m) => m.from === p && m.data.startsWith(tag)).map((m) => m.data);
    await waitFor(() => others.every((p) => from(p).length >= args.count), args.timeout_ms, `mesh round ${args.round}`);
    for (const p of others) {
      const got = from(p);
      got.forEach((d, i) => {
        if (d !== `${tag}${p}>${t.self}#${i}`) throw new Error(`from ${p}: message ${i} is ${d}`);
      });
      if (got.length !== args.count) throw new Error(`from ${p}: ${got.length} messages`);
    }
    return { ms: performance.now() - started, connected: t.connectedPeers() };
  }

  /** Round trips of `bytes`-byte messages, one at a time, through the other peer's echo. */
  async function rtt(args: { peer: PeerId; samples: number; warmup: number; bytes: number }): Promise<RttResult> {
    const t = transport!;
    const times: number[] = [];
    for (let i = 0; i < args.warmup + args.samples; i++) {
      const id = `${i}:`;
      const msg = `ping:${id}`.padEnd(args.bytes, '.');
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no pong ${i} within 5000 ms`)), 5_000);
        pongs.set(msg.slice(5), () => {
          clearTimeout(timer);
          resolve();
        });
        t.send(args.peer, msg);
      });
      pongs.delete(msg.slice(5));
      if (i >= args.warmup) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => round3(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
    return {
      samples: times.length,
      median_ms: at(0.5),
      p99_ms: at(0.99),
      mean_ms: round3(times.reduce((s, x) => s + x, 0) / times.length),
      min_ms: round3(times[0]!),
      max_ms: round3(times[times.length - 1]!),
    };
  }

  /** Sends frames no transport would send, straight on the moved channel, then a valid one. */
  function garbage(args: { peer: PeerId; marker: string }): { frames: number } {
    const ch = rawChannels.get(args.peer);
    if (!ch || ch.readyState !== 'open') throw new Error(`no open raw channel to ${args.peer}`);
    const frames: Array<string | ArrayBuffer | Uint8Array<ArrayBuffer>> = [
      new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80]), // binary
      new Uint8Array(64 * 1024).buffer, // binary, larger
      'not json {',
      '{"json": "but no tag"}',
      'x',
      'm', // a valid empty message: counted as received, not as garbage
    ];
    // One message of 17 pieces x 16 KiB: over MESSAGE_BYTES_MAX, so dropped whole.
    for (let i = 0; i < 17; i++) frames.push(`f${'a'.repeat(16 * 1024)}`);
    frames.push(`m${'b'.repeat(100)}`); // ends the oversized message: dropped with it
    frames.push(`m${args.marker}`);
    for (const f of frames) ch.send(f as string);
    return { frames: frames.length };
  }

  async function handleCommand(cmd: string, args: Record<string, unknown>): Promise<unknown> {
    switch (cmd) {
      case 'init-peer':
        return initPeer(args as unknown as PeerStart);
      case 'send':
        for (const d of args['data'] as string[]) transport!.send(args['to'] as PeerId, d);
        return null;
      case 'mesh':
        return mesh(args as unknown as Parameters<typeof mesh>[0]);
      case 'rtt':
        return rtt(args as unknown as Parameters<typeof rtt>[0]);
      case 'garbage':
        return garbage(args as unknown as Parameters<typeof garbage>[0]);
      case 'wait-message': {
        const { from, data, timeout_ms } = args as { from: PeerId; data: string; timeout_ms: number };
        await waitFor(() => inbox.some((m) => m.from === from && m.data === data), timeout_ms, `"${data}" from ${from}`);
        return null;
      }
      case 'state':
        return {
          self: transport?.self,
          stats: transport?.stats(),
          connected: transport?.connectedPeers().sort((a, b) => a - b),
          link_downs: linkDowns,
          inbox: inbox.length,
          now_ms: performance.now(),
        };
      case 'close':
        await transport?.close();
        return null;
      case 'suite-names':
        return runner.names();
      case 'suite-run':
        suiteMode = args['mode'] as SuiteMode;
        return runner.run(args['name'] as string);
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }

  const onMessage = (e: MessageEvent): void => {
    const m = e.data as Record<string, unknown> | null;
    if (m?.['kind'] === 'channel') rawChannels.set(m['peer'] as PeerId, m['channel'] as RTCDataChannel);
    if (m?.['host'] === 'made') {
      made.get(m['req'] as number)?.({ ids: m['ids'] as PeerId[], ports: m['ports'] as MessagePort[] });
      made.delete(m['req'] as number);
    }
    if (typeof m?.['rpc'] !== 'number') return;
    const rpc = m['rpc'];
    handleCommand(m['cmd'] as string, (m['args'] ?? {}) as Record<string, unknown>).then(
      (result) => scope.postMessage({ rpc, result: result ?? null }),
      (err: unknown) => scope.postMessage({ rpc, error: err instanceof Error ? err.message : String(err) }),
    );
  };
  scope.removeEventListener('message', hold);
  scope.addEventListener('message', onMessage);
  for (const e of early) onMessage(e);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
