/**
 * Compiling a metered core module so that compiling cannot outrun a time
 * limit. V8 compiles wasm functions lazily by default: a function is
 * compiled (Liftoff) the first time it is called, inside that call and
 * before any of its fuel code runs. The stall is the engine's, not the
 * guest's, and no fuel is burnt for it: one function of 170,000 loops, or of
 * a million nested blocks, stalled its first call for 0.5 to 0.8 s (and took
 * 1.2 GiB) under a 100 ms limit, and a module of several such functions,
 * each called once and returning at once, stalls for seconds before its
 * first clock check.
 *
 * So a module whose code could take long to compile is compiled in full at
 * load, where no time limit runs; only a small one is left to V8's lazy
 * compilation, whose stalls over the instance's whole life then add up to a
 * few milliseconds. The worst rate measured is about 0.25 µs of first-call
 * compilation per byte of metered code (deeply nested blocks; nested loops
 * with their fuel code 0.15, straight-line code 0.015), so 64 KiB of code
 * costs at most about 16 ms. Compiled C guests are under it; large guests
 * (a JavaScript engine) pay for their full compilation once per process.
 */
import { setFlagsFromString } from 'node:v8';
import { readSections, SECTION } from './spaces.js';

/** The most bytes of code a module may have and still be compiled lazily. */
export const LAZY_CODE_BYTES = 64 * 1024;

/** Bytes of the code section of `bytes` (a module the meter wrote, so well formed). */
function codeBytes(bytes: Uint8Array): number {
  const code = readSections(bytes).find((s) => s.id === SECTION.code);
  return code ? code.end - code.start : 0;
}

/** Whether `bytes` (a metered core module) is compiled in full at load. */
export function compilesInFull(bytes: Uint8Array): boolean {
  return codeBytes(bytes) > LAZY_CODE_BYTES;
}

/**
 * `bytes` compiled: in full, synchronously, when `compilesInFull`; else by
 * V8's lazy compilation. V8 reads its lazy-compilation flag when a
 * compilation starts, so the flag is turned off only around this one
 * synchronous compile (a compile started meanwhile elsewhere at worst
 * compiles in full too).
 */
export function compileMetered(bytes: Uint8Array): Promise<WebAssembly.Module> {
  if (!compilesInFull(bytes)) return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  try {
    setFlagsFromString('--no-wasm-lazy-compilation');
    return Promise.resolve(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  } catch (e) {
    return Promise.reject(e);
  } finally {
    setFlagsFromString('--wasm-lazy-compilation');
  }
}
