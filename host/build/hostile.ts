/**
 * The hostile corpus, guest-modules/hostile/: modules that misbehave or ask
 * for more than the world gives, for the sandbox's tests (extism's
 * `wasm/corpus`). The C ones are built by buildCModule like the good ones,
 * into their own folder, guest-modules/hostile/dist/, so that no stack
 * naming a bare `loop_open.wasm` can load one from the bundled module dir.
 * Modules no compiler makes are written by hand in the text format and
 * built by crafted.ts (a folder with `<name>.wat`). Two more files are derived, byte for byte the same on
 * every build, so `--check` can compare them too:
 *  - truncated.wasm: a real component (pam_permit) cut in half;
 *  - random.wasm: 4096 random-looking bytes (SHA-256 in counter mode over a
 *    fixed seed).
 *
 * @example
 *   for (const dir of hostileFolders()) await buildCModule(dir, join(HOSTILE_DIST_DIR, `${basename(dir)}.wasm`));
 *   for (const [file, bytes] of brokenModules(permitBytes)) await writeFile(join(HOSTILE_DIST_DIR, file), bytes);
 */
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { cGuestFolders } from './c.js';
import { isCraftedFolder } from './crafted.js';
import { GUEST_MODULES_DIR, guestFolders } from './guests.js';

export const HOSTILE_DIR = join(GUEST_MODULES_DIR, 'hostile');
export const HOSTILE_DIST_DIR = join(HOSTILE_DIR, 'dist');

/**
 * Hostile folders with no committed build: reads_files belongs to the WASI
 * sandbox's tests (test/sandbox/wasi.test.ts), which build it with
 * buildCModule in two variants (with and without a `defines` entry) when
 * they run.
 */
const BUILT_ELSEWHERE = new Set(['reads_files']);

/** The module whose fresh build truncated.wasm is cut from. */
export const TRUNCATED_FROM = 'pam_permit';

const RANDOM_SEED = 'pamwasm hostile corpus: random.wasm';
const RANDOM_BYTES = 4096;

/** The hostile C module folders this script builds, sorted. */
export function hostileFolders(): string[] {
  return cGuestFolders(HOSTILE_DIR).filter((dir) => !BUILT_ELSEWHERE.has(basename(dir)));
}

/** The hostile folders of hand-written core modules (crafted.ts), sorted. */
export function craftedFolders(): string[] {
  return guestFolders(HOSTILE_DIR).filter(isCraftedFolder);
}

/** truncated.wasm and random.wasm, by file name; `real` is a fresh build of {@link TRUNCATED_FROM}. */
export function brokenModules(real: Uint8Array): Map<string, Uint8Array> {
  const random = new Uint8Array(RANDOM_BYTES);
  for (let block = 0; block * 32 < RANDOM_BYTES; block++) {
    const digest = createHash('sha256').update(`${RANDOM_SEED} ${block}`).digest();
    random.set(digest.subarray(0, Math.min(32, RANDOM_BYTES - block * 32)), block * 32);
  }
  return new Map([
    ['truncated.wasm', real.slice(0, Math.floor(real.length / 2))],
    ['random.wasm', random],
  ]);
}

/** Every file `--check` expects in the hostile dist folder. */
export function hostileOutputs(): string[] {
  return [...hostileFolders(), ...craftedFolders()].map((d) => `${basename(d)}.wasm`).concat('truncated.wasm', 'random.wasm').sort();
}
