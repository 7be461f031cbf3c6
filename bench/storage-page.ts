import type { BrowserBenchRequest } from './storage.worker.ts';

/** Page of bench/storage.ts: hands the request to a dedicated worker and returns its answer. */
function runBench(req: BrowserBenchRequest): Promise<unknown> {
  const worker = new Worker(new URL('./storage.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error(`worker error: ${e.message}`));
    worker.onmessage = (e: MessageEvent<{ ok: boolean; result?: unknown; error?: string }>) => {
      worker.terminate();
      if (e.data.ok) resolve(e.data.result);
      else reject(new Error(e.data.error));
    };
    worker.postMessage(req);
  });
}

declare global {
  interface Window {
    storageBench: { run: typeof runBench };
  }
}
window.storageBench = { run: runBench };
