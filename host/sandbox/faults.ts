/**
 * Typed guest faults (wasmtime's `Trap::{OutOfFuel, StackOverflow, ...}`):
 * what ended a hook call without the module deciding its code. A fault fails
 * its line closed (the line's fault code) and is reported with its kind, so
 * that tests and tools match the kind, never the English.
 *
 * Kinds:
 *  - `timeout`: the call ran past its time limit (fuel ran out past the deadline);
 *  - `trap`: the guest executed a trapping instruction (unreachable, an
 *    out-of-bounds access, a division by zero, a null or mismatched call),
 *    gave the host an address outside its memory to lower a value into, or
 *    an enum value out of its range;
 *  - `stack-overflow`: the engine's stack ran out (unbounded recursion);
 *  - `out-of-memory`: the engine could not allocate what the guest needed
 *    (a memory or table at instantiation);
 *  - `limit`: the host refused to go on because a sandbox limit was passed
 *    (an argument over an import limit, a resource cap);
 *  - `host`: anything else thrown while the guest ran, e.g. a host function's
 *    own failure. Never a success either.
 *
 * @example
 *   try { instance.openSession(flags, argv); }
 *   catch (e) { const f = faultOf(meter.explain(e)); log(`${f.kind}: ${f.message}`); }
 */

export type FaultKind = 'timeout' | 'trap' | 'stack-overflow' | 'out-of-memory' | 'limit' | 'host';

export interface Fault {
  kind: FaultKind;
  message: string;
}

/** Thrown through the guest's frames when a call runs past its deadline. */
export class TimeLimitExceeded extends Error {
  readonly kind = 'timeout' as const;
  constructor(readonly limitMs: number) {
    super(`ran past its time limit of ${limitMs} ms`);
  }
}

/**
 * Thrown by the host into the guest's frames when the guest passes a sandbox
 * limit that has no softer answer (an error status or a dropped line), e.g. a
 * string argument longer than its import allows, checked before it is read.
 * The guest cannot catch it: the sandbox records the fault before throwing
 * and the hook's outcome is the fault whatever the guest does next.
 */
export class SandboxLimitExceeded extends Error {
  readonly kind = 'limit' as const;
  constructor(message: string) {
    super(message);
  }
}

/**
 * Thrown when guest code that the host called while lowering a host call's
 * result (the module's `cabi_realloc`, or any guest function it runs) calls
 * a host function in turn. The component model forbids leaving an instance
 * there (CanonicalABI.md: `may_leave` is false while the host lowers into
 * it), so it is a trap, as wasmtime's "cannot leave component instance":
 * host code is never re-entered in the middle of one of its own calls.
 */
export class ReentrantHostCall extends WebAssembly.RuntimeError {
  /** `during`: 'host-call' (a result being lowered) or 'hook-call' (arguments being lowered, or post-return). */
  constructor(readonly depth: number, readonly during: 'host-call' | 'hook-call' = 'host-call') {
    super(during === 'host-call'
      ? 'called a host function from inside a host call (e.g. from cabi_realloc while the host lowered a result into the module), which the component model forbids'
      : 'called a host function outside its hook, while the host lowered the hook\'s arguments into the module (cabi_realloc) or ran its post-return, which the component model forbids');
  }
}

/** The fault `e` (thrown by a guest call, after the meter's `explain`) stands for. */
export function faultOf(e: unknown): Fault {
  if (e instanceof TimeLimitExceeded) return { kind: 'timeout', message: e.message };
  if (e instanceof SandboxLimitExceeded) return { kind: 'limit', message: e.message };
  if (e instanceof RangeError) {
    // V8's words for its own stack and for a failed wasm allocation: the only
    // place the kind must be read from a message, since V8 gives both as RangeError.
    if (/call stack/i.test(e.message)) return { kind: 'stack-overflow', message: 'overflowed its stack (unbounded recursion)' };
    if (/memory|allocat|table/i.test(e.message)) return { kind: 'out-of-memory', message: e.message };
    // V8's words for a typed array or DataView access out of its buffer:
    // while a guest runs, the host indexes guest memory only at addresses
    // the guest gave it (its cabi_realloc's result, a result pointer), so
    // the address is the guest's fault, a trap as in wasmtime ("realloc
    // return: beyond end of memory", "pointer out of bounds").
    if (/out of bounds|outside the bounds|invalid typed array length/i.test(e.message)) {
      return { kind: 'trap', message: `trapped: gave the host an address outside its memory to write to (from its cabi_realloc or as a result pointer): ${e.message}` };
    }
  }
  // The canonical ABI's check of an enum value the guest gave (a hook's
  // status, an import's item, priority or prompt style), in jco's words,
  // which the fast path keeps: the guest's fault, a trap as in wasmtime.
  if (e instanceof TypeError && /^invalid discriminant specified for /.test(e.message)) {
    return { kind: 'trap', message: `trapped: gave the host a value out of its type's range: ${e.message}` };
  }
  if (e instanceof ReentrantHostCall) return { kind: 'trap', message: `trapped: ${e.message}` };
  if (e instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: `trapped: ${e.message}${trapSite(e)}` };
  return { kind: 'host', message: e instanceof Error ? e.message : String(e) };
}

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
