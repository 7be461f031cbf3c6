import { existsSync } from 'node:fs';
import type { LaunchOptions } from 'playwright-core';

/**
 * How every e2e test and benchmark launches Chromium (PLATFORM.md): the system Chromium,
 * since Playwright cannot download browsers here, with flags that keep it off the internet
 * and let WebRTC find loopback candidates inside a loopback-only network namespace.
 */

/** Path to the system Chromium, or undefined to use Playwright's own browser. */
export function chromiumPath(): string | undefined {
  const path = process.env.TABRING_CHROMIUM ?? '/usr/bin/chromium';
  return existsSync(path) ? path : undefined;
}

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // Without these Chromium keeps trying to reach the internet.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // WebRTC with no internet: loopback ICE candidates need this flag AND media permission.
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

export function launchOptions(extra: LaunchOptions = {}): LaunchOptions {
  const executablePath = chromiumPath();
  return {
    headless: true,
    ...(executablePath === undefined ? {} : { executablePath }),
    ...extra,
    args: [...CHROMIUM_ARGS, ...(extra.args ?? [])],
  };
}
