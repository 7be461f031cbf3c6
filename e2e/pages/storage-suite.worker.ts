/// <reference lib="webworker" />
import { MiniRunner } from './mini-runner.ts';
import { registerScenarios, registerStorageTests } from './storage-tests.ts';

/** Dedicated worker: runs registered storage tests by name for the page. */
const runner = new MiniRunner();
registerStorageTests(runner);
registerScenarios(runner);

interface Request {
  readonly id: number;
  readonly op: 'names' | 'run';
  readonly name?: string;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
scope.onmessage = async (event: MessageEvent<Request>) => {
  const { id, op, name } = event.data;
  const result = op === 'names' ? runner.names() : await runner.run(name ?? '');
  scope.postMessage({ id, result });
};
