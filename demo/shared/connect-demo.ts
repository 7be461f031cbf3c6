import type { Db } from '../../src/api/index.ts';
import { errorFromReply } from '../../src/api/errors.ts';
import type { ClientReply } from '../../src/peer/io.ts';
import { keyPosition } from '../../src/core/hash.ts';
import { replicaPositions } from '../../src/replication/replicas.ts';
import type { LatencyReport } from '../../src/api/latency.ts';
import { replicaInfos, type DemoClient, type LinkInfo, type PeerStatus, type ReplicaInfo, type RingSummary } from './client.ts';

/** Default room: every demo page of one origin joins the same ring. */
export const default_room = 'tabring-demo';
/** Replicas of every item (the protocol's default configuration). */
const replication_factor = 4;
/** Port `npm run signaling` listens on by default. */
const default_signaling_port = 8787;

export interface DemoOptions {
  room: string;
  signaling: string;
  /** Run the sandbox ring in this tab instead of joining the real one. */
  sandbox: boolean;
}

/**
 * Options from the page URL (`?room=..&signaling=ws://..&sandbox=1`), so tests and users can
 * point a page at any ring; the defaults suit `npm start` on this machine.
 */
export function demoOptions(search = location.search): DemoOptions {
  const q = new URLSearchParams(search);
  const envSignaling = (import.meta.env as Record<string, string | undefined>).VITE_TABRING_SIGNALING;
  return {
    room: q.get('room') ?? default_room,
    signaling: q.get('signaling') ?? envSignaling ?? `ws://${location.hostname || '127.0.0.1'}:${default_signaling_port}`,
    sandbox: q.get('sandbox') === '1',
  };
}

// The browser runtime is built by another part of the project; until its module exists
// the glob is empty and the pages fall back to the sandbox ring (a build never breaks).
const runtimes = import.meta.glob('../../src/browser/connect.ts');

export function runtimeAvailable(): boolean {
  return Object.keys(runtimes).length > 0;
}

export async function connectDemo(opts: DemoOptions): Promise<DemoClient> {
  const load = Object.values(runtimes)[0];
  if (opts.sandbox || load === undefined) {
    // The simulator is loaded only when a sandbox is wanted (it is most of the page's code).
    const { startSandbox } = await import('./sandbox.ts');
    return startSandbox(opts.room);
  }
  const mod = (await load()) as { connect(o: { room: string; signaling: string }): Promise<RuntimeClient> };
  const client = await mod.connect({ room: opts.room, signaling: opts.signaling });
  return adaptRuntime(client, opts.room);
}

/** The runtime's client as far as the demos rely on it (checked at run time). */
interface RuntimeClient {
  status(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
  [k: string]: unknown;
}

function num(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** Fit the runtime client to the demos' DemoClient, using whatever it offers. */
function adaptRuntime(client: RuntimeClient, room: string): DemoClient {
  const db = ((client as { db?: Db }).db ?? client) as unknown as Db;
  const raw = client as unknown as { peerStatus?: () => Promise<unknown>; request?: (op: unknown) => Promise<{ ok: boolean; value?: unknown; hops?: number }> };
  return {
    db,
    kind: 'ring',
    room,
    async summary(): Promise<RingSummary> {
      const s = await client.status();
      const connected = Array.isArray(s.connected) ? (s.connected as number[]) : [];
      const peerId = num(s.peerId ?? s.id);
      const ring = typeof s.ring === 'string' ? s.ring : typeof s.state === 'string' ? s.state : peerId === null ? 'connecting' : 'in';
      return {
        peerId,
        state: ring === 'in' ? 'in' : ring === 'offline' ? 'offline' : peerId === null ? 'connecting' : 'joining',
        ringSize: num(s.ringSize) ?? connected.length + 1,
        connected,
        storageBytes: num(s.storageBytes ?? (s.storage as Record<string, unknown> | undefined)?.usage),
        ...(typeof s.latency === 'object' && s.latency !== null ? { latency: s.latency as LatencyReport } : {}),
        ...(Array.isArray(s.links) ? { links: s.links as LinkInfo[] } : {}),
      };
    },
    async peerStatus() {
      if (raw.peerStatus) return (await raw.peerStatus()) as PeerStatus;
      if (raw.request) {
        const r = await raw.request({ op: 'status' });
        return r.ok ? (r.value as PeerStatus) : null;
      }
      return null;
    },
    async lookup(position) {
      if (!raw.request) return null;
      const r = await raw.request({ op: 'lookup', target: position });
      return r.ok && typeof r.value === 'number' ? { peer: r.value, hops: r.hops ?? 0 } : null;
    },
    async replicas(key) {
      // The protocol's replicas diagnostic: holder, version, authority and locks per slot.
      if (typeof (db as Partial<Db>).replicas === 'function') return replicaInfos(await db.replicas(key));
      if (!raw.request) return null;
      const request = raw.request.bind(client);
      // An older runtime: which peer holds each replica, from a lookup of its position.
      return Promise.all(
        replicaPositions(keyPosition(key), replication_factor).map(async (position, slot): Promise<ReplicaInfo> => {
          const r = await request({ op: 'lookup', target: position });
          const peer = r.ok && typeof r.value === 'number' ? r.value : null;
          return { slot, position, peer, answered: peer !== null, found: null, version: null, authoritative: null, authority: null, locked: false, lockedVersion: 0, hops: r.hops ?? null };
        }),
      );
    },
    async readVersioned(key) {
      if (!raw.request) return null;
      const r = (await raw.request({ op: 'read', key })) as ClientReply;
      if (!r.ok) throw errorFromReply(r.code, r.message, [key]);
      return { found: r.found ?? false, value: r.value, version: r.ver ?? 0 };
    },
    close: () => client.close(),
  };
}
