#!/usr/bin/env node
// Launcher for `npx tabring ...` and `npm run peer -- ...`: the CLI is TypeScript
// (src/node/cli.ts), loaded through tsx's loader, since Node 20 cannot run .ts by itself.
// Our parent now, before loading anything (cli.ts watches it when npm started us).
const parentPid = process.ppid;
const { register } = await import('tsx/esm/api');

register();
const { main } = await import('./cli.ts');
try {
  process.exit(await main(process.argv.slice(2), { parentPid }));
} catch (e) {
  console.error(`tabring: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
