/**
 * Reading a string or list argument out of guest memory, bounded before it
 * is read. Both load paths read every such argument through `guestBytes`:
 * the fast path's lifts (component/canon.ts) and jco's glue, whose lift
 * sites glue.ts rewrites to call it.
 *
 * A host function may say how much of an argument it can use: its
 * `[ARG_BYTES]` property, the most bytes of any one string or list argument
 * it accepts. A longer argument is cut to that many bytes plus one before it
 * is decoded or copied, so the host function still sees an argument over its
 * limit and answers as it does for one (an error status, a truncated syslog
 * line), at the cost of reading a few KiB instead of megabytes. (Decoding
 * UTF-8 never gives fewer bytes than it read, so the cut text is still over
 * the limit.) An argument whose bytes lie outside the guest's memory is no
 * answerable case: it is a `limit` fault.
 *
 * @example
 *   const host = Object.assign((text: string) => show(text), { [ARG_BYTES]: 4096 });
 *   decoder.decode(guestBytes(memory, ptr, len, host)); // at most 4097 bytes read
 */
import { SandboxLimitExceeded } from '../sandbox/index.js';

/** The property of a host function giving the most bytes of one string or list argument it uses. */
export const ARG_BYTES: unique symbol = Symbol.for('pamwasm.argBytes') as never;

/** A host function as the lifts see it: maybe with its argument limit. */
export type Capped = { [ARG_BYTES]?: number } | null | undefined;

/**
 * The bytes `[ptr, ptr + len)` of `memory` (both taken as the canonical
 * ABI's u32), as a view cut to `host[ARG_BYTES] + 1` bytes. Throws
 * `SandboxLimitExceeded` when they are not all inside the memory.
 */
export function guestBytes(memory: WebAssembly.Memory | undefined, ptr: number, len: number, host: Capped): Uint8Array {
  const buffer = memory!.buffer;
  const start = ptr >>> 0;
  const length = len >>> 0;
  if (start + length > buffer.byteLength) {
    throw new SandboxLimitExceeded(`passed a host call ${length} bytes at ${start}, outside its memory of ${buffer.byteLength} bytes`);
  }
  const cap = typeof host === 'function' || (typeof host === 'object' && host !== null) ? host[ARG_BYTES] : undefined;
  return new Uint8Array(buffer, start, cap !== undefined && length > cap ? cap + 1 : length);
}
