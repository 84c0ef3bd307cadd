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
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
