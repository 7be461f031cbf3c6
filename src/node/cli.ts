/**
 * The tabring command (launched by tabring.mjs: `npx tabring ...`, `npm run peer -- ...`).
 *
 *   tabring peer --room R --signaling ws://HOST:PORT --data DIR [--listen PORT] [--host ADDR]
 *
 * Runs an always-on peer (node-peer.ts) until SIGINT/SIGTERM, which leave gracefully (the
 * peer hands its ranges to its successor, at most the driver's leave_timeout_ms); a second
 * signal stops at once. The data directory keeps the identity and the data: the same
 * command again is the same peer. --listen hosts the signaling server in this process
 * (loopback unless --host), so tabs can use this peer as their first contact; --signaling
 * may then be left out.
 *
 * Output: one line when the peer's view changes (ring status, predecessor, successors,
 * connected peers), and a status line every --status-interval-ms anyway.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { ID_SPACE } from '../core/id.ts';
import type { PeerId } from '../core/types.ts';
import { NodePeer } from './node-peer.ts';

const USAGE = `usage: tabring peer --room ROOM --data DIR (--signaling ws://HOST:PORT | --listen PORT) [--host ADDR] [--status-interval-ms MS]`;
const STATUS_INTERVAL_MS_DEFAULT = 30_000;
/** How often the view is checked for a change worth a line (ms). */
const CHANGE_POLL_MS = 500;

export async function main(argv: string[], opts: { parentPid?: number } = {}): Promise<number> {
  const underNpm = process.env.npm_command !== undefined;
  const [command, ...rest] = argv;
  if (command !== 'peer') {
    console.error(USAGE);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        room: { type: 'string' },
        signaling: { type: 'string' },
        data: { type: 'string' },
        listen: { type: 'string' },
        host: { type: 'string' },
        'status-interval-ms': { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const listen = values.listen === undefined ? undefined : Number(values.listen);
  const interval = Number(values['status-interval-ms'] ?? STATUS_INTERVAL_MS_DEFAULT);
  if (!values.room || !values.data || (!values.signaling && listen === undefined) || !(interval > 0)) {
    console.error(USAGE);
    return 2;
  }
  if (listen !== undefined && !(Number.isInteger(listen) && listen >= 0 && listen <= 65535)) {
    console.error(`--listen needs a TCP port (0 to 65535; 0 picks a free one), not "${values.listen}"\n${USAGE}`);
    return 2;
  }
  if (values.signaling !== undefined && !isWebSocketUrl(values.signaling)) {
    console.error(`--signaling needs a ws:// or wss:// URL, not "${values.signaling}"\n${USAGE}`);
    return 2;
  }
  const data = resolve(values.data);
  // Under npm (npx, npm run) our parent is npm's shell: see the poll below. Its pid is read by
  // the launcher before anything else, so that an exit while we start is noticed too.
  const parent = underNpm ? (opts.parentPid ?? process.ppid) : 0;
  // Signals are ours from here on, before anything is printed: a signal that came between
  // the "peer ... is new" line and its handler killed the process without a leave.
  let stop: (signal: string) => void = () => {};
  let early: string | null = null;
  let startFinished = false;
  const onSignal = (signal: string) => {
    if (startFinished) return stop(signal);
    if (early !== null) {
      log(`${signal} again while starting: stopping at once`);
      process.exit(1);
    }
    early = signal;
    log(`${signal} while starting: leaving as soon as the peer is in the ring (again to stop at once)`);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  log(`starting: room ${values.room}, data ${data}${values.signaling ? `, signaling ${values.signaling}` : ''}${listen !== undefined ? `, hosting signaling on port ${listen}` : ''}`);
  const peer = await NodePeer.start({
    room: values.room,
    signaling: values.signaling,
    data,
    listen: listen === undefined ? undefined : { port: listen, host: values.host },
  });
  log(`peer ${hex(peer.id)} ${peer.runtime.driver.restored ? 'restarted with its stored identity' : 'is new'}; in the ring at ${position(peer.id)}${peer.hosting ? `; signaling for tabs at ${peer.hosting}` : ''}`);
  let last = '';
  const report = (always: boolean) => {
    const s = peer.runtime.driver.snapshot();
    const view = `ring ${s.ring}, pred ${s.pred === null ? '-' : hex(s.pred)}, succs [${s.succs.map(hex).join(' ')}], connected [${s.connected.map(hex).join(' ')}]`;
    if (!always && view === last) return;
    last = view;
    log(`${hex(s.id)} at ${position(s.id)}: ${view}; ring size ~${s.ringSizeEstimate}, items ${s.items}`);
  };
  // Started through npx or npm run, this process is a shell's child: a SIGTERM sent to npm
  // only (a service manager that signals the main process, or kill with npm's pid) ends npm
  // and the shell and leaves us running, orphaned, with the port and the data directory.
  // Under npm, our parent's exit is taken as that signal. Not otherwise: started from a
  // terminal with nohup or disown, the peer must outlive the shell that started it.
  const parentGone = () => underNpm && (parent <= 1 || !processExists(parent));
  const poll = setInterval(() => {
    if (parentGone()) stop('parent process exited');
    else report(false);
  }, CHANGE_POLL_MS);
  const periodic = setInterval(() => report(true), interval);
  report(true);
  return new Promise<number>((done) => {
    let stopping = false;
    stop = (signal: string) => {
      if (stopping) {
        log(`${signal} again: stopping without handover`);
        void peer.close().then(() => done(1));
        return;
      }
      stopping = true;
      clearInterval(poll);
      clearInterval(periodic);
      log(`${signal}: leaving the ring (handing over ${peer.runtime.driver.snapshot().items} items)`);
      const t0 = Date.now();
      peer.leave().then(
        () => {
          log(`left in ${Date.now() - t0} ms; data and identity stay in ${data}`);
          done(0);
        },
        (e: unknown) => {
          log(`leave failed: ${e instanceof Error ? e.message : String(e)}`);
          done(1);
        },
      );
    };
    startFinished = true;
    if (early !== null) stop(early);
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isWebSocketUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'ws:' || u.protocol === 'wss:';
  } catch {
    return false;
  }
}

function hex(id: PeerId): string {
  return id.toString(16).padStart(13, '0');
}

/** Where on the circle, as a fraction: easier to read than a 52-bit number. */
function position(id: PeerId): string {
  return `${((id / ID_SPACE) * 100).toFixed(2)}%`;
}

function log(line: string): void {
  console.log(`${new Date().toISOString()} ${line}`);
}
