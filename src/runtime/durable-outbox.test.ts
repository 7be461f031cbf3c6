import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../adapters/memory-storage.ts';
import type { WriteBatch } from '../adapters/storage.ts';
import type { Json } from '../core/types.ts';
import type { ClientReply, Envelope } from '../peer/io.ts';
import { DurableOutbox, type OutboxLimits } from './durable-outbox.ts';
import { GatedStorage } from './testing.ts';

/** The durability rule's bookkeeping (durable-outbox.ts): parked batches, want, flush, failures. */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const limits: OutboxLimits = { held_outputs_max: 100, storage_retry_ms: 10, storage_retry_max_ms: 40, lazy_write_delay_ms: 100 };
const env = (n: number): Envelope => ({ to: 2, msg: { t: 'ping', seq: n } });
const put = (k: string, v: Json): WriteBatch => ({ puts: [[k, v]], dels: [] });

function setup() {
  const storage = new GatedStorage(new MemoryStorage('outbox'));
  const released: Envelope[] = [];
  const failed: Envelope[] = [];
  const failedReplies: ClientReply[] = [];
  const outbox = new DurableOutbox(storage, limits, () => performance.now(), {
    release: (e) => released.push(...e),
    fail: (e, r) => {
      failed.push(...e);
      failedReplies.push(...r);
    },
    failureChanged: () => {},
  });
  const stored = async (k: string) => (await storage.inner.loadAll()).find(([key]) => key === k)?.[1];
  return { storage, outbox, released, failed, failedReplies, stored };
}

describe('DurableOutbox', () => {
  it('parks a batch nothing waits for, merging what follows, and writes it lazy_write_delay_ms later', async () => {
    const { storage, outbox, stored } = setup();
    outbox.persist(put('a', 1));
    outbox.persist(put('b', 2));
    outbox.persist(put('a', 3));
    await sleep(20);
    expect(storage.batches.length, 'nothing written within the burst').toBe(0);
    expect(outbox.waiting).toBe(true);
    await sleep(150);
    expect(storage.batches.length, 'one write for the three batches').toBe(1);
    expect(await stored('a')).toBe(3);
    expect(await stored('b')).toBe(2);
    expect(outbox.waiting).toBe(false);
    expect(outbox.stats.batches_parked).toBe(1);
  });

  it('an output held behind a parked batch gets it written at once, and leaves after it', async () => {
    const { storage, outbox, released } = setup();
    outbox.persist(put('a', 1));
    await sleep(5);
    expect(storage.batches.length).toBe(0);
    outbox.afterPersist([env(1)], []);
    expect(released.length, 'held until durable').toBe(0);
    await sleep(5);
    expect(storage.batches.length, 'written without waiting out the park').toBe(1);
    expect(released).toEqual([env(1)]);
    expect(outbox.stats.batches_parked).toBe(0);
  });

  it('want(): the staged batch goes in the next task, though nothing is held yet', async () => {
    const { storage, outbox } = setup();
    outbox.persist(put('a', 1));
    outbox.want();
    outbox.persist(put('b', 1)); // same burst: merged
    await sleep(5);
    expect(storage.batches.length).toBe(1);
    expect(storage.batches[0]!.puts.map(([k]) => k).sort()).toEqual(['a', 'b']);
  });

  it('flush() writes a parked batch now and settle() waits for the write', async () => {
    const { storage, outbox, stored } = setup();
    storage.hold();
    outbox.persist(put('a', 1));
    outbox.flush();
    expect(storage.batches.length).toBe(1);
    const settled = outbox.settle(1_000);
    let done = false;
    void settled.then(() => (done = true));
    await sleep(30);
    expect(done, 'settle waits while the write is in flight').toBe(false);
    storage.release();
    await settled;
    expect(await stored('a')).toBe(1);
  });

  it('close() drops a parked batch, as a crash would', async () => {
    const { storage, outbox } = setup();
    outbox.persist(put('a', 1));
    outbox.close();
    await sleep(150);
    expect(storage.batches.length).toBe(0);
  });

  it('a write failure folds a parked batch into the rewrite: a successful retry is never overwritten by older values', async () => {
    const { storage, outbox, failed, released, stored } = setup();
    storage.hold();
    storage.inner.failNext('io');
    outbox.persist(put('k', 1));
    outbox.afterPersist([env(1)], []);
    await sleep(5);
    expect(storage.batches.length, 'batch 1 in flight').toBe(1);
    outbox.persist(put('k', 2)); // parked behind it
    outbox.afterPersist([env(2)], []); // held behind the parked batch... which is then wanted
    storage.release(); // batch 1 fails
    await sleep(1);
    expect(outbox.failure?.code).toBe('io');
    expect(failed.map((e) => (e.msg as { seq: number }).seq).sort()).toEqual([1, 2]);
    outbox.persist(put('k', 3)); // during failure mode: newest
    await sleep(300); // retries (10 ms) long before a park would end (100 ms)
    expect(outbox.failure).toBe(null);
    expect(await stored('k'), 'the newest value stays').toBe(3);
    expect(released).toEqual([]);
  });

  it('a write failure while a batch is parked with nothing held: the retry and the park agree on the newest value', async () => {
    const { storage, outbox, stored } = setup();
    storage.hold();
    storage.inner.failNext('io');
    outbox.persist(put('k', 1));
    outbox.want();
    await sleep(5);
    outbox.persist(put('k', 2)); // parked, nothing waits for it
    storage.release();
    await sleep(1);
    expect(outbox.failure?.code).toBe('io');
    outbox.persist(put('k', 3));
    await sleep(300);
    expect(outbox.failure).toBe(null);
    expect(await stored('k')).toBe(3);
  });
});
