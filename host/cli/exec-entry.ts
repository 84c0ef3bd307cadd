/**
 * The entry point of dist/pamwasm-exec.mjs, the bundled `pamwasm exec`
 * (host/build/bundle-exec.ts makes it). Run directly
 * (`node dist/pamwasm-exec.mjs --stack FILE`) it is the command; imported
 * (bin/pamwasm.js does for `pamwasm exec`) it only exports execMain.
 */
import { pathToFileURL } from 'node:url';
import { execMain } from './exec.js';

export { execMain };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await execMain(process.argv.slice(2));
}
