/**
 * Runs once before any test file: builds the bundled JS modules into
 * guest-modules/dist/ (they are not committed; the cache in .cache/js-guests/
 * makes a rebuild a copy). Tests that name a bundled module by its installed
 * path, and the package tests, need them there before the first file starts,
 * not whenever some other file happens to build them.
 *
 * It runs the built builder (`npm test` builds first), as `npm pack` does.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export default function setup(): void {
  const builder = join(ROOT, 'dist', 'host', 'build', 'all.js');
  if (!existsSync(builder)) {
    throw new Error(`${builder} does not exist: run \`npm run build\` first (\`npm test\` does).`);
  }
  const r = spawnSync(process.execPath, [builder, '--js'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000 });
  if (r.status !== 0) {
    throw new Error(`building the bundled JS modules failed (${r.error?.message ?? `exit ${r.status}`}); the lines above say why.`);
  }
}
