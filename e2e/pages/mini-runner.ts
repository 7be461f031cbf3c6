import type { SuiteApi } from '../../test/storage-suite.ts';

/**
 * The smallest test runner that can host test/storage-suite.ts inside a Worker. Playwright
 * builds the same runner in Node only to learn the test names (registration runs no test),
 * declares one Playwright test per name, and asks the page to run each by name.
 */
export interface TestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

interface Registered {
  readonly fn: () => Promise<void>;
  readonly timeoutMs: number;
}

export const DEFAULT_TEST_TIMEOUT_MS = 60_000;

export class MiniRunner implements SuiteApi {
  private readonly tests = new Map<string, Registered>();
  private readonly path: string[] = [];

  describe = (name: string, fn: () => void): void => {
    this.path.push(name);
    try {
      fn();
    } finally {
      this.path.pop();
    }
  };

  it = (name: string, fn: () => Promise<void>, timeoutMs = DEFAULT_TEST_TIMEOUT_MS): void => {
    const full = [...this.path, name].join(' > ');
    if (this.tests.has(full)) throw new Error(`duplicate test name: ${full}`);
    this.tests.set(full, { fn, timeoutMs });
  };

  names(prefix = ''): string[] {
    return [...this.tests.keys()].filter((n) => n.startsWith(prefix));
  }

  async run(name: string): Promise<TestResult> {
    const test = this.tests.get(name);
    if (test === undefined) return { name, ok: false, ms: 0, error: `no test named ${name}` };
    const start = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        test.fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`timed out after ${test.timeoutMs} ms`)), test.timeoutMs);
        }),
      ]);
      return { name, ok: true, ms: performance.now() - start };
    } catch (e) {
      const error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
      return { name, ok: false, ms: performance.now() - start, error };
    } finally {
      clearTimeout(timer);
    }
  }
}
