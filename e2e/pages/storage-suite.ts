import type { TestResult } from './mini-runner.ts';

/**
 * Page side of the browser storage tests: starts the test worker and exposes
 * window.tabringTests for Playwright. Worker errors become console errors, which the harness
 * turns into test failures.
 */
const worker = new Worker(new URL('./storage-suite.worker.ts', import.meta.url), { type: 'module' });
worker.onerror = (e) => console.error(`worker error: ${e.message} (${e.filename}:${e.lineno})`);
worker.onmessageerror = () => console.error('worker message could not be deserialized');

let nextId = 0;
const waiting = new Map<number, (result: unknown) => void>();
worker.onmessage = (e: MessageEvent<{ id: number; result: unknown }>) => {
  waiting.get(e.data.id)?.(e.data.result);
  waiting.delete(e.data.id);
};

function call<T>(op: 'names' | 'run', name?: string): Promise<T> {
  const id = ++nextId;
  return new Promise((resolve) => {
    waiting.set(id, resolve as (r: unknown) => void);
    worker.postMessage({ id, op, name });
  });
}

const api = {
  names: (): Promise<string[]> => call('names'),
  run: (name: string): Promise<TestResult> => call('run', name),
};
declare global {
  interface Window {
    tabringTests: typeof api;
  }
}
window.tabringTests = api;
document.title = 'storage suite ready';
