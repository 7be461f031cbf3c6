import { cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStorage, type RecoveryInfo } from '../src/adapters/file-storage.ts';
import { decodeFrames, FRAME_HEADER_BYTES } from '../src/adapters/file-frames.ts';
import type { StorageAdapter } from '../src/adapters/storage.ts';
import { storageSuite } from './storage-suite.ts';

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tabring-file-storage-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

storageSuite('FileStorage', (name) => FileStorage.open(join(root, name)), {
  api: { describe, it },
  // A real partial append then EIO: the torn bytes must be cut off before the next append.
  failNextCommit: (a: StorageAdapter) => (a as FileStorage).failNext('append', 'EIO', 11),
});

const put = (k: string, v: number) => ({ puts: [[k, v]] as Array<[string, number]>, dels: [] });
let dirCounter = 0;
const freshDir = (): string => join(root, `case-${++dirCounter}`);

/** Writes batches b0..b(n-1) (key bi = i) and returns the log file's frame boundaries. */
async function writeLog(dir: string, n: number): Promise<{ log: string; ends: number[] }> {
  const s = await FileStorage.open(dir);
  for (let i = 0; i < n; i++) await s.write(put(`b${i}`, i));
  await s.close();
  const log = join(dir, 'log-0');
  const buf = await readFile(log);
  const ends: number[] = [];
  for (let off = 0; off < buf.length; ) {
    off += FRAME_HEADER_BYTES + buf.readUInt32LE(off);
    ends.push(off);
  }
  return { log, ends };
}

const keysOf = async (s: FileStorage): Promise<string[]> => (await s.loadAll()).map(([k]) => k);
const prefix = (k: number): string[] => Array.from({ length: k }, (_, i) => `b${i}`).sort();

describe('FileStorage: torn and corrupt tails', () => {
  it('a log cut at every byte offset loads exactly the complete batches before the cut', async () => {
    const base = freshDir();
    const { ends } = await writeLog(base, 4);
    const size = ends[ends.length - 1]!;
    for (let cut = 0; cut <= size; cut++) {
      const dir = `${base}-cut`;
      await rm(dir, { recursive: true, force: true });
      await cp(base, dir, { recursive: true });
      await truncate(join(dir, 'log-0'), cut);
      const recovered: RecoveryInfo[] = [];
      const s = await FileStorage.open(dir, { onRecover: (r) => recovered.push(r) });
      const complete = ends.filter((e) => e <= cut).length;
      expect(await keysOf(s), `cut at ${cut}`).toEqual(prefix(complete));
      expect(recovered.length, `recovery reported at ${cut}`).toBe(ends.includes(cut) || cut === 0 ? 0 : 1);
      // The tail is gone from disk and new writes land after the good frames.
      await s.write(put('after', 1));
      await s.close();
      const again = await FileStorage.open(dir);
      expect(await keysOf(again)).toEqual([...prefix(complete), 'after'].sort());
      expect(again.recovery).toBeUndefined();
      await again.close();
    }
  });

  it('a flipped byte anywhere in the last frame drops that frame only', async () => {
    const base = freshDir();
    const { log, ends } = await writeLog(base, 3);
    const original = await readFile(log);
    for (let pos = ends[1]!; pos < ends[2]!; pos++) {
      const damaged = Buffer.from(original);
      damaged[pos] = damaged[pos]! ^ 0x40;
      await writeFile(log, damaged);
      const s = await FileStorage.open(base);
      expect(await keysOf(s), `flip at ${pos}`).toEqual(prefix(2));
      expect(s.recovery?.validBytes).toBe(ends[1]);
      await s.close();
      expect((await stat(log)).size).toBe(ends[1]);
    }
  });

  it('corruption in a middle frame cuts the log there (later frames are not trusted)', async () => {
    const dir = freshDir();
    const { log, ends } = await writeLog(dir, 3);
    const buf = await readFile(log);
    buf[ends[0]! + FRAME_HEADER_BYTES + 2] ^= 0xff;
    await writeFile(log, buf);
    const s = await FileStorage.open(dir);
    expect(await keysOf(s)).toEqual(prefix(1));
    expect(s.recovery).toMatchObject({ validBytes: ends[0], reason: expect.stringContaining('checksum') });
    await s.close();
  });

  it('a damaged snapshot refuses to open with corrupt', async () => {
    const dir = freshDir();
    const s = await FileStorage.open(dir);
    await s.write(put('a', 1));
    await s.compact();
    await s.close();
    const snap = join(dir, 'snapshot');
    const buf = await readFile(snap);
    buf[buf.length - 2] ^= 0x01;
    await writeFile(snap, buf);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ code: 'corrupt' });
  });
});

describe('FileStorage: failures and recovery', () => {
  it('a failed fdatasync rejects with io; the batch is cut off and later writes work', async () => {
    const dir = freshDir();
    const s = await FileStorage.open(dir);
    await s.write(put('a', 1));
    s.failNext('sync');
    await expect(s.write(put('lost', 2))).rejects.toMatchObject({ code: 'io' });
    await s.write(put('c', 3));
    await s.close();
    const again = await FileStorage.open(dir);
    expect(await again.loadAll()).toEqual([['a', 1], ['c', 3]]);
    expect(again.recovery).toBeUndefined();
    await again.close();
  });

  it('ENOSPC surfaces as quota on every batch of the group, then recovers', async () => {
    const dir = freshDir();
    const s = await FileStorage.open(dir);
    s.failNext('append', 'ENOSPC', 5);
    const results = await Promise.allSettled([s.write(put('x', 1)), s.write(put('y', 2))]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'ok'))).toEqual(['quota', 'quota']);
    await s.write(put('z', 3));
    expect(await s.usage()).toEqual({ records: 1, bytes: 2 });
    await s.close();
    expect(await (await FileStorage.open(dir)).loadAll()).toEqual([['z', 3]]);
  });

  it('concurrent writes share fdatasyncs (group commit)', async () => {
    const s = await FileStorage.open(freshDir());
    await Promise.all(Array.from({ length: 200 }, (_, i) => s.write(put(`k${i}`, i))));
    expect(s.stats.batches).toBe(200);
    expect(s.stats.commits).toBeLessThanOrEqual(2);
    await s.destroy();
  });
});

describe('FileStorage: compaction', () => {
  it('compacts the log into a snapshot and reloads the same state', async () => {
    const dir = freshDir();
    const s = await FileStorage.open(dir, { compactLogBytesMin: 2000 });
    for (let i = 0; i < 300; i++) await s.write({ puts: [[`k${i % 10}`, i]], dels: i % 7 === 0 ? [`k${(i + 3) % 10}`] : [] });
    await s.loadAll(); // runs after any queued compaction
    expect(s.stats.compactions).toBeGreaterThan(0);
    const expected = await s.loadAll();
    const usage = await s.usage();
    await s.close();
    const files = (await readdir(dir)).sort();
    expect(files).toHaveLength(2);
    expect(files[1]).toBe('snapshot');
    const again = await FileStorage.open(dir);
    expect(await again.loadAll()).toEqual(expected);
    expect(await again.usage()).toEqual(usage);
    await again.close();
  });

  it('leftovers of a crash during compaction (tmp snapshot, old log) are ignored and removed', async () => {
    const dir = freshDir();
    const s = await FileStorage.open(dir);
    await s.write(put('a', 1));
    await s.compact(); // now snapshot gen 1, log-1
    await s.write(put('b', 2));
    await s.close();
    await writeFile(join(dir, 'snapshot.tmp'), 'half a snapshot');
    await writeFile(join(dir, 'log-0'), 'stale log of an older generation');
    const again = await FileStorage.open(dir);
    expect(await again.loadAll()).toEqual([['a', 1], ['b', 2]]);
    expect((await readdir(dir)).sort()).toEqual(['log-1', 'snapshot']);
    const frames = decodeFrames(await readFile(join(dir, 'log-1')));
    expect(frames.values).toHaveLength(1);
    await again.destroy();
  });
});
