import { describe, expect, it } from 'vitest';
import { MemoryStorage, MemoryVolume } from '../src/adapters/memory-storage.ts';
import { StorageError, type StorageAdapter } from '../src/adapters/storage.ts';
import { storageSuite } from './storage-suite.ts';

const volume = new MemoryVolume();

storageSuite('MemoryStorage', (name) => new MemoryStorage(name, { volume }), {
  api: { describe, it },
  failNextCommit: (a: StorageAdapter) => (a as MemoryStorage).failNext('io'),
});

describe('MemoryStorage fault injection', () => {
  it('failNext rejects with the given code, applies nothing, then recovers', async () => {
    const s = new MemoryStorage('f');
    s.failNext('quota', 2);
    await expect(s.write({ puts: [['a', 1]], dels: [] })).rejects.toMatchObject({ code: 'quota' });
    await expect(s.write({ puts: [['a', 1]], dels: [] })).rejects.toBeInstanceOf(StorageError);
    await s.write({ puts: [['b', 2]], dels: [] });
    expect(await s.loadAll()).toEqual([['b', 2]]);
  });

  it('a byte quota rejects growing writes with quota but still allows deletes', async () => {
    const s = new MemoryStorage('q', { quotaBytes: 20 });
    await s.write({ puts: [['k', 'x'.repeat(10)]], dels: [] }); // 1 + 12 = 13 bytes
    await expect(s.write({ puts: [['j', 'x'.repeat(10)]], dels: [] })).rejects.toMatchObject({ code: 'quota' });
    expect(await s.usage()).toEqual({ records: 1, bytes: 13 });
    s.setQuotaBytes(5);
    await s.write({ puts: [], dels: ['k'] }); // shrinking is allowed even over quota
    expect(await s.usage()).toEqual({ records: 0, bytes: 0 });
  });

  it('a private volume forgets on reopen; a shared one remembers', async () => {
    const v = new MemoryVolume();
    await new MemoryStorage('n', { volume: v }).write({ puts: [['a', 1]], dels: [] });
    expect(await new MemoryStorage('n', { volume: v }).loadAll()).toEqual([['a', 1]]);
    expect(await new MemoryStorage('n').loadAll()).toEqual([]);
  });
});
