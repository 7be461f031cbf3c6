import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * The `tabring` command as a user gets it. The package is packed (`npm pack`, which needs no
 * network) and unpacked into a fresh directory whose node_modules holds only the package's
 * runtime dependencies (links into this checkout's node_modules: installing them would need
 * the registry). So a file missing from package.json's "files", or a module needed at run
 * time but listed as a dev dependency, fails here. The bin runs as npx runs it (node on the
 * bin's file), prints its id and position, leaves on SIGTERM and SIGINT, and comes back with
 * its identity. Bad input gets one clear line, not a stack trace. Nothing here is timed:
 * every wait is for a line of output or an exit, with generous limits for a loaded machine.
 */
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const WAIT_MS = 180_000;

let dir = '';
let packedBin = '';
const checkoutBin = join(repo, 'src/node/tabring.mjs');
const children = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabring-bin-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repo, maxBuffer: 16 << 20 });
  const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>;
  const app = join(dir, 'app');
  const modules = join(app, 'node_modules');
  await mkdir(modules, { recursive: true });
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('tar', ['-xzf', join(dir, filename), '-C', modules]);
  await run('mv', [join(modules, 'package'), join(modules, 'tabring')]);
  const pkg = JSON.parse(await readFile(join(modules, 'tabring/package.json'), 'utf8')) as { dependencies: Record<string, string>; bin: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) {
    await mkdir(dirname(join(modules, dep)), { recursive: true });
    await symlink(join(repo, 'node_modules', dep), join(modules, dep), 'dir');
  }
  packedBin = join(modules, 'tabring', pkg.bin.tabring!);
}, 240_000);

afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A running command and everything it printed so far. */
interface Proc {
  child: ChildProcess;
  out: () => string;
  /** Resolves with the first match of re in the output (stdout and stderr). */
  line: (re: RegExp) => Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process and its output streams are closed. */
  closed: Promise<number | null>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { cwd: join(dir, 'app'), stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  let text = '';
  const waiters: Array<() => void> = [];
  const onData = (b: Buffer) => {
    text += b.toString();
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const closed = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  const line = (re: RegExp) =>
    new Promise<RegExpMatchArray>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`no line matching ${re} within ${WAIT_MS} ms; output:\n${text}`)), WAIT_MS);
      const check = () => {
        const m = text.match(re);
        if (m) {
          clearTimeout(timer);
          done(m);
        } else waiters.push(check);
      };
      check();
      void closed.then(() => setTimeout(() => waiters.includes(check) && check(), 0));
    });
  return { child, out: () => text, line, closed };
}

function peer(bin: string, args: string[]): Proc {
  return start(process.execPath, [bin, 'peer', ...args]);
}

const STARTED = /peer ([0-9a-f]{13}) (is new|restarted with its stored identity); in the ring at ([0-9.]+)%; signaling for tabs at ws:\/\/127\.0\.0\.1:(\d+)/;
/** A stack trace line, which bad input must never print. */
const STACK = /^\s+at /m;

describe('the tabring bin', () => {
  it('packed and unpacked: prints its id, leaves on SIGTERM and SIGINT, restarts with its identity and data', async () => {
    const data = join(dir, 'peer-data');
    const first = peer(packedBin, ['--room', 'bin-test', '--data', data, '--listen', '0']);
    const [, id, how] = await first.line(STARTED);
    expect(how).toBe('is new');
    await first.line(new RegExp(`${id} at [0-9.]+%: ring in, pred ${id}, succs \\[${id}\\]`));
    first.child.kill('SIGTERM');
    expect(await first.closed).toBe(0);
    expect(first.out()).toMatch(/SIGTERM: leaving the ring/);
    expect(first.out()).toMatch(/left in \d+ ms; data and identity stay in/);

    const again = peer(packedBin, ['--room', 'bin-test', '--data', data, '--listen', '0']);
    const [, id2, how2] = await again.line(STARTED);
    expect(id2).toBe(id);
    expect(how2).toBe('restarted with its stored identity');
    again.child.kill('SIGINT');
    expect(await again.closed).toBe(0);
    expect(again.out()).toMatch(/SIGINT: leaving the ring/);
    expect(again.out()).not.toMatch(STACK);
  }, 480_000);

  it('started by npm, leaves when its parent exits (npx or npm run killed with SIGTERM leaves it orphaned)', async () => {
    const data = join(dir, 'orphan-data');
    // As npm runs it: through a shell that keeps node as its child (a command follows), with
    // npm's environment (npm_command; without it the parent is not watched: nohup, disown).
    const sh = start('sh', ['-c', `"${process.execPath}" "${checkoutBin}" peer --room orphan --data "${data}" --listen 0; true`], { ...process.env, npm_command: 'exec' });
    await sh.line(STARTED);
    sh.child.kill('SIGKILL');
    // The pipes close once the orphaned node process has left and exited.
    await sh.closed;
    await sh.line(/left in \d+ ms/);
    expect(sh.out()).toMatch(/parent process exited: leaving the ring/);
  }, 300_000);

  describe('bad input: one clear line, no stack trace', () => {
    let busy: Server | null = null;
    afterAll(() => void busy?.close());

    it('a data directory that is a file', async () => {
      const file = join(dir, 'a-file');
      await writeFile(file, 'x');
      const p = peer(checkoutBin, ['--room', 'bad', '--data', file, '--listen', '0']);
      expect(await p.closed).toBe(1);
      expect(p.out()).toContain(`tabring: cannot use ${file} as the data directory: it exists and is not a directory`);
      expect(p.out()).not.toMatch(STACK);
    }, 240_000);

    it('a port in use', async () => {
      busy = createServer();
      const port = await new Promise<number>((done) => busy!.listen(0, '127.0.0.1', () => done((busy!.address() as { port: number }).port)));
      const p = peer(checkoutBin, ['--room', 'bad', '--data', join(dir, 'busy-data'), '--listen', String(port)]);
      expect(await p.closed).toBe(1);
      expect(p.out()).toMatch(new RegExp(`tabring: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}`));
      expect(p.out()).not.toMatch(STACK);
    }, 240_000);

    it('a signaling address that is not a WebSocket URL, and a port out of range', async () => {
      const url = peer(checkoutBin, ['--room', 'bad', '--data', join(dir, 'url-data'), '--signaling', 'not-a-url']);
      expect(await url.closed).toBe(2);
      expect(url.out()).toContain('--signaling needs a ws:// or wss:// URL, not "not-a-url"');
      const port = peer(checkoutBin, ['--room', 'bad', '--data', join(dir, 'url-data'), '--listen', '70000']);
      expect(await port.closed).toBe(2);
      expect(port.out()).toContain('--listen needs a TCP port');
      expect(url.out() + port.out()).not.toMatch(STACK);
    }, 240_000);

    it('a signaling server that nobody runs', async () => {
      const p = peer(checkoutBin, ['--room', 'bad', '--data', join(dir, 'dead-data'), '--signaling', 'ws://127.0.0.1:1']);
      expect(await p.closed).toBe(1);
      // Refused, or timed out on a machine so loaded that the refusal came late: either way one line.
      expect(p.out()).toMatch(/tabring: cannot find the ring of room "bad": .*ws:\/\/127\.0\.0\.1:1/);
      expect(p.out()).not.toMatch(STACK);
    }, 240_000);
  });
});
