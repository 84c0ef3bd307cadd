/**
 * Builds every guest module under guest-modules/ into
 * guest-modules/dist/<name>.wasm: C modules (folders with `*.c`) through
 * buildCModule, JS/TS modules through buildJsModules.
 *
 *   npm run build:guests                      build into guest-modules/dist/
 *   node dist/host/build/all.js --check       rebuild the C modules into a temp folder
 *                                             and fail, naming the file, if a committed
 *                                             guest-modules/dist/*.wasm differs (CI)
 *
 * @example
 *   const built = await buildGuests({ outDir: '/tmp/guests', onProgress: console.error });
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PamwasmError } from '../errors/index.js';
import { packageRoot } from '../wit/index.js';
import { buildCModule, cGuestFolders } from './c.js';
// --- JS guests: host/build/js.ts builds them (componentize-js). ---
import { buildJsModules, jsGuestFolders } from './js.js';

export const GUESTS_DIR = join(packageRoot(), 'guest-modules');
export const DIST_DIR = join(GUESTS_DIR, 'dist');

export interface BuiltGuest {
  name: string;
  language: 'C' | 'JS';
  outFile: string;
  bytes: number;
  ms: number;
  cached?: boolean;
}

export interface BuildGuestsOptions {
  /** Where the .wasm files go (default guest-modules/dist). */
  outDir?: string;
  /** One line per step and per module built. */
  onProgress?: (msg: string) => void;
}

/** Builds every guest module; throws the first module's BuildError. */
export async function buildGuests(opts: BuildGuestsOptions = {}): Promise<BuiltGuest[]> {
  const outDir = opts.outDir ?? DIST_DIR;
  const say = opts.onProgress ?? (() => {});
  const built: BuiltGuest[] = [];

  for (const dir of cGuestFolders(GUESTS_DIR)) {
    const name = basename(dir);
    const outFile = join(outDir, `${name}.wasm`);
    const started = performance.now();
    // Only compiler warnings are passed on: one line per module otherwise.
    const bytes = await buildCModule(dir, outFile, { onProgress: (m) => m.includes('warnings') && say(m) });
    const ms = Math.round(performance.now() - started);
    built.push({ name, language: 'C', outFile, bytes: bytes.length, ms });
    say(`built ${name}.wasm (C, ${(bytes.length / 1024).toFixed(1)} KB, ${ms} ms)`);
  }

  for (const js of await buildJsModules(outDir, { onProgress: say })) {
    built.push({ name: js.name, language: 'JS', outFile: js.outFile, bytes: js.bytes, ms: js.ms, cached: js.cached });
    say(`built ${js.name}.wasm (JS, ${(js.bytes / 1e6).toFixed(1)} MB, ${js.cached ? 'cached' : `${js.ms} ms`})`);
  }
  return built;
}

/**
 * Rebuilds the C modules into a temp folder and compares them with
 * `committedDir`. JS components (about 12 MB each) are git-ignored, not
 * committed, so there is nothing to compare them with. Returns one sentence
 * per problem (empty when all match).
 */
export async function checkGuests(committedDir: string = DIST_DIR, onProgress?: (msg: string) => void): Promise<string[]> {
  const fresh = await mkdtemp(join(tmpdir(), 'pamwasm-guests-'));
  const shown = (f: string) => relative(process.cwd(), f) || f;
  try {
    const problems: string[] = [];
    const folders = cGuestFolders(GUESTS_DIR);
    for (const dir of folders) {
      const name = basename(dir);
      const committed = join(committedDir, `${name}.wasm`);
      const built = await buildCModule(dir, join(fresh, `${name}.wasm`));
      if (!existsSync(committed)) {
        problems.push(`${shown(committed)} is missing: run \`npm run build:guests\` and commit it.`);
      } else if (!(await readFile(committed)).equals(built)) {
        problems.push(`${shown(committed)} differs from a fresh build of ${shown(dir)}: rebuild with \`npm run build:guests\` and commit it (if it still differs, the build is not reproducible with this toolchain).`);
      } else {
        onProgress?.(`${name}.wasm matches`);
      }
    }
    const expected = new Set([...folders, ...jsGuestFolders(GUESTS_DIR)].map((d) => `${basename(d)}.wasm`));
    if (existsSync(committedDir)) {
      for (const f of readdirSync(committedDir).filter((f) => f.endsWith('.wasm') && !expected.has(f)).sort()) {
        problems.push(`${shown(join(committedDir, f))} has no module source any more: delete it.`);
      }
    }
    return problems;
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const say = (msg: string) => console.error(msg);
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    say(`unknown argument ${unknown[0]}: use no arguments to build guest-modules/dist/, or --check to verify it.`);
    return 2;
  }
  try {
    if (argv.includes('--check')) {
      const problems = await checkGuests(DIST_DIR, say);
      for (const p of problems) say(p);
      if (problems.length > 0) return 1;
      say('the committed guest-modules/dist/*.wasm match a fresh build.');
      return 0;
    }
    const started = performance.now();
    const built = await buildGuests({ onProgress: say });
    say(`built ${built.length} guest modules into ${relative(process.cwd(), DIST_DIR) || DIST_DIR} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    return 0;
  } catch (e) {
    say(e instanceof PamwasmError ? `build:guests failed: ${e.message}` : `build:guests failed: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
