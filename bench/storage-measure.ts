import type { StorageAdapter } from '../src/adapters/storage.ts';

/**
 * Storage throughput measurement shared by the browser worker (IndexedDbStorage) and Node
 * (FileStorage): `concurrency` writers each await one single-put write() after another,
 * the way a peer's concurrent requests reach its adapter. The adapter's group commit decides
 * how many of those writes share a transaction (or fdatasync).
 */
export interface Measurement {
  readonly concurrency: number;
  readonly puts: number;
  readonly ms: number;
  readonly putsPerSec: number;
  /** Commits (IndexedDB transactions, fdatasyncs) used, when the adapter counts them. */
  readonly commits?: number;
  readonly putsPerCommit?: number;
}

/** About the size of a replica record (value, version, lock state). */
export const VALUE = { v: 'x'.repeat(80), version: 12345, lock: null };
const WARMUP_PUTS = 20;

type Counted = StorageAdapter & { readonly stats?: { readonly commits: number } };

export async function measureWrites(adapter: Counted, concurrency: number, totalPuts: number, now: () => number): Promise<Measurement> {
  for (let i = 0; i < WARMUP_PUTS; i++) await adapter.write({ puts: [[`warm/${i}`, VALUE]], dels: [] });
  const commitsBefore = adapter.stats?.commits;
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < totalPuts; i = next++) {
      await adapter.write({ puts: [[`k/${i}`, VALUE]], dels: [] });
    }
  };
  const start = now();
  await Promise.all(Array.from({ length: concurrency }, writer));
  const ms = now() - start;
  const commits = commitsBefore === undefined ? undefined : adapter.stats!.commits - commitsBefore;
  return {
    concurrency,
    puts: totalPuts,
    ms: Math.round(ms),
    putsPerSec: Math.round((totalPuts / ms) * 1000),
    ...(commits === undefined ? {} : { commits, putsPerCommit: Math.round((totalPuts / commits) * 10) / 10 }),
  };
}

/** Puts per concurrency level: enough to run ~0.5 s or more at the expected rates. */
export function putsFor(concurrency: number, scale: number): number {
  const base = concurrency === 1 ? 300 : concurrency === 10 ? 2000 : 6000;
  return Math.max(concurrency, Math.round(base * scale));
}
