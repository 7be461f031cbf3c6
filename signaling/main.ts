/**
 * CLI: `npm run signaling -- --port 8787 --host 127.0.0.1`
 * Prints `signaling listening on ws://HOST:PORT` on stdout once listening (scripts and
 * tests wait for that line); events go to stderr as JSON lines. SIGINT/SIGTERM close every
 * socket with 1001 and exit 0.
 */
import { startSignalingServer, stderrLog } from './server.ts';

const DEFAULT_PORT = 8787;
const DEFAULT_HOST = '127.0.0.1';

function usage(problem: string): never {
  process.stderr.write(`${problem}\nusage: signaling [--port P] [--host H]   (defaults: --port ${DEFAULT_PORT} --host ${DEFAULT_HOST})\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): { port: number; host: string } {
  let port = DEFAULT_PORT;
  let host = DEFAULT_HOST;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') usage(`missing value for ${name}`);
      return value;
    };
    if (name === '--port') {
      const value = takeValue();
      port = Number(value);
      if (!/^\d+$/.test(value) || port > 65535) usage(`bad port ${value}`);
    } else if (name === '--host') {
      host = takeValue();
    } else if (name === '--help' || name === '-h') {
      usage('tabring bootstrap signaling server');
    } else {
      usage(`unknown argument ${arg}`);
    }
  }
  return { port, host };
}

const { port, host } = parseArgs(process.argv.slice(2));
let server: Awaited<ReturnType<typeof startSignalingServer>>;
try {
  server = await startSignalingServer({ port, host });
} catch (e) {
  stderrLog('listen-failed', { host, port, error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
process.stdout.write(`signaling listening on ${server.url}\n`);

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  stderrLog('stopping', { signal });
  // A stuck close must not keep the process from exiting.
  setTimeout(() => process.exit(1), 5000).unref();
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
