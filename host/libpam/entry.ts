/**
 * Finds the script a helper process or thread runs (server.ts).
 *
 * From the compiled package it is `server.js` next to this file. When the
 * host runs from TypeScript sources (vitest), Node 20 cannot run `server.ts`
 * in a child process, so it is bundled once with esbuild (a dev dependency)
 * into `node_modules/.cache/pamwasm/`, named by content hash, where `koffi`
 * still resolves from the package's node_modules.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

let cached: Promise<string> | undefined;

/** The absolute path of the helper entry script. */
export function serverEntry(): Promise<string> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<string> {
  if (!import.meta.url.endsWith('.ts')) return fileURLToPath(new URL('./server.js', import.meta.url));
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [fileURLToPath(new URL('./server.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['koffi'],
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const dir = fileURLToPath(new URL('../../node_modules/.cache/pamwasm/', import.meta.url));
  const file = `${dir}libpam-server-${hash}.mjs`;
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Several test workers may race here: write aside, then rename atomically.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return file;
}
