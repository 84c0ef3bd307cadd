/**
 * The session-module world's WIT, read from the repository's `wit/` folder.
 *
 * wasm-tools (as shipped in jco-transpile) runs without filesystem access, so
 * the package is handed over as one source string: the files' bodies joined
 * under a single `package` line.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import { WIT_PACKAGE, WIT_VERSION } from './bindings.js';

/** The WIT package and its version (`pamwasm:session`, `0.1.0`), generated from wit/ (host/build/wit-bindings.ts). */
export { WIT_PACKAGE, WIT_VERSION };
export const WORLD_NAME = 'session-module';
/** Interfaces a module may import, without version (jco's import keys). */
export const WORLD_IMPORTS = ['items', 'env', 'data', 'log', 'conversation'].map((i) => `${WIT_PACKAGE}/${i}`);

let root: string | undefined;

/** The `wit/` directory of this installation. */
export const WIT_DIR = join(packageRoot(), 'wit');

/** The package root: the nearest folder above this file that holds `wit/world.wit`
 * (the same from `host/` under vitest and from the compiled `dist/host/`), looked up once. */
export function packageRoot(): string {
  root ??= findPackageRoot();
  return root;
}

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'wit', 'world.wit'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('pamwasm: cannot find the wit/ folder above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

let cached: string | undefined;

/** The whole WIT package as one source string for wasm-tools. */
export function witSource(): string {
  if (cached) return cached;
  const files = readdirSync(WIT_DIR).filter((f) => f.endsWith('.wit')).sort();
  const bodies = files.map((f) => readFileSync(join(WIT_DIR, f), 'utf8').replace(/^package [^;]+;[ \t]*$/m, ''));
  cached = `package ${WIT_PACKAGE}@${WIT_VERSION};\n${bodies.join('\n')}`;
  return cached;
}
