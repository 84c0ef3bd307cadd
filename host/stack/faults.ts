/**
 * What went wrong in a guest, in one phrase for the log and the trace: a
 * timeout, a stack overflow, a trap and where it happened.
 */
import { TimeLimitExceeded } from '../sandbox/limits.js';

/**
 * Where in the guest a trap happened, from the wasm frames of its stack
 * (V8 names them from the module's name section, which the C builder
 * keeps): C's abort() is said as such, with its caller, since wasi-libc's
 * abort is a bare `unreachable`. '' when the module has no names.
 */
function trapSite(e: Error): string {
  const frames = [...(e.stack ?? '').matchAll(/^\s+at (\S+) \(wasm:\/\//gm)].map((m) => m[1]).filter((f) => !/^wasm-function\[/.test(f));
  if (frames.length === 0) return '';
  if (frames[0] === 'abort') return frames[1] ? ` (the module called abort() in ${frames[1]})` : ' (the module called abort())';
  return ` in ${frames[0]}`;
}

/** One phrase for the log: what went wrong in the guest. */
export function describeFault(e: unknown): string {
  if (e instanceof TimeLimitExceeded) return `timed out: ${e.message}`;
  if (e instanceof RangeError && /call stack/i.test(e.message)) return 'overflowed its stack (unbounded recursion)';
  if (e instanceof WebAssembly.RuntimeError) return `trapped: ${e.message}${trapSite(e)}`;
  return `faulted: ${e instanceof Error ? e.message : String(e)}`;
}
