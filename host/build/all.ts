/**
 * Builds every guest module under guest-modules/ into
 * guest-modules/dist/<name>.wasm: C modules (folders with `*.c`) through
 * buildCModule, JS/TS modules through buildJsModules. The hostile corpus
 * (guest-modules/hostile/, see hostile.ts) goes to guest-modules/hostile/dist/.
 *
 *   npm run build:guests                      build into guest-modules/dist/ and hostile/dist/
 *   node dist/host/build/all.js --js          build only the JS modules (no C toolchain): what
 *                                             `npm pack` runs, since their components are not committed
 *   node dist/host/build/all.js --check       rebuild the C modules (and the hostile corpus)
 *                                             into a temp folder and fail, naming the file,
 *                                             if a committed .wasm differs (CI)
 *
 * @example
 *   const built = await buildGuests({ outDir: '/tmp/guests', onProgress: console.error });
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PamwasmError } from '../errors/index.js';
import { buildCModule, cGuestFolders } from './c.js';
import { GUEST_DIST_DIR, GUEST_MODULES_DIR } from './guests.js';
import { buildCraftedModule } from './crafted.js';
import { brokenModules, craftedFolders, HOSTILE_DIST_DIR, hostileFolders, hostileOutputs, TRUNCATED_FROM } from './hostile.js';
// --- JS guests: host/build/js.ts builds them (componentize-js). ---
import { buildJsModules, jsGuestFolders } from './js.js';

export interface BuiltGuest {
  name: string;
  /** `bytes` for the derived hostile files (truncated.wasm, random.wasm). */
  language: 'C' | 'JS' | 'WAT' | 'bytes';
  outFile: string;
  bytes: number;
  ms: number;
  cached?: boolean;
}

export interface BuildGuestsOptions {
  /** Where the .wasm files go (default guest-modules/dist). */
  outDir?: string;
  /** Where the hostile corpus goes (default guest-modules/hostile/dist). */
  hostileOutDir?: string;
  /** One line per step and per module built. */
  onProgress?: (msg: string) => void;
}

/** Builds every guest module; throws the first module's BuildError. */
export async function buildGuests(opts: BuildGuestsOptions = {}): Promise<BuiltGuest[]> {
  const outDir = opts.outDir ?? GUEST_DIST_DIR;
  const hostileOutDir = opts.hostileOutDir ?? HOSTILE_DIST_DIR;
  const say = opts.onProgress ?? (() => {});
  const built = [...(await buildCGuests(outDir, hostileOutDir, say)).keys()];

  for (const js of await buildJsModules(outDir, { onProgress: say })) {
    built.push({ name: js.name, language: 'JS', outFile: js.outFile, bytes: js.bytes, ms: js.ms, cached: js.cached });
    say(`built ${js.name}.wasm (JS, ${(js.bytes / 1e6).toFixed(1)} MB, ${js.cached ? 'cached' : `${js.ms} ms`})`);
  }
  return built;
}

/**
 * The C modules into `outDir`, the hostile corpus into `hostileOutDir`;
 * each file written with its bytes, in build order.
 */
async function buildCGuests(outDir: string, hostileOutDir: string, say: (msg: string) => void): Promise<Map<BuiltGuest, Uint8Array>> {
  const good = await buildCFolders(cGuestFolders(GUEST_MODULES_DIR), outDir, say);
  const built = new Map([...good, ...(await buildCFolders(hostileFolders(), hostileOutDir, say, 'hostile/'))]);
  await mkdir(hostileOutDir, { recursive: true });
  for (const dir of craftedFolders()) {
    const name = basename(dir);
    const outFile = join(hostileOutDir, `${name}.wasm`);
    const started = performance.now();
    const bytes = await buildCraftedModule(dir);
    await writeFile(outFile, bytes);
    built.set({ name, language: 'WAT', outFile, bytes: bytes.length, ms: Math.round(performance.now() - started) }, bytes);
    say(`built hostile/${name}.wasm (WAT, ${(bytes.length / 1024).toFixed(1)} KB)`);
  }
  const real = [...good.keys()].find((g) => g.name === TRUNCATED_FROM);
  if (real) {
    for (const [file, bytes] of brokenModules(good.get(real)!)) {
      const outFile = join(hostileOutDir, file);
      await writeFile(outFile, bytes);
      built.set({ name: basename(file, '.wasm'), language: 'bytes', outFile, bytes: bytes.length, ms: 0 }, bytes);
      say(`wrote hostile/${file} (${(bytes.length / 1024).toFixed(1)} KB)`);
    }
  }
  return built;
}

/** Builds C module folders in parallel (clang runs as separate processes); reports in order. */
async function buildCFolders(folders: string[], outDir: string, say: (msg: string) => void, label = ''): Promise<Map<BuiltGuest, Uint8Array>> {
  const builds = folders.map(async (dir): Promise<[BuiltGuest, Uint8Array]> => {
    const name = basename(dir);
    const outFile = join(outDir, `${name}.wasm`);
    const started = performance.now();
    // Only compiler warnings are passed on: one line per module otherwise.
    const bytes = await buildCModule(dir, outFile, { onProgress: (m) => m.includes('warnings') && say(m) });
    return [{ name, language: 'C', outFile, bytes: bytes.length, ms: Math.round(performance.now() - started) }, bytes];
  });
  // Wait for all, so no failed build is left unhandled; the first failure throws.
  const built = new Map<BuiltGuest, Uint8Array>();
  for (const r of await Promise.allSettled(builds)) {
    if (r.status === 'rejected') throw r.reason;
    const [guest, bytes] = r.value;
    built.set(guest, bytes);
    say(`built ${label}${guest.name}.wasm (C, ${(guest.bytes / 1024).toFixed(1)} KB, ${guest.ms} ms)`);
  }
  return built;
}

export interface CheckGuestsOptions {
  /** The committed good modules (default guest-modules/dist). */
  distDir?: string;
  /** The committed hostile corpus (default guest-modules/hostile/dist). */
  hostileDistDir?: string;
  /** One line per file that matches. */
  onProgress?: (msg: string) => void;
}

/**
 * Rebuilds the C modules and the hostile corpus into a temp folder and
 * compares them with the committed ones. JS components (about 12 MB each)
 * are git-ignored, not committed, so there is nothing to compare them with.
 * Returns one sentence per problem (empty when all match).
 */
export async function checkGuests(opts: CheckGuestsOptions = {}): Promise<string[]> {
  const distDir = opts.distDir ?? GUEST_DIST_DIR;
  const hostileDistDir = opts.hostileDistDir ?? HOSTILE_DIST_DIR;
  const fresh = await mkdtemp(join(tmpdir(), 'pamwasm-guests-'));
  const shown = (f: string) => relative(process.cwd(), f) || f;
  try {
    const freshBytes = new Map([...(await buildCGuests(join(fresh, 'dist'), join(fresh, 'hostile'), () => {}))]
      .map(([guest, bytes]) => [guest.outFile, bytes]));
    const problems: string[] = [];
    /** `expected` are built here; `alsoKnown` may be there too without being built here (the JS components). */
    const compare = async (committedDir: string, freshDir: string, expected: string[], alsoKnown: string[], source: (file: string) => string) => {
      for (const file of expected) {
        const committed = join(committedDir, file);
        const built = freshBytes.get(join(freshDir, file)) ?? await readFile(join(freshDir, file));
        if (!existsSync(committed)) {
          problems.push(`${shown(committed)} is missing: run \`npm run build:guests\` and commit it.`);
        } else if (!(await readFile(committed)).equals(built)) {
          problems.push(`${shown(committed)} differs from a fresh build of ${source(file)}: rebuild with \`npm run build:guests\` and commit it (if it still differs, the build is not reproducible with this toolchain).`);
        } else {
          opts.onProgress?.(`${shown(committed)} matches`);
        }
      }
      const known = new Set([...expected, ...alsoKnown]);
      if (existsSync(committedDir)) {
        for (const f of readdirSync(committedDir).filter((f) => f.endsWith('.wasm') && !known.has(f)).sort()) {
          problems.push(`${shown(join(committedDir, f))} has no module source any more: delete it.`);
        }
      }
    };
    const folderOf = (root: string) => (file: string) => shown(join(root, basename(file, '.wasm')));
    const wasmOf = (dirs: string[]) => dirs.map((d) => `${basename(d)}.wasm`);
    await compare(distDir, join(fresh, 'dist'), wasmOf(cGuestFolders(GUEST_MODULES_DIR)), wasmOf(jsGuestFolders(GUEST_MODULES_DIR)), folderOf(GUEST_MODULES_DIR));
    await compare(hostileDistDir, join(fresh, 'hostile'), hostileOutputs(), [], (file) =>
      file === 'truncated.wasm' || file === 'random.wasm' ? `host/build/hostile.ts (${file})` : folderOf(join(GUEST_MODULES_DIR, 'hostile'))(file));
    return problems;
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<number> {
  const say = (msg: string) => console.error(msg);
  const unknown = argv.filter((a) => a !== '--check' && a !== '--js');
  if (unknown.length > 0 || argv.length > 1) {
    say(`unknown argument ${unknown[0] ?? argv[1]}: use no arguments to build guest-modules/dist/, --js to build only its JS modules, or --check to verify it.`);
    return 2;
  }
  try {
    if (argv.includes('--js')) {
      for (const js of await buildJsModules(GUEST_DIST_DIR, { onProgress: say })) {
        say(`built ${js.name}.wasm (JS, ${(js.bytes / 1e6).toFixed(1)} MB, ${js.cached ? 'cached' : `${js.ms} ms`})`);
      }
      return 0;
    }
    if (argv.includes('--check')) {
      const problems = await checkGuests({ onProgress: say });
      for (const p of problems) say(p);
      if (problems.length > 0) return 1;
      say('the committed guest-modules/dist/*.wasm and guest-modules/hostile/dist/*.wasm match a fresh build.');
      return 0;
    }
    const started = performance.now();
    const built = await buildGuests({ onProgress: say });
    const where = [GUEST_DIST_DIR, HOSTILE_DIST_DIR].map((d) => relative(process.cwd(), d) || d).join(' and ');
    say(`built ${built.length} guest modules into ${where} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
    return 0;
  } catch (e) {
    say(e instanceof PamwasmError ? `build:guests failed: ${e.message}` : `build:guests failed: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

// No top-level await: this file is part of `pamwasm/build`, and node's require() of an ES module refuses one.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
