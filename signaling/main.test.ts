import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode } from './protocol.ts';
import { cleanup, TestSocket } from './testing.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await cleanup();
});

function run(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(get: () => string, pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
  const end = Date.now() + ms;
  for (;;) {
    const m = get().match(pattern);
    if (m) return m;
    if (Date.now() > end) throw new Error(`no ${pattern} within ${ms} ms; got: ${get()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('signaling CLI', () => {
  it('prints its address, serves, logs JSON lines, and stops cleanly on SIGTERM', async () => {
    const p = run(['--port', '0', '--host', '127.0.0.1']);
    const [, url] = await waitFor(p.stdout, /^signaling listening on (ws:\/\/127\.0\.0\.1:\d+)$/m, 8000);
    const s = await TestSocket.open(url);
    expect(await s.join('cli', 1)).toEqual({ type: 'joined', peers: [] });
    await waitFor(p.stderr, /"ev":"join"/, 2000);
    p.child.kill('SIGTERM');
    expect(await s.closed).toMatchObject({ code: CloseCode.goingAway });
    expect(await p.exited).toBe(0);
    for (const line of p.stderr().trim().split('\n').filter((l) => l.startsWith('{'))) {
      expect(() => JSON.parse(line)).not.toThrow();
    }
  });
});
