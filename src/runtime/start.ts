/**
 * `npm start`: the bootstrap signaling server and the demo pages (Vite, root vite.config.ts),
 * both on 127.0.0.1, then prints the URL to open. Every tab opened on it joins one ring.
 *
 *   TABRING_PORT            demo port (default 5173; the next free one if taken)
 *   TABRING_SIGNALING_PORT  signaling port (default 8787)
 *   TABRING_HOST            listen address of both (default 127.0.0.1: exposing them is a deliberate choice)
 *
 * Node only (not part of the browser runtime). Ctrl-C stops both.
 */
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startSignalingServer, stderrLog, type SignalingServer } from '../../signaling/server.ts';

export interface StartOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  signalingPort?: number;
  /** Vite log level ('silent' for tests). */
  logLevel?: 'info' | 'warn' | 'error' | 'silent';
  /** Vite's dependency cache (tests use a private one, so concurrent runs do not collide). */
  cacheDir?: string;
  /** Signaling server log; default one JSON line per event on stderr. */
  signalingLog?: (event: string, fields: Record<string, unknown>) => void;
}

export interface Started {
  url: string;
  signalingUrl: string;
  signaling: SignalingServer;
  close(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export async function start(opts: StartOptions = {}): Promise<Started> {
  const host = opts.host ?? process.env.TABRING_HOST ?? '127.0.0.1';
  const signaling = await startSignalingServer({
    host,
    port: opts.signalingPort ?? Number(process.env.TABRING_SIGNALING_PORT ?? 8787),
    ...(opts.signalingLog ? { log: opts.signalingLog } : {}),
  });
  try {
    // The pages read it from import.meta.env (Vite passes VITE_* variables on).
    process.env.VITE_TABRING_SIGNALING = signaling.url;
    const { createServer } = await import('vite');
    const vite = await createServer({
      configFile: `${repoRoot}vite.config.ts`,
      logLevel: opts.logLevel ?? 'warn',
      ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
      server: { host, port: opts.port ?? Number(process.env.TABRING_PORT ?? 5173) },
    });
    await vite.listen();
    const address = vite.httpServer?.address() as AddressInfo | null;
    if (!address || typeof address !== 'object') throw new Error('the demo server has no address');
    return {
      url: `http://${host}:${address.port}/`,
      signalingUrl: signaling.url,
      signaling,
      async close() {
        await vite.close();
        await signaling.close();
      },
    };
  } catch (e) {
    await signaling.close();
    throw e;
  }
}

async function main(): Promise<void> {
  let started: Started;
  try {
    started = await start();
  } catch (e) {
    stderrLog('start-failed', { error: e instanceof Error ? e.message : String(e) });
    process.stderr.write(`npm start failed: ${e instanceof Error ? e.message : String(e)}\n(ports: TABRING_PORT, TABRING_SIGNALING_PORT)\n`);
    process.exit(1);
  }
  process.stdout.write(`\n  tabring demo:  ${started.url}\n  signaling:     ${started.signalingUrl}\n\n  Open the demo in several tabs: every tab joins the same ring. Ctrl-C stops.\n\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 5000).unref(); // a stuck close must not keep us alive
    started.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
