import { defineConfig } from '@playwright/test';
import { launchOptions } from './e2e/chromium.ts';

// Browser tests: system Chromium, one Vite server per run (e2e/global-setup.ts), loopback
// only. A flaky test is a bug: no retries.
export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  workers: 2, // 2 cores
  fullyParallel: false,
  retries: 0,
  reporter: 'list',
  timeout: 120_000,
  expect: { timeout: 10_000 },
  outputDir: '.tmp/playwright-results',
  use: {
    browserName: 'chromium',
    launchOptions: launchOptions(),
    trace: 'off',
  },
});
