import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork } from '../adapters/memory-network.ts';
import { MemoryStorage, MemoryVolume } from '../adapters/memory-storage.ts';
import type { StorageAdapter } from '../adapters/storage.ts';
import { Db } from '../api/db.ts';
import { CommitUnknownError, AbortedError } from '../api/errors.ts';
import type { Json, PeerId } from '../core/types.ts';
import { chooseJoinId } from '../replication/replicas.ts';
import { Driver, driverLink, storedIdentity } from './driver.ts';
import { GatedStorage, fastConfig } from './testing.ts';

/** The real-time driver with real timers, MemoryNetwork and MemoryStorage (timers shortened: see testing.ts). */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

interface Cluster {
  hub: MemoryNetwork;
  volume: MemoryVolume;
  drivers: Driver[];
  storages: Map<PeerId, MemoryStorage>;
  add(contact: PeerId | null, storage?: StorageAdapter): Promise<Driver>;
  members(): Driver[];
  closeAll(): Promise<void>;
}

function cluster(): Cluster {
  const hub = new MemoryNetwork();
  const volume = new MemoryVolume();
  const drivers: Driver[] = [];
  const storages = new Map<PeerId, MemoryStorage>();
  let n = 0;
  const c: Cluster = {
    hub,
    volume,
    drivers,
    storages,
    async add(contact, storage) {
      const known = drivers.filter((d) => !d.isClosed).map((d) => d.id);
      const name = `peer-${n++}`;
      const store = storage ?? new MemoryStorage(name, { volume });
      const d = await Driver.open({
        storage: store,
        network: (id) => hub.adapter(id),
        chooseId: () => chooseJoinId(known, Math.random),
        config: fastConfig,
      });
      if (store instanceof MemoryStorage) storages.set(d.id, store);
      drivers.push(d);
      d.start(contact === null ? [] : [contact]);
      return d;
    },
    members: () => drivers.filter((d) => !d.isClosed && d.ringStatus === 'in'),
    async closeAll() {
      await Promise.all(drivers.map((d) => d.close()));
    },
  };
  return c;
}

async function ring(n: number): Promise<Cluster> {
  const c = cluster();
  const first = await c.add(null);
  for (let i = 1; i < n; i++) await c.add(first.id);
  await until(() => c.members().length === n, 5000, `${n} members`);
  // Joiners hold their ranges without data until handed over: wait for authority everywhere.
  await until(() => c.members().every((d) => d.peer.store.empty.empty && d.peer.store.stale.empty), 5000, 'authoritative ranges');
  return c;
}

const open: Cluster[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.closeAll()));
});

describe('Driver (real timers, memory adapters)', () => {
  it('runs a ring of 5: writes in one peer are read in every other, status tells the ring', async () => {
    const c = await ring(5);
    open.push(c);
    const dbs = c.drivers.map((d) => new Db(driverLink(d)));
    await dbs[0]!.write('greeting', { hello: 'ring' });
    for (const db of dbs) expect(await db.read('greeting')).toEqual({ hello: 'ring' });
    await Promise.all(dbs.map(async (db) => {
      for (let i = 0; i < 5; i++) await db.addOnNr('counter', 1);
    }));
    expect(await dbs[3]!.read('counter')).toBe(25);
    await until(async () => (await c.drivers[0]!.status()).ringSize === 5, 3000, 'ring size 5 seen');
    const s = await c.drivers[0]!.status();
    expect(s.ring).toBe('in');
    expect(s.ringSizeEstimate).toBe(5);
    expect(s.connected.length).toBeGreaterThan(0);
    expect(s.storage!.records).toBeGreaterThan(0);
    expect(s.storageFailure).toBeNull();
  });

  it('delivers watch events', async () => {
    const c = await ring(4);
    open.push(c);
    const [a, b] = [new Db(driverLink(c.drivers[0]!)), new Db(driverLink(c.drivers[2]!))];
    const seen: Json[] = [];
    const stop = await a.watch('w', (v) => seen.push(v ?? null));
    await b.write('w', 1);
    await b.write('w', 2);
    await until(() => seen.includes(2), 3000, 'watch event for 2');
    await stop();
  });

  it('holds acknowledgements and replies until their writes are durable', async () => {
    const c = cluster();
    open.push(c);
    const gated = new GatedStorage(new MemoryStorage('gated', { volume: c.volume }));
    const first = await c.add(null, gated);
    await until(() => first.ringStatus === 'in', 2000, 'ring of one');
    const db = new Db(driverLink(first));
    await db.write('k', 0);
    gated.hold();
    let done = false;
    const w = db.write('k', 1).then(() => (done = true));
    await sleep(300);
    // Reads acknowledge nothing of ours... but the commit must wait for the disk.
    expect(done).toBe(false);
    expect((first.snapshot()).heldOutputs).toBeGreaterThan(0);
    gated.release();
    await w;
    expect(await db.read('k')).toBe(1);
  });

  it('the writes of one burst (a vote, its acceptance, the decision, in one peer) go to storage as one batch', async () => {
    const c = cluster();
    open.push(c);
    const gated = new GatedStorage(new MemoryStorage('burst', { volume: c.volume }));
    const first = await c.add(null, gated);
    await until(() => first.ringStatus === 'in', 2000, 'ring of one');
    const db = new Db(driverLink(first));
    await db.write('k', 0);
    await sleep(200); // let periodic writes settle
    const before = gated.writes;
    const merged0 = first.snapshot().stats.batches_merged;
    await db.addOnNr('k', 1);
    // The commit's writes at the participants, acceptors and replicas of a ring of one are
    // drains of one burst: the reply came after one write (the decision's follow-ups may
    // take one more), not one per drain.
    expect(gated.writes - before).toBeLessThanOrEqual(2);
    expect(first.snapshot().stats.batches_merged - merged0).toBeGreaterThanOrEqual(2);
    expect(await db.read('k')).toBe(1);
  });

  it('a request the peer never answers is answered at the deadline: timeout, or unknown for a commit', async () => {
    const hub = new MemoryNetwork();
    const d = await Driver.open({
      storage: new MemoryStorage('deadline', { volume: new MemoryVolume() }),
      network: (id) => hub.adapter(id),
      chooseId: () => 1234,
      config: fastConfig,
      limits: { request_deadline_ms: 200 },
    });
    d.start([]);
    await until(() => d.ringStatus === 'in', 2000, 'ring of one');
    // A peer that swallows requests (a bug, a state it should never be in): callers still get an answer.
    d.peer.request = () => {};
    const [read, commit] = await Promise.all([d.request({ op: 'read', key: 'k' }), d.request({ op: 'tx_commit', tx: 't1', writes: [['k', 1, true]] })]);
    expect(read).toMatchObject({ ok: false, code: 'timeout' });
    expect(commit).toMatchObject({ ok: false, code: 'unknown' });
    expect(d.snapshot().stats.requests_expired).toBe(2);
    await d.close();
  });

  it('a failed write is surfaced; no acknowledgement depends on it; reads go on; the driver recovers', async () => {
    const c = await ring(4);
    open.push(c);
    const d = c.drivers[1]!;
    const store = c.storages.get(d.id)!;
    const db = new Db(driverLink(d), { transact_attempts_max: 1, resolve_attempts_max: 1 });
    const other = new Db(driverLink(c.drivers[0]!));
    await other.write('x', 'before');
    const failures: Array<string | null> = [];
    d.onStorageFailure((f) => failures.push(f?.code ?? null));
    store.setQuotaBytes(1); // every write that adds data now fails with 'quota'
    // Keys whose replicas include d: a commit involves d's participant state.
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => db.write(`q${i}`, i)));
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason instanceof CommitUnknownError || r.reason instanceof AbortedError || (r.reason as Error).name === 'UnavailableError').toBe(true);
    }
    await until(() => d.storageFailure !== null, 3000, 'storage failure reported');
    expect(d.storageFailure!.code).toBe('quota');
    expect(d.storageFailure!.retrying).toBe(true);
    expect(d.stats.acks_dropped + d.stats.replies_failed).toBeGreaterThan(0);
    expect((await d.status()).storageFailure?.code).toBe('quota');
    // Reads keep working through the failing peer.
    expect(await db.read('x')).toBe('before');
    store.setQuotaBytes(undefined);
    await until(() => d.storageFailure === null, 15_000, 'recovery');
    expect(failures[0]).toBe('quota');
    expect(failures.at(-1)).toBeNull();
    await db.write('after', 1);
    expect(await other.read('after')).toBe(1);
    // Memory and storage agree again: what the peer holds is all durable.
    const records = new Map(await store.loadAll());
    for (const [k, e] of d.peer.store.entries) expect(records.has(`item/${k}`), k).toBe(true);
  });

  it('a restarted peer keeps its identity and data; a peer whose storage was lost gets a new one', async () => {
    const c = await ring(4);
    open.push(c);
    const db = new Db(driverLink(c.drivers[0]!));
    for (let i = 0; i < 10; i++) await db.write(`r${i}`, i);
    const victim = c.drivers[2]!;
    const name = [...c.volume.stores.keys()][2]!;
    await victim.close();
    const records = await new MemoryStorage(name, { volume: c.volume }).loadAll();
    expect(storedIdentity(records)).toBe(victim.id);
    const back = await Driver.open({
      storage: new MemoryStorage(name, { volume: c.volume }),
      network: (id) => c.hub.adapter(id),
      chooseId: () => {
        throw new Error('a stored identity must be reused');
      },
      config: fastConfig,
    });
    c.drivers.push(back);
    expect(back.id).toBe(victim.id);
    expect(back.restored).toBe(true);
    back.start([c.drivers[0]!.id]);
    await until(() => back.ringStatus === 'in', 5000, 'rejoined');
    const viaBack = new Db(driverLink(back));
    for (let i = 0; i < 10; i++) expect(await viaBack.read(`r${i}`)).toBe(i);
    const fresh = await Driver.open({
      storage: new MemoryStorage('lost', { volume: c.volume }),
      network: (id) => c.hub.adapter(id),
      chooseId: () => 12345,
      config: fastConfig,
    });
    c.drivers.push(fresh);
    expect(fresh.id).toBe(12345);
    expect(fresh.restored).toBe(false);
  });

  it('leave() hands over and closes; link-down makes the peer suspect at once', async () => {
    const c = await ring(4);
    open.push(c);
    const db = new Db(driverLink(c.drivers[0]!));
    for (let i = 0; i < 8; i++) await db.write(`l${i}`, i);
    await c.drivers[3]!.leave();
    expect(c.drivers[3]!.isClosed).toBe(true);
    expect(c.drivers[3]!.peer.finished).toBe(true);
    for (let i = 0; i < 8; i++) expect(await db.read(`l${i}`)).toBe(i);
    // Cut a watched pair: both sides hear link-down and suspect each other without waiting.
    const a = c.drivers[0]!;
    const watched = a.peer.fd.watchedPeers()[0]!;
    c.hub.cut(a.id, watched);
    await until(() => a.peer.fd.suspected().includes(watched), 200, 'suspected on link-down');
    c.hub.heal(a.id, watched);
  });

  it('garbage from the network is dropped and counted, never thrown', async () => {
    const c = await ring(2);
    open.push(c);
    const rogue = c.hub.adapter(999);
    const target = c.drivers[0]!;
    for (const g of ['', 'x', '{', 'null', '{"t":"pong","seq":-1}', '{"t":"route"}', JSON.stringify({ t: 'ping', seq: 1, extra: 1 }), '\u0000'.repeat(1000)]) rogue.send(target.id, g);
    await sleep(50);
    expect(target.stats.handler_errors).toBe(0);
    const counters = target.peer.ctx.counters.toJSON();
    expect((counters['in.dropped_malformed'] ?? 0) + (counters['in.dropped_invalid'] ?? 0)).toBeGreaterThanOrEqual(7);
    expect(await new Db(driverLink(target)).get('nothing')).toBeUndefined();
    // Bad requests (they come from another thread in the browser) get an answer too.
    for (const bad of [null, 42, {}, { op: 'no-such-op' }, { op: 'read' }, { op: 'tx_commit', tx: 5, writes: 'x' }]) {
      const r = await target.request(bad as never);
      expect(r.ok, JSON.stringify(bad)).toBe(false);
    }
    await rogue.close();
  });

  it('probes tell members from joiners', async () => {
    const c = await ring(2);
    open.push(c);
    const lonely = await Driver.open({
      storage: new MemoryStorage('lonely'),
      network: (id) => c.hub.adapter(id),
      chooseId: () => 777,
      config: fastConfig,
    });
    c.drivers.push(lonely);
    lonely.start([424242]); // nobody: stays joining
    const answers = await c.drivers[0]!.probeMembership([c.drivers[1]!.id, 777, 31337], 300);
    expect(answers.get(c.drivers[1]!.id)).toBe('member');
    expect(answers.get(777)).toBe('not-member');
    expect(answers.get(31337)).toBe('silent');
  });
});
