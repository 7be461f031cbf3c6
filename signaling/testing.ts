/**
 * Test helpers: a raw `ws` client that queues parsed server frames, and a registry that
 * closes every server and socket a test opened (so a failing test leaks nothing into the
 * next one). Not imported by production code.
 */
import { WebSocket, type ClientOptions } from 'ws';
import { parseServerMessage, type ServerMessage } from './protocol.ts';
import { startSignalingServer, type LogFields, type SignalingServer, type SignalingServerOptions } from './server.ts';

export interface Closed {
  code: number;
  reason: string;
}

export class TestSocket {
  private readonly queue: ServerMessage[] = [];
  private readonly waiters: Array<(m: ServerMessage) => void> = [];
  readonly closed: Promise<Closed>;
  isClosed = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) throw new Error('server sent a binary frame');
      const parsed = parseServerMessage(data.toString());
      if (!parsed.ok) throw new Error(`server sent an invalid frame: ${parsed.reason}`);
      const waiter = this.waiters.shift();
      if (waiter) waiter(parsed.value);
      else this.queue.push(parsed.value);
    });
    ws.on('error', () => {});
    this.closed = new Promise<Closed>((resolve) => {
      ws.on('close', (code, reason) => {
        this.isClosed = true;
        resolve({ code, reason: reason.toString() });
      });
    });
  }

  static open(url: string, options?: ClientOptions): Promise<TestSocket> {
    const ws = new WebSocket(url, options);
    const socket = new TestSocket(ws);
    sockets.push(socket);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(socket));
      ws.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Next frame, failing the test if none arrives within `ms`. */
  next(ms = 2000): Promise<ServerMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no frame within ${ms} ms`));
      }, ms);
      const waiter = (m: ServerMessage): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(waiter);
    });
  }

  /** Frames already received and not consumed. */
  pending(): number {
    return this.queue.length;
  }

  async join(room: string, peerId: number): Promise<ServerMessage> {
    this.send({ type: 'join', room, peerId });
    return this.next();
  }

  close(): void {
    this.ws.terminate();
  }
}

const sockets: TestSocket[] = [];
const servers: SignalingServer[] = [];

export interface TestServer extends SignalingServer {
  events: Array<{ event: string; fields: LogFields }>;
}

/** A server on 127.0.0.1, a free port, logging into `events` instead of stderr. */
export async function testServer(options: SignalingServerOptions = {}): Promise<TestServer> {
  const events: TestServer['events'] = [];
  const server = await startSignalingServer({ log: (event, fields) => events.push({ event, fields }), ...options });
  servers.push(server);
  return Object.assign(server, { events });
}

/** Call from afterEach. */
export async function cleanup(): Promise<void> {
  for (const s of sockets.splice(0)) s.ws.terminate();
  await Promise.all(servers.splice(0).map((s) => s.close()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds or `ms` pass. */
export async function eventually(check: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what} not reached within ${ms} ms`);
    await sleep(10);
  }
}
