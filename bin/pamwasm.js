#!/usr/bin/env node
// Thin launcher: the CLI is compiled from host/cli to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/host/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('pamwasm: the host is not built yet; run `npm run build` (or `npm install`) in the pamwasm folder.\n');
  process.exit(2);
}
// A reader that stops early (`pamwasm run ... | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
// `pamwasm exec` starts at every login (pam_exec): it loads its own bundle,
// not the whole CLI, when `npm run build` has made it.
const execBundle = new URL('../dist/pamwasm-exec.mjs', import.meta.url);
if (process.argv[2] === 'exec' && existsSync(execBundle)) {
  const { execMain } = await import(execBundle.href);
  process.exitCode = await execMain(process.argv.slice(3));
} else {
  const { main } = await import(entry.href);
  process.exitCode = await main(process.argv.slice(2));
}
